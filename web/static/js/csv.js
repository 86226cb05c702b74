// The CSV of a chart's table, for every chart the UI draws (an area's trend,
// before and after): one writer, so every download opens the same way in a
// spreadsheet or GIS tool. The first line is the header (no comment lines:
// GDAL and QGIS would not read the file as a table), and a value that is
// null or absent is an empty field, never 0: a step that was not published
// has no value, which 0 would contradict.
import { h } from './dom.js';

/** rows[0] is the header; null and undefined become empty fields. */
export function csvText(rows) {
  return `${rows.map((r) => r.map(csvField).join(',')).join('\n')}\n`;
}

/** A link that downloads rows as the CSV file named file. */
export function csvLink(rows, { file, id, className = '', text = 'Download this table (CSV)' }) {
  const url = URL.createObjectURL(new Blob([csvText(rows)], { type: 'text/csv' }));
  return h('a', { class: `btn btn-small ${className}`.trim(), id, href: url, download: file }, text);
}

function csvField(v) {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
