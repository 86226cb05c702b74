// Writes to stdout a practitioner's harm-locations CSV (the format of
// `ctxmap import harm-locations`) with two planted clusters near the map's
// default centre over the 36 months before this one: in the first, to the
// north-west, young people per month rise; in the second, to the south-east,
// they fall (each over a disc of 2.5 km radius, so several resolution 8
// cells of the Hackney boundary, when it is imported, take part). Spots
// around them get a few young people in some months. The
// demo data alone publishes too few cells for an emerging hot spot analysis
// to find anything, so scripts/browser-test.sh imports this and makes a
// release before the hot spot browser test runs. Deterministic (seeded).
// Usage: node plant-hotspots.mjs [lat,lon]
const [lat0, lon0] = (process.argv[2] || process.env.CTXMAP_CENTER || '51.545,-0.055').split(',').map(Number);
const category = process.env.CTXMAP_PLANT_CATEGORY || 'gangs';

let seed = 12;
function random() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const mPerDegLat = 111320;
const mPerDegLon = 111320 * Math.cos((lat0 * Math.PI) / 180);
/** A point dx, dy metres east and north of the centre. */
const at = (dx, dy) => [lat0 + dy / mPerDegLat, lon0 + dx / mPerDegLon];

const now = new Date();
const months = [];
for (let i = 36; i >= 1; i--) {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
  months.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
}

const rows = ['subject,categories,familial,layer,occurred,source,location_type,lat,lon'];
let n = 0;
function add([lat, lon], month) {
  n++;
  rows.push(`PLANT-HOT-${n},${category},extra,harm,${month},referral,park,${lat.toFixed(6)},${lon.toFixed(6)}`);
}
/** count young people scattered uniformly over a disc of radius r metres. */
function scatter([dx, dy], r, count, month) {
  for (let j = 0; j < count; j++) {
    const a = random() * 2 * Math.PI, d = r * Math.sqrt(random());
    add(at(dx + d * Math.cos(a), dy + d * Math.sin(a)), month);
  }
}

const rising = [-2200, 1800], falling = [2200, -1800];
const spots = [];
while (spots.length < 80) {
  const s = [(random() - 0.5) * 16000, (random() - 0.5) * 14000];
  const far = (c) => Math.hypot(s[0] - c[0], s[1] - c[1]) > 3000;
  if (far(rising) && far(falling)) spots.push(s);
}
months.forEach((month, i) => {
  scatter(rising, 2500, 150 + 6 * i, month);
  scatter(falling, 2500, 360 - 6 * i, month);
  for (const s of spots) if (random() < 1 / 2) scatter(s, 150, 12, month);
});
process.stdout.write(`${rows.join('\n')}\n`);
