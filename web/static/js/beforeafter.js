// Before and after: an area's published values for the months around a month
// of interest (a context's first intervention), from /api/v1/before-after.
// A small SVG bar chart with the month marked, and the same values as a table
// (the accessible equivalent) with a CSV of the table. A month with no published value is drawn as a
// dashed outline and says so, never as a zero bar; a month the release does
// not cover yet says that instead. The caveat and the release are the
// server's words.
import { h } from './dom.js';
import { monthLabel } from './heat.js';
import { chartFrame, niceCeil } from './trend.js';
import { csvLink } from './csv.js';

const phaseWords = { before: 'Before', month: 'Month of interest', after: 'After' };

/**
 * data: the /api/v1/before-after answer; title: the chart's name; csvId: the
 * id of the CSV link (the context panel and the area panel may both show one).
 */
export function renderBeforeAfter(data, { title, csvId }) {
  const pts = data.points.map((p) => ({
    month: p.month, phase: p.phase, offset: p.offset, released: p.released, value: p.value, cells: p.published_cells,
  }));
  const k = data.k;
  const shown = pts.filter((p) => p.value !== null);
  const yMax = niceCeil(Math.max(k, ...shown.map((p) => p.value)));
  const W = 340, H = 170, L = 34, R = 6, T = 12, B = 34;
  const cw = (W - L - R) / Math.max(pts.length, 1);
  const y = (v) => T + (H - T - B) * (1 - v / yMax);
  const idBase = `ba-${Math.random().toString(36).slice(2, 8)}`;
  const before = pts.filter((p) => p.phase === 'before' && p.value !== null).length;
  const after = pts.filter((p) => p.phase === 'after' && p.value !== null).length;
  const nBefore = pts.filter((p) => p.phase === 'before').length;
  const nAfter = pts.filter((p) => p.phase === 'after').length;
  const unreleased = pts.filter((p) => !p.released).length;
  const summary = `Around ${monthLabel(data.month)}: ${before} of ${nBefore} months before and ${after} of ${nAfter} months after have a published value`
    + (unreleased ? `; ${unreleased} ${unreleased === 1 ? 'month is' : 'months are'} not in the current release yet.` : '.');
  const mid = pts.findIndex((p) => p.phase === 'month');

  const svg = chartFrame({ idBase, title, summary, W, H, L, T, R, B, y, yMax },
    mid >= 0 ? h('line', { class: 'marker', x1: L + (mid + 0.5) * cw, y1: T - 8, x2: L + (mid + 0.5) * cw, y2: H - B }) : null,
    pts.map((p, i) => {
      const x = L + i * cw + cw * 0.15, w = Math.max(1, cw * 0.7);
      let bar;
      if (p.value !== null) {
        bar = h('rect', { class: 'bar', x, y: y(p.value), width: w, height: Math.max(0, H - B - y(p.value)) },
          h('title', { text: `${monthLabel(p.month)}: ${p.value}` }));
      } else {
        bar = h('rect', { class: p.released ? 'gap' : 'gap unreleased', x, y: H - B - 6, width: w, height: 6 },
          h('title', { text: `${monthLabel(p.month)}: ${p.released ? 'not published' : 'not released yet'}` }));
      }
      const label = (i % Math.max(1, Math.ceil(pts.length / 7)) === 0 || i === mid)
        ? h('text', { x: x + w / 2, y: H - B + 13, 'text-anchor': 'middle', text: shortMonth(p.month) })
        : null;
      return h('g', {}, bar, label);
    }),
    h('text', { x: L + (W - L - R) / 2, y: H - 4, 'text-anchor': 'middle', text: 'Month (the line marks the month of interest)' }),
  );

  const table = h('table', { class: 'data-table' },
    h('caption', { text: 'The same values by month' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Month' }),
      h('th', { scope: 'col', text: 'When' }),
      h('th', { scope: 'col', class: 'num', text: 'Young people' }),
      h('th', { scope: 'col', text: 'Published' }))),
    h('tbody', {}, pts.map((p) => h('tr', { dataset: { month: p.month } },
      h('th', { scope: 'row', text: monthLabel(p.month) }),
      h('td', { text: phaseWords[p.phase] || p.phase }),
      h('td', { class: 'num', text: p.value !== null ? String(p.value) : '\u2014' }),
      h('td', { text: p.value !== null ? `yes (${p.cells} ${p.cells === 1 ? 'hexagon' : 'hexagons'})` : p.released ? `no (fewer than ${k}, or none)` : 'not released yet' })))));
  const download = csvLink(beforeAfterRows(data, pts), {
    id: csvId, className: 'ba-csv', file: `ctxmap-before-after-release-${data.release}-${data.month}-${data.window}m.csv`,
  });

  return h('div', { class: 'trend before-after' },
    h('p', { class: 'note', text: summary }),
    svg,
    table,
    h('p', { class: 'actions' }, download),
    h('p', { class: 'note', text: `${data.caveat} The area is ${data.area.basis}. ${data.release_label}.` }));
}

/** The table's rows for its CSV, header first; an unpublished month's value is null (an empty field). */
function beforeAfterRows(data, pts) {
  const rows = [['month', 'label', 'phase', 'offset', 'released', 'value', 'published_cells', 'cells', 'res', 'layer', 'category', 'month_of_interest', 'release']];
  for (const p of pts) {
    rows.push([p.month, monthLabel(p.month), p.phase, p.offset, p.released, p.value, p.cells,
      data.area.cells.length, data.area.res, data.layer, data.category, data.month, data.release]);
  }
  return rows;
}

function shortMonth(m) {
  const x = /^(\d{4})-(\d{2})$/.exec(m);
  if (!x) return m;
  return `${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][Number(x[2]) - 1]} ${x[1].slice(2)}`;
}
