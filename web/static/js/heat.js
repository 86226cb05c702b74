// The heat layer's presentation: numeric bands in a colour-blind-safe
// sequential palette (viridis, light = fewer, dark = more, so it reads on a
// blank or OSM background), the legend that names each band in words and
// the disclosure note. Values are what the server
// published: distinct young people, thresholded, perturbed, rounded to 5.
import { h, fill } from './dom.js';

// Viridis, five steps, from its yellow end to its purple end.
export const palette = ['#fde725', '#5ec962', '#21918c', '#3b528b', '#440154'];

/** Band edges for threshold k (from /api/v1/config): [2k, 5k, 10k, 20k]. */
export function bandEdges(k) {
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

/**
 * A month the server wrote ("2025-03") as "Mar 2025". Only formatting: the
 * periods themselves, their labels and the trend's range come from
 * /api/v1/config, so the period grammar has one home, the server.
 */
export function monthLabel(code) {
  const [y, m] = String(code).split('-');
  return `${monthNames[Number(m) - 1]} ${y}`;
}
