// The context lead's and the practitioner's workspace (workspace.html): a
// list of context records found by name and filtered by kind, status,
// location type, review state and partner agency, with the review date in
// every row; the record itself (the same panel as on the map); opening a
// record, with near-duplicates offered first; and the notifications grouped
// by record. Everything comes from the API: the filters' lists from the
// taxonomy, what the role is offered from the session.
import { get, setCsrfToken, withQuery, ApiError } from './api.js';
import { $, $$, h, fill, announce, showError, formatDate, formatTime } from './dom.js';
import { normaliseTaxonomy, labelOf } from './taxonomy.js';
import { ContextPanel, nameOf } from './contextpanel.js';
import { OpenContext } from './opencontext.js';
import { Notifications } from './notifications.js';
import { setupDialog } from './dialog.js';

const roleNames = { practitioner: 'practitioner', context_lead: 'context lead', analyst: 'analyst', admin: 'administrator' };

/** The part of the map page's App that the record panel and forms use, without a map. */
class Workspace {
  constructor(session, taxonomy) {
    this.user = session.user;
    // The workspace has no form to record a young person's location: that is the map's.
    this.capabilities = session.capabilities.filter((c) => c !== 'record');
    this.taxonomy = normaliseTaxonomy(taxonomy);
    this.map = null;
  }

  can(cap) { return this.capabilities.includes(cap); }

  /** The open record lives in the URL (?context=ID), so a link opens it. */
  setView({ context }) {
    if (context === undefined) return;
    const u = new URL(location.href);
    if (context) u.searchParams.set('context', context); else u.searchParams.delete('context');
    history.replaceState(null, '', u);
  }

  highlightContext(id) {
    for (const tr of $$('#ws-table tbody tr')) tr.classList.toggle('selected', tr.dataset.contextId === String(id));
  }

  refreshContexts() { this.list(); }

  openContext(c) { this.detail.open(c.id); }

  flyToContext(c) { location.href = `/#context=${encodeURIComponent(c.id)}`; }

  start() {
    const tax = this.taxonomy;
    const add = (sel, list) => $(sel).append(...list.map((t) => h('option', { value: t.code, text: t.label })));
    add('#ws-kind', tax.kinds);
    add('#ws-location-type', tax.locationTypes);
    add('#ws-agency', tax.partnerAgencies);
    const params = new URLSearchParams(location.search);
    for (const [k, sel] of Object.entries(filterFields)) {
      const v = params.get(k);
      if (v !== null && $(`${sel} option[value="${CSS.escape(v)}"]`, document) !== null) $(sel).value = v;
      else if (v !== null && sel === '#ws-q') $(sel).value = v;
    }
    $('#ws-filters').addEventListener('submit', (e) => { e.preventDefault(); this.list({ announceIt: true }); });
    $('#ws-filters').addEventListener('reset', () => setTimeout(() => this.list({ announceIt: true }), 0));
    for (const sel of ['#ws-kind', '#ws-status', '#ws-location-type', '#ws-review', '#ws-agency']) {
      $(sel).addEventListener('change', () => this.list({ announceIt: true }));
    }
    this.detail = new ContextPanel(this);
    if (this.can('manage')) this.openContextForm = new OpenContext(this);
    if (this.can('link')) this.notifications = new Notifications(this);
    this.list();
    const id = params.get('context');
    if (/^\d+$/.test(id || '')) this.detail.open(id, { focus: false });
  }

  filters() {
    const out = {};
    for (const [k, sel] of Object.entries(filterFields)) out[k] = $(sel).value.trim();
    return out;
  }

  /** Ask the server for the list the filters describe and show it. */
  async list({ announceIt = false } = {}) {
    const f = this.filters();
    const u = new URL(location.href);
    for (const [k, v] of Object.entries(f)) if (v && !(k === 'status' && v === 'open')) u.searchParams.set(k, v); else u.searchParams.delete(k);
    history.replaceState(null, '', u);
    const body = $('#ws-table tbody');
    // Filters change faster than answers come: only the latest answer is shown.
    const seq = (this.seq = (this.seq || 0) + 1);
    let data;
    try {
      data = await get(withQuery('/api/v1/contexts', f));
    } catch (e) {
      if (seq !== this.seq) return;
      fill(body);
      showError($('#ws-summary'), e.message);
      return;
    }
    if (seq !== this.seq) return;
    const rows = data.contexts;
    const tax = this.taxonomy;
    fill(body, rows.map((c) => h('tr', { dataset: { contextId: String(c.id) }, class: c.review ? `review-${c.review}` : null },
      h('th', { scope: 'row' }, h('button', {
        type: 'button', class: 'link-btn', onclick: (e) => { this.detail.returnFocus = e.currentTarget; this.detail.open(c.id); },
      }, nameOf(c))),
      h('td', { 'data-label': 'Kind', text: c.location_type ? labelOf(tax.locationTypes, c.location_type) : labelOf(tax.kinds, c.kind) }),
      h('td', { 'data-label': 'Status' }, h('span', { class: `status-badge status-${c.status}`, text: c.status === 'closed' ? 'Closed' : 'Open' })),
      h('td', { 'data-label': 'Review date' }, c.review_date ? formatDate(c.review_date) : h('span', { class: 'note', text: 'None set' }),
        c.review ? h('span', { class: `review-badge review-${c.review}`, text: c.review === 'overdue' ? ' Overdue' : ' Due soon' }) : null),
      h('td', { class: 'num', 'data-label': 'Open interventions', text: String(c.open_interventions) }),
      h('td', { 'data-label': 'Team', text: c.team }),
      h('td', { 'data-label': 'Last change', text: formatTime(c.updated_at) }))));
    const what = describeFilters(f, tax);
    const msg = rows.length
      ? `${rows.length} context ${rows.length === 1 ? 'record' : 'records'}${what}${rows.length >= 100 ? ' (the first 100: narrow the search)' : ''}.`
      : `No context records${what}.`;
    showError($('#ws-summary'), '');
    $('#ws-summary').hidden = false;
    $('#ws-summary').textContent = msg;
    if (this.detail.id) this.highlightContext(this.detail.id);
    if (announceIt) announce(msg);
  }
}

// The query parameters of GET /api/v1/contexts and the inputs that set them.
const filterFields = {
  q: '#ws-q', kind: '#ws-kind', status: '#ws-status', location_type: '#ws-location-type',
  review: '#ws-review', partner_agency: '#ws-agency',
};

function describeFilters(f, tax) {
  const parts = [];
  if (f.q) parts.push(`matching "${f.q}"`);
  if (f.status && f.status !== 'all') parts.push(f.status);
  if (f.kind) parts.push(`of kind ${labelOf(tax.kinds, f.kind).toLowerCase()}`);
  if (f.location_type) parts.push(labelOf(tax.locationTypes, f.location_type).toLowerCase());
  if (f.review) parts.push(f.review === 'overdue' ? 'with the review overdue' : 'with a review due within 4 weeks');
  if (f.partner_agency) parts.push(`with an intervention by ${labelOf(tax.partnerAgencies, f.partner_agency)}`);
  return parts.length ? `, ${parts.join(', ')}` : '';
}

async function boot() {
  setupDialog();
  let session;
  try {
    session = await get('/api/v1/me', { quiet401: true });
  } catch (e) {
    const box = $('#ws-error');
    if (e instanceof ApiError && e.status === 401) {
      fill(box, 'Sign in on the map first, then come back to the context records. ', h('a', { href: '/', text: 'Go to the map' }));
      box.hidden = false;
    } else showError(box, e.message);
    return;
  }
  setCsrfToken(session.csrf_token);
  const ws = new Workspace(session, await get('/api/v1/taxonomy'));
  window.ctxmapWorkspace = ws;
  const u = session.user;
  $('#whoami-text').textContent = `${u.name} (${roleNames[u.role] || u.role}${u.team ? `, ${u.team}` : ''})`;
  $('#whoami').hidden = false;
  for (const el of $$('[data-can]')) el.hidden = !el.dataset.can.split(/\s+/).some((c) => ws.can(c));
  $('#ws-main').hidden = false;
  ws.start();
  announce(`Signed in as ${u.name}. The context records are listed.`);
}

boot();
