// The reports page's rates of young people's records (issue 13): how many
// young people the partnership marked with extra-familial referrals and
// outcomes, relocated, and had contextual factors with plan actions, per month
// or quarter, as the current data release published them (GET
// /api/v1/record-rates; never counted live). The measures, their labels and
// parents come from the answer; a value the release suppressed is shown as
// "—" (fewer than k young people, or none), never 0. A share is the child's
// published value as a percentage of its parent's, as the server gives it.
// Each read is audit-logged by the server, so the rates load when asked. The
// table downloads as CSV (csv.js: header first, an absent value an empty
// field, never 0).
import { get } from './api.js';
import { $, h, fill, showError, announce, formatDate } from './dom.js';
import { csvLink } from './csv.js';

/** The table as CSV rows: a period's columns, then each measure's value and share (empty when absent). */
export function recordRateRows(r) {
  const head = ['period', 'first', 'last', 'months'];
  for (const d of r.measures) head.push(d.name, `${d.name}_share`);
  head.push('release');
  return [head, ...r.points.map((p) => [p.period, p.first, p.last, p.months,
    ...p.measures.flatMap((m) => [m.value, m.share]), r.release])];
}

async function show() {
  const out = $('#record-rates-output');
  const err = $('#record-rates-error');
  showError(err, '');
  let r;
  try {
    r = await get(`/api/v1/record-rates?step=${encodeURIComponent($('#record-rates-step').value)}`);
  } catch (e) {
    fill(out);
    showError(err, e.message);
    return;
  }
  const label = (p) => (p.months === 1 && p.first === p.last ? formatDate(p.first) : `${p.period} (${formatDate(p.first)} to ${formatDate(p.last)})`);
  const cell = (m) => {
    if (m.value === null) return '—';
    return m.share === null ? String(m.value) : `${m.value} (${m.share}%)`;
  };
  fill(out,
    h('p', { class: 'note', id: 'record-rates-release', text: `${r.release_label}. ${r.caveat} Counted: ${r.unit}. A percentage is of the measure above it.` }),
    h('div', { class: 'table-scroll' },
      h('table', { class: 'data-table', id: 'record-rates-table' },
        h('caption', { class: 'visually-hidden', text: 'Rates of markers, relocations and plans' }),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: r.step === 'quarter' ? 'Quarter' : 'Month' }),
          r.measures.map((d) => h('th', { scope: 'col', class: 'num', dataset: { key: d.name }, title: d.label, text: d.label })))),
        h('tbody', {}, r.points.map((p) => h('tr', { dataset: { period: p.period } },
          h('th', { scope: 'row', text: label(p) }),
          p.measures.map((m) => h('td', { class: 'num', dataset: { key: m.measure }, text: cell(m) }))))))),
    h('p', { class: 'actions no-print' }, csvLink(recordRateRows(r), { id: 'record-rates-csv', file: `ctxmap-record-rates-release-${r.release}-${r.step}.csv` })));
  announce(`Rates of ${r.points.length} ${r.step === 'quarter' ? 'quarters' : 'months'} from ${r.release_label}.`);
}

function boot() {
  const form = $('#record-rates-form');
  if (!form) return;
  form.addEventListener('submit', (e) => { e.preventDefault(); show(); });
}

boot();
