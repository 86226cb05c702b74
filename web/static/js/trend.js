// An area's trend of *published* values, by month or quarter: a small SVG
// bar chart, the same numbers as a table (the accessible equivalent; the
// chart is labelled and described for screen readers too) and a CSV of the
// table. Steps that were not published (under the threshold, or no data:
// the two look the same) carry no value: they are drawn as dashed outlines,
// never as zero bars, and say so in the table and the CSV (an empty value).
// Labels come from the server ("Apr 2025", "Q2 2025"), so April and August
// never share a letter.
import { h } from './dom.js';
import { csvLink } from './csv.js';

/**
 * trend: the /api/v1/trends answer; title: the heading; what: extra CSV
 * columns describing the filters ({layer, category}).
 */
export function renderTrend({ trend, title, what }) {
  const { k, step } = trend;
  const pts = trend.points.map((p) => ({
    period: p.period, label: p.label, first: p.first_month, last: p.last_month, value: p.value, cells: p.published_cells,
  }));
  const n = trend.area.cells.length;
  const stepWord = step === 'quarter' ? 'quarter' : 'month';
  const published = pts.filter((p) => p.value !== null);
  const max = Math.max(k, ...published.map((p) => p.value));
  const yMax = niceCeil(max);
  const W = 340, H = 180, L = 34, R = 8, T = 10, B = 44;
  const cw = (W - L - R) / Math.max(pts.length, 1);
  const y = (v) => T + (H - T - B) * (1 - v / yMax);
  const idBase = `trend-${Math.random().toString(36).slice(2, 8)}`;
  const last = published[published.length - 1];
  const summary = published.length
    ? `${published.length} of ${pts.length} ${stepWord}s published; highest ${Math.max(...published.map((p) => p.value))}, latest published ${last.value} in ${last.label}.`
    : `No ${stepWord} in this range was published for this area.`;
  const partly = n > 1 ? ' Where only some hexagons were published, the value is the sum of those published (the table says how many); the others are unknown, not zero.' : '';
  // At most about five axis labels, always the last: "Apr 2025" is wide.
  const every = Math.max(1, Math.ceil(pts.length / 5));

  const svg = chartFrame({ idBase, title, summary, W, H, L, T, R, B, y, yMax },
    pts.map((p, i) => {
      const x = L + i * cw + cw * 0.15, w = Math.max(1, cw * 0.7);
      const bar = p.value !== null
        ? h('rect', { class: 'bar', x, y: y(p.value), width: w, height: Math.max(0, H - B - y(p.value)) },
          h('title', { text: `${p.label}: ${p.value}` }))
        : h('rect', { class: 'gap', x, y: H - B - 6, width: w, height: 6 },
          h('title', { text: `${p.label}: not published` }));
      const show = (pts.length - 1 - i) % every === 0;
      const label = show ? h('text', { class: 'tick', x: x + w / 2, y: H - B + 13, 'text-anchor': 'middle', text: tickLabel(p) }) : null;
      return h('g', {}, bar, label);
    }),
    h('text', { x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle', text: step === 'quarter' ? 'Quarter' : 'Month' }),
  );

  const head = step === 'quarter' ? 'Quarter' : 'Month';
  const table = h('table', { class: 'data-table', id: 'trend-table' },
    h('caption', { text: `The same values by ${stepWord}` }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: head }),
      h('th', { scope: 'col', class: 'num', text: 'Young people' }),
      h('th', { scope: 'col', text: 'Published' }))),
    h('tbody', {}, pts.map((p) => h('tr', {},
      h('th', { scope: 'row', text: p.label }),
      h('td', { class: 'num', text: p.value !== null ? String(p.value) : '\u2014' }),
      h('td', { text: published_(p, n, k) })))));

  const download = csvLink(trendRows(trend, pts, what), { id: 'trend-csv', file: `ctxmap-trend-release-${trend.release}-${step}.csv` });

  return h('div', { class: 'trend' },
    h('h3', { text: title }),
    h('p', { class: 'note', id: 'trend-summary', text: summary + partly }),
    svg,
    table,
    h('p', { class: 'actions' }, download));
}

function published_(p, n, k) {
  if (p.value === null) return `no (fewer than ${k}, or none)`;
  return n > 1 ? `${p.cells} of ${n} hexagons` : 'yes';
}

/** "Apr 2025" for months, "Q2 2025" for quarters (without the "only" note). */
function tickLabel(p) { return p.label.replace(/ \(.*\)$/, ''); }

/** The table's rows for its CSV, header first; a null value stays null (an empty field). */
function trendRows(trend, pts, what = {}) {
  const rows = [['period', 'label', 'first_month', 'last_month', 'value', 'published_cells', 'cells', 'area', 'res', 'layer', 'category', 'release']];
  const area = trend.area.kind === 'ward' ? `ward ${trend.area.ward.name}` : 'hexagons';
  for (const p of pts) {
    rows.push([p.period, p.label, p.first, p.last, p.value, p.cells,
      trend.area.cells.length, area, trend.area.res, what.layer || '', what.category || 'all', trend.release]);
  }
  return rows;
}

/**
 * The frame every bar chart shares: an accessible SVG (its title and a
 * description in words), both axes and three value ticks, around content.
 */
export function chartFrame({ idBase, title, summary, W, H, L, T, R, B, y, yMax }, ...content) {
  return h('svg', { class: 'trend-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${idBase}-t ${idBase}-d` },
    h('title', { id: `${idBase}-t`, text: title }),
    h('desc', { id: `${idBase}-d`, text: summary }),
    h('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }),
    h('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    [0, yMax / 2, yMax].map((v) => h('g', {},
      h('line', { class: 'axis', x1: L - 3, y1: y(v), x2: L, y2: y(v) }),
      h('text', { x: L - 5, y: y(v) + 3, 'text-anchor': 'end', text: String(v) }))),
    ...content);
}

export function niceCeil(v) {
  if (v <= 10) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
