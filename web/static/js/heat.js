// The heat layer's presentation: numeric bands in a colour-blind-safe
// sequential palette (viridis, light = fewer, dark = more, so it reads on a
// blank or OSM background), the legend that names each band in words, the
// period presets and the disclosure note. Values are what the server
// published: distinct young people, thresholded, perturbed, rounded to 5.
import { h, fill } from './dom.js';

// Viridis, five steps, from its yellow end to its purple end.
export const palette = ['#fde725', '#5ec962', '#21918c', '#3b528b', '#440154'];

/** Band edges for threshold k: [2k, 5k, 10k, 20k]. */
export function bandEdges(k) {
  k = Number(k) > 0 ? Number(k) : 10;
  return [2 * k, 5 * k, 10 * k, 20 * k];
}

export function bands(k) {
  const e = bandEdges(k);
  return [
    { from: 0, to: e[0] - 1, label: `fewer than ${e[0]}` },
    { from: e[0], to: e[1] - 1, label: `${e[0]} to ${e[1] - 1}` },
    { from: e[1], to: e[2] - 1, label: `${e[1]} to ${e[2] - 1}` },
    { from: e[2], to: e[3] - 1, label: `${e[2]} to ${e[3] - 1}` },
    { from: e[3], to: Infinity, label: `${e[3]} or more` },
  ].map((b, i) => ({ ...b, colour: palette[i], index: i + 1 }));
}

export function bandOf(value, k) {
  const v = Number(value);
  return bands(k).find((b) => v >= b.from && v <= b.to) || bands(k)[0];
}

/** The MapLibre fill-color expression for the bands. */
export function fillColour(k) {
  const e = bandEdges(k);
  return ['step', ['to-number', ['get', 'value'], 0], palette[0], e[0], palette[1], e[1], palette[2], e[2], palette[3], e[3], palette[4]];
}

export function renderLegend(el, k) {
  fill(el, bands(k).map((b) => h('li', {},
    h('span', { class: 'swatch', style: `background:${b.colour}`, 'aria-hidden': 'true' }),
    h('span', {}, `Band ${b.index}: ${b.label} young people`))));
}

export function disclosureNote(k) {
  return `Values count distinct young people, not incidents. Each value is slightly perturbed and rounded to the nearest 5; `
    + `hexagons with fewer than ${k} young people are hidden and look the same as hexagons with none. `
    + `Only whole months are shown and no individual location is ever drawn.`;
}

const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function monthLabel(y, m) { return `${monthNames[m]} ${y}`; }
function pad(n) { return String(n).padStart(2, '0'); }

/** The last complete month before now, as {y, m} with m 0-based. */
export function lastCompleteMonth(now = new Date()) {
  let y = now.getUTCFullYear(), m = now.getUTCMonth() - 1;
  if (m < 0) { m = 11; y -= 1; }
  return { y, m };
}

export function addMonths({ y, m }, n) {
  const i = y * 12 + m + n;
  return { y: Math.floor(i / 12), m: ((i % 12) + 12) % 12 };
}

export const monthCode = ({ y, m }) => `${y}-${pad(m + 1)}`;

/**
 * Period presets: rolling windows, then the last complete quarters, years
 * and months. The server resolves and checks them (PRIVACY.md rule 4); a
 * list from /api/v1/config replaces these when it is given.
 */
export function periodPresets(configPeriods, now = new Date()) {
  if (Array.isArray(configPeriods) && configPeriods.length) {
    return configPeriods.map((p) => (typeof p === 'string'
      ? { value: p, label: describePeriod(p) }
      : { value: String(p.value ?? p.code ?? p.period), label: String(p.label ?? describePeriod(p.value ?? p.code ?? p.period)) }));
  }
  const last = lastCompleteMonth(now);
  const out = [
    { value: 'last-3m', label: 'Last 3 complete months' },
    { value: 'last-6m', label: 'Last 6 complete months' },
    { value: 'last-12m', label: 'Last 12 complete months' },
  ];
  // Complete quarters: the quarter containing `last` is complete only if last is its final month.
  let q = { y: last.y, q: Math.floor(last.m / 3) };
  if (last.m % 3 !== 2) q = q.q === 0 ? { y: q.y - 1, q: 3 } : { y: q.y, q: q.q - 1 };
  for (let i = 0; i < 4; i++) {
    out.push({ value: `${q.y}-Q${q.q + 1}`, label: describePeriod(`${q.y}-Q${q.q + 1}`) });
    q = q.q === 0 ? { y: q.y - 1, q: 3 } : { y: q.y, q: q.q - 1 };
  }
  const lastYear = last.m === 11 ? last.y : last.y - 1;
  for (let y = lastYear; y > lastYear - 2; y--) out.push({ value: String(y), label: `Year ${y}` });
  for (let i = 0; i < 3; i++) {
    const mm = addMonths(last, -i);
    out.push({ value: monthCode(mm), label: monthLabel(mm.y, mm.m) });
  }
  return out;
}

export function describePeriod(p) {
  p = String(p);
  let m;
  if ((m = /^last-(\d+)m$/.exec(p))) return `Last ${m[1]} complete months`;
  if ((m = /^(\d{4})-Q([1-4])$/.exec(p))) {
    const s = (Number(m[2]) - 1) * 3;
    return `${m[1]} Q${m[2]} (${monthNames[s]} to ${monthNames[s + 2]})`;
  }
  if ((m = /^(\d{4})-(\d{2})$/.exec(p))) return monthLabel(Number(m[1]), Number(m[2]) - 1);
  if (/^\d{4}$/.test(p)) return `Year ${p}`;
  return p;
}

/** H3 resolution the server uses at a zoom (PRIVACY.md rule 3). */
export function resForZoom(z) {
  z = Math.floor(z);
  return z < 10 ? 6 : z < 12 ? 7 : 8;
}
