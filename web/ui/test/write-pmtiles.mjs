// Writes a small PMTiles v3 archive for the browser test of the local
// basemap, byte by byte from the specification, with no library: for every
// zoom 0..maxZoom the tile that holds the given point, a gzipped MVT whose
// layer "water" is one polygon covering the tile.
// Usage: node write-pmtiles.mjs OUT.pmtiles [lon lat maxZoom]
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const varint = (n) => { const out = []; while (n > 127) { out.push((n % 128) | 128); n = Math.floor(n / 128); } out.push(n); return out; };
const field = (num, wire) => varint(num * 8 + wire);
const bytes = (num, b) => [...field(num, 2), ...varint(b.length), ...b];
const text = (s) => [...Buffer.from(s, 'utf8')];
const zigzag = (n) => (n << 1) ^ (n >> 31);

/** One MVT tile: layer "water", one polygon over the whole extent, name "Test water". */
function waterTile() {
  const e = 4096;
  const geom = [9, zigzag(0), zigzag(0), 26, zigzag(e), zigzag(0), zigzag(0), zigzag(e), zigzag(-e), zigzag(0), 15];
  const feature = [...field(1, 0), 1, ...bytes(2, [0, 0]), ...field(3, 0), 3, ...bytes(4, geom.flatMap(varint))];
  const value = bytes(1, text('Test water'));
  const layer = [...field(15, 0), 2, ...bytes(1, text('water')), ...bytes(2, feature), ...bytes(3, text('name')), ...bytes(4, value), ...field(5, 0), ...varint(e)];
  return Buffer.from(bytes(3, layer));
}

/** The Hilbert tile id PMTiles v3 addresses tiles by. */
export function tileId(z, x, y) {
  let acc = 0;
  for (let t = 0; t < z; t++) acc += 4 ** t;
  const n = 2 ** z;
  let d = 0;
  for (let s = n / 2; s >= 1; s /= 2) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) { x = s - 1 - x; y = s - 1 - y; }
      [x, y] = [y, x];
    }
  }
  return acc + d;
}

function tileAt(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return [x, y];
}

export function writePMTiles(path, lon = -0.055, lat = 51.545, maxZoom = 14) {
  const tiles = [];
  const data = gzipSync(waterTile());
  for (let z = 0; z <= maxZoom; z++) {
    const [x, y] = tileAt(lon, lat, z);
    tiles.push({ id: tileId(z, x, y) });
  }
  tiles.sort((a, b) => a.id - b.id);
  // Every entry points at the same bytes (a deduplicated archive).
  const dir = [...varint(tiles.length)];
  let last = 0;
  for (const t of tiles) { dir.push(...varint(t.id - last)); last = t.id; }
  for (let i = 0; i < tiles.length; i++) dir.push(1); // run lengths
  for (let i = 0; i < tiles.length; i++) dir.push(...varint(data.length));
  for (let i = 0; i < tiles.length; i++) dir.push(...varint(1)); // offset 0, written + 1
  const root = Buffer.from(dir);
  const meta = Buffer.from(JSON.stringify({ name: 'browser-test', attribution: 'Test basemap written by the browser test', vector_layers: [{ id: 'water', fields: { name: 'String' } }] }));
  const h = Buffer.alloc(127);
  h.write('PMTiles', 0, 'latin1');
  h.writeUInt8(3, 7);
  const u64 = [127, root.length, 127 + root.length, meta.length, 127 + root.length + meta.length, 0,
    127 + root.length + meta.length, data.length, tiles.length, tiles.length, 1];
  u64.forEach((v, i) => h.writeBigUInt64LE(BigInt(v), 8 + i * 8));
  // clustered, internal compression none (1), tile compression gzip (2), type MVT (1), zooms
  [0, 1, 2, 1, 0, maxZoom].forEach((v, i) => h.writeUInt8(v, 96 + i));
  [-180e7, -85e7, 180e7, 85e7].forEach((v, i) => h.writeInt32LE(v, 102 + i * 4));
  h.writeUInt8(maxZoom, 118);
  h.writeInt32LE(Math.round(lon * 1e7), 119);
  h.writeInt32LE(Math.round(lat * 1e7), 123);
  writeFileSync(path, Buffer.concat([h, root, meta, data]));
}

if (process.argv[1] && process.argv[1].endsWith('write-pmtiles.mjs')) {
  const [out, lon, lat, z] = process.argv.slice(2);
  writePMTiles(out, lon ? Number(lon) : undefined, lat ? Number(lat) : undefined, z ? Number(z) : undefined);
}
