// A hexagon's monthly trend of *published* values: a small SVG bar chart and
// the same numbers as a table (the table is the accessible equivalent; the
// chart is labelled and described for screen readers too). Months that were
// not published (under the threshold, or no data: the two look the same)
// are drawn as dashed outlines, never as zero bars, and say so in the table.
import { h } from './dom.js';
import { monthLabel } from './heat.js';

export function renderTrend({ points, title, k }) {
  const pts = points.map((p) => ({ month: p.month, value: p.value, published: p.published }));
  const published = pts.filter((p) => p.published);
  const max = Math.max(k, ...published.map((p) => p.value));
  const yMax = niceCeil(max);
  const W = 340, H = 170, L = 34, R = 6, T = 10, B = 34;
  const cw = (W - L - R) / Math.max(pts.length, 1);
  const y = (v) => T + (H - T - B) * (1 - v / yMax);
  const idBase = `trend-${Math.random().toString(36).slice(2, 8)}`;
  const summary = published.length
    ? `${published.length} of ${pts.length} months published; highest ${Math.max(...published.map((p) => p.value))}, latest published ${published[published.length - 1].value} in ${monthLabel(published[published.length - 1].month)}.`
    : `No month in this range was published for this hexagon.`;

  const svg = h('svg', { class: 'trend-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${idBase}-t ${idBase}-d` },
    h('title', { id: `${idBase}-t`, text: title }),
    h('desc', { id: `${idBase}-d`, text: summary }),
    h('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }),
    h('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    [0, yMax / 2, yMax].map((v) => h('g', {},
      h('line', { class: 'axis', x1: L - 3, y1: y(v), x2: L, y2: y(v) }),
      h('text', { x: L - 5, y: y(v) + 3, 'text-anchor': 'end', text: String(v) }))),
    pts.map((p, i) => {
      const x = L + i * cw + cw * 0.15, w = Math.max(1, cw * 0.7);
      const bar = p.published
        ? h('rect', { class: 'bar', x, y: y(p.value), width: w, height: Math.max(0, H - B - y(p.value)) },
          h('title', { text: `${monthLabel(p.month)}: ${p.value}` }))
        : h('rect', { class: 'gap', x, y: H - B - 6, width: w, height: 6 },
          h('title', { text: `${monthLabel(p.month)}: not published` }));
      const label = (i % Math.max(1, Math.ceil(pts.length / 6)) === 0 || i === pts.length - 1)
        ? h('text', { x: x + w / 2, y: H - B + 13, 'text-anchor': 'middle', text: shortMonth(p.month) })
        : null;
      return h('g', {}, bar, label);
    }),
    h('text', { x: L + (W - L - R) / 2, y: H - 4, 'text-anchor': 'middle', text: 'Month' }),
  );

  const table = h('table', { class: 'data-table' },
    h('caption', { text: 'The same values by month' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Month' }),
      h('th', { scope: 'col', class: 'num', text: 'Young people' }),
      h('th', { scope: 'col', text: 'Published' }))),
    h('tbody', {}, pts.map((p) => h('tr', {},
      h('th', { scope: 'row', text: monthLabel(p.month) }),
      h('td', { class: 'num', text: p.published ? String(p.value) : '\u2014' }),
      h('td', { text: p.published ? 'yes' : `no (fewer than ${k}, or none)` })))));

  return h('div', { class: 'trend' },
    h('h3', { text: title }),
    h('p', { class: 'note', text: summary }),
    svg,
    table);
}

export function niceCeil(v) {
  if (v <= 10) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortMonth(m) {
  const x = /^(\d{4})-(\d{2})$/.exec(m);
  if (!x) return m;
  return `${['J', 'F', 'M', 'A', 'M', 'J', 'J', 'A', 'S', 'O', 'N', 'D'][Number(x[2]) - 1]} ${x[1].slice(2)}`;
}
