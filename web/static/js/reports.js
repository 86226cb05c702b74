// The reports page (reports.html): the reports for commissioning as tables,
// to read, print and download as CSV. Everything it offers comes from the
// server: the reports, their parameters, their window, their columns and the
// labels of every code (GET /api/v1/reports); the page holds no list of its
// own. Each report read is audit-logged by the server.
import { get, ApiError } from './api.js';
import { $, h, fill, showError, announce, formatDate } from './dom.js';
import { countWords } from './contextpanel.js';

let catalogue = null;

async function boot() {
  let me;
  try {
    me = await get('/api/v1/me', { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signInFirst();
    return showError($('#reports-error'), e.message);
  }
  if (!me.capabilities.includes('reports')) {
    return showError($('#reports-error'), 'Your role is not offered the reports for commissioning.');
  }
  try {
    catalogue = await get('/api/v1/reports');
  } catch (e) {
    return showError($('#reports-error'), e.message);
  }
  const select = $('#report-name');
  fill(select, catalogue.reports.map((r) => h('option', { value: r.name, text: r.title })));
  const want = new URLSearchParams(location.search).get('report');
  if (want && catalogue.reports.some((r) => r.name === want)) select.value = want;
  select.addEventListener('change', () => { setupFields(); show(); });
  $('#report-form').addEventListener('submit', (e) => { e.preventDefault(); show(); });
  $('#report-print').addEventListener('click', () => window.print());
  for (const id of ['#report-from', '#report-to', '#report-due']) $(id).addEventListener('change', updateCSV);
  const w = catalogue.window;
  $('#report-from').value = w.default_from;
  $('#report-to').value = w.default_to;
  for (const id of ['#report-from', '#report-to']) { $(id).min = w.earliest; $(id).max = w.latest; }
  $('#report-window').textContent = `Whole months from ${formatDate(w.earliest)} to ${formatDate(w.latest)}, at most ${w.max_months} at a time.`;
  $('#report-due').value = String(w.due_within_default);
  $('#report-due').max = String(w.due_within_max);
  $('#report-form').hidden = false;
  setupFields();
  await show();
}

function signInFirst() {
  const box = $('#reports-error');
  fill(box, 'Sign in on the map first, then come back to the reports. ', h('a', { href: '/', text: 'Go to the map' }));
  box.hidden = false;
}

function spec() { return catalogue.reports.find((r) => r.name === $('#report-name').value); }

/** Show the inputs the chosen report takes. */
function setupFields() {
  const s = spec();
  $('#report-description').textContent = s.description;
  for (const id of ['#field-from', '#field-to', '#report-window']) $(id).hidden = !s.monthly;
  $('#field-due').hidden = !s.params.includes('due_within');
  $('#report-by').hidden = s.groupings.length === 0;
  fill($('#report-by-choices'), s.groupings.map((g) => h('label', { class: 'choice' },
    h('input', { type: 'checkbox', name: 'by', value: g.key, checked: true, onchange: updateCSV }), ` ${g.label}`)));
  updateCSV();
}

/** The query of the chosen report, as the form says. */
function query(s) {
  const q = new URLSearchParams();
  if (s.monthly) {
    q.set('from', $('#report-from').value);
    q.set('to', $('#report-to').value);
  }
  if (s.params.includes('by')) {
    q.set('by', [...document.querySelectorAll('#report-by-choices input:checked')].map((i) => i.value).join(','));
  }
  if (s.params.includes('due_within')) q.set('due_within', $('#report-due').value);
  return q;
}

function updateCSV() {
  const s = spec();
  const q = query(s);
  q.set('format', 'csv');
  $('#report-csv').href = `/api/v1/reports/${s.name}?${q}`;
}

async function show() {
  const s = spec();
  updateCSV();
  const out = $('#report-output');
  showError($('#reports-error'), '');
  try {
    const r = await get(`/api/v1/reports/${s.name}?${query(s)}`);
    render(out, r);
    announce(`${r.title}: ${r.rows.length} ${r.rows.length === 1 ? 'row' : 'rows'}.`);
  } catch (e) {
    fill(out);
    showError($('#reports-error'), e.message);
  }
}

function render(out, r) {
  const when = r.from ? `${formatDate(r.from)} to ${formatDate(r.to)}, made on ${formatDate(r.as_of)}` : `As of ${formatDate(r.as_of)}`;
  fill(out,
    h('h2', { text: r.title }),
    h('p', { class: 'note', text: `${when}. Young people linked to a context are shown as "fewer than ${r.k}" below ${r.k}; a total is "at least" when a team's count is hidden.` }),
    h('h3', { text: 'Summary' }),
    table(r.summary_columns, r.summary, 'report-summary', 'Summary'),
    h('h3', { text: 'Detail' }),
    r.rows.length ? table(r.columns, r.rows, 'report-table', r.title) : h('p', { class: 'note', text: 'Nothing to report for this choice.' }));
}

function table(columns, rows, id, caption) {
  const numeric = (c) => ['count', 'days', 'id', 'link_count'].includes(c.type);
  // A table wider than a phone scrolls inside its box (by keyboard too), not the page.
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: 'data-table', id },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: numeric(c) ? 'num' : null, dataset: { key: c.key }, text: c.label })))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: numeric(c) ? 'num' : null, text: cell(c, row[c.key]) })))))));
}

/** A value as people read it, by the column's type. */
function cell(c, v) {
  if (v === undefined || v === null || v === '') return c.type === 'count' ? '0' : '—';
  switch (c.type) {
    case 'code': {
      const t = (catalogue.vocab[c.key] || []).find((x) => x.code === v);
      return t ? t.label : v;
    }
    case 'month': case 'date': return formatDate(v);
    case 'link_count': return countWords(v);
    case 'text': return Array.isArray(v) ? v.join(', ') : String(v);
    default: return String(v);
  }
}

boot();
