// The administration page (admin.html): the data protection officer's and
// the admin's screens (issue 13). Audit search with filters, paging and a
// CSV download; users (add, reset, disable; a new password and token shown
// once); the harm categories (add, retire); context records past their review
// date (for context leads too); retention (the policy, what is due, the runs).
// Every list it offers comes from the server: roles, purposes and actions
// from /api/v1/admin/catalogue, the rest from the taxonomy and the routes;
// the server decides what each role may do and audits every read here.
import { get, post, withQuery, setCsrfToken, ApiError } from './api.js';
import { $, $$, h, fill, showError, announce, formatDate, formatTime, humanise } from './dom.js';
import { setupDialog, openDialog } from './dialog.js';
import { labelOf } from './taxonomy.js';

const state = {
  me: null,
  catalogue: null,
  taxonomy: null,
  users: [],
  audit: { before: 0, next: 0 },
};

async function boot() {
  setupDialog();
  let me;
  try {
    me = await get('/api/v1/me', { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      const box = $('#admin-error');
      fill(box, 'Sign in on the map first, then come back here. ', h('a', { href: '/', text: 'Go to the map' }));
      box.hidden = false;
      return;
    }
    return showError($('#admin-error'), e.message);
  }
  state.me = me;
  setCsrfToken(me.csrf_token);
  const can = (c) => me.capabilities.includes(c);
  if (!can('admin') && !can('reviews')) {
    return showError($('#admin-error'), 'Your role is not offered the administration screens.');
  }
  for (const el of $$('[data-can]')) el.hidden = !can(el.dataset.can);
  $('#admin-nav').hidden = false;
  try {
    state.taxonomy = await get('/api/v1/taxonomy');
    if (can('admin')) {
      state.catalogue = await get('/api/v1/admin/catalogue');
      setupAudit();
      setupUsers();
      setupTaxonomy();
      await Promise.all([searchAudit(0), loadUsers(), loadRetention()]);
      renderTaxonomy(state.taxonomy);
    }
    if (can('reviews')) await loadReviews();
  } catch (e) {
    showError($('#admin-error'), e.message);
  }
}

// ---- audit search ------------------------------------------------------------

function setupAudit() {
  const c = state.catalogue;
  // Actions one by one, and each family of two or more ("user.") as a whole.
  const families = {};
  for (const a of c.actions) {
    const i = a.indexOf('.');
    if (i > 0) families[a.slice(0, i + 1)] = (families[a.slice(0, i + 1)] || 0) + 1;
  }
  fill($('#audit-action'), h('option', { value: '', text: 'Any action' }),
    Object.entries(families).filter(([, n]) => n > 1).map(([p]) => h('option', { value: p, text: `Every ${p}* action` })),
    c.actions.map((a) => h('option', { value: a, text: a })));
  fill($('#audit-purpose'), h('option', { value: '', text: 'Any purpose' }),
    c.purposes.map((p) => h('option', { value: p.code, text: p.label })));
  $('#audit-form').addEventListener('submit', (e) => { e.preventDefault(); searchAudit(0); });
  $('#audit-form').addEventListener('input', updateAuditCSV);
  $('#audit-form').addEventListener('change', updateAuditCSV);
  $('#audit-older').addEventListener('click', () => searchAudit(state.audit.next));
  $('#audit-newest').addEventListener('click', () => searchAudit(0));
  updateAuditCSV();
}

/** The audit filters as the form says, as query parameters. */
function auditFilters() {
  return {
    user: $('#audit-user').value, action: $('#audit-action').value, purpose: $('#audit-purpose').value,
    subject: $('#audit-subject').value.trim(), context: $('#audit-context').value.trim(), record: $('#audit-record').value.trim(),
    from: $('#audit-from').value, to: $('#audit-to').value,
  };
}

function updateAuditCSV() {
  $('#audit-csv').href = withQuery('/api/v1/audit', { ...auditFilters(), format: 'csv', before: state.audit.before || '' });
}

async function searchAudit(before) {
  const err = $('#audit-error');
  showError(err, '');
  let page;
  const path = withQuery('/api/v1/audit', { ...auditFilters(), before: before || '' });
  try {
    page = await get(path);
  } catch (e) {
    showError(err, e.message);
    announce(`The search failed: ${e.message}`);
    return;
  }
  state.audit = { before, next: page.next_before || 0 };
  const entries = page.entries;
  fill($('#audit-table tbody'), entries.map((e) => h('tr', {},
    h('td', { text: formatTime(e.at) }),
    h('td', { text: e.user_id ? `${e.user_name} (user ${e.user_id})` : 'the system or an operator on the host' }),
    h('td', {}, h('div', { text: e.action }), e.record ? h('div', { class: 'note', text: e.record }) : null),
    h('td', { text: e.reason || '—' }),
    h('td', {}, e.detail ? h('details', {}, h('summary', { text: 'Show' }), h('pre', { class: 'audit-detail', text: JSON.stringify(e.detail, null, 1) })) : null))));
  const where = before ? 'older entries' : 'the newest entries';
  const summary = entries.length ? `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}: ${where}${page.next_before ? '; there are older ones' : ''}.` : 'No entry matches.';
  $('#audit-summary').textContent = summary;
  $('#audit-table').dataset.shown = path; // which search the table shows
  $('#audit-older').hidden = !page.next_before;
  $('#audit-newest').hidden = !before;
  updateAuditCSV();
  announce(summary);
}

// ---- users -------------------------------------------------------------------

function setupUsers() {
  $('#users-title').tabIndex = -1;
  fill($('#user-role'), state.catalogue.roles.map((r) => h('option', { value: r.code, text: r.label })));
  $('#user-form').addEventListener('submit', (e) => { e.preventDefault(); addUser(); });
}

async function loadUsers() {
  const data = await get('/api/v1/users');
  state.users = data.users;
  const roles = state.catalogue.roles;
  fill($('#audit-user'), h('option', { value: '', text: 'Anyone' }),
    state.users.map((u) => h('option', { value: String(u.id), text: `${u.name} (${labelOf(roles, u.role)})` })));
  fill($('#user-teams'), [...new Set(state.users.map((u) => u.team))].map((t) => h('option', { value: t })));
  fill($('#users-table tbody'), state.users.map((u) => h('tr', {},
    h('th', { scope: 'row', text: u.name }),
    h('td', { text: labelOf(roles, u.role) }),
    h('td', { text: u.team }),
    // A single sign-on account's role and team come from the provider at each sign-in.
    h('td', { text: `${u.disabled ? `Disabled ${formatTime(u.disabled_at)}` : 'Active'}${u.sso ? ', single sign-on' : ''}` }),
    h('td', { text: u.last_active ? formatTime(u.last_active) : '—' }),
    h('td', { class: 'row-actions' }, u.disabled ? null : [
      h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `reset-${u.id}` }, 'aria-label': `Reset ${u.name}'s password and token`, onclick: () => resetUser(u) }, 'Reset'),
      u.id === state.me.user.id ? null
        : h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `disable-${u.id}` }, 'aria-label': `Disable ${u.name}`, onclick: () => disableUser(u) }, 'Disable'),
    ]))));
}

async function addUser() {
  const err = $('#user-error');
  showError(err, '');
  const body = { name: $('#user-name').value.trim(), role: $('#user-role').value, team: $('#user-team').value.trim() };
  const button = $('#user-form button[type=submit]');
  button.disabled = true;
  try {
    const c = await post('/api/v1/users', body);
    $('#user-name').value = '';
    await loadUsers();
    showCredentials(c, `${c.user.name} was added`);
  } catch (e) {
    showError(err, e.message);
    announce(`Not added: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function resetUser(u) {
  openDialog({
    title: `Reset ${u.name}'s password and API token?`,
    fields: [],
    submitLabel: 'Reset',
    onSubmit: async () => {
      const c = await post(`/api/v1/users/${encodeURIComponent(u.id)}/reset`);
      await loadUsers();
      // Once the dialog has closed and given focus back, show them (and
      // move focus there).
      $('#dialog').addEventListener('close', () => showCredentials(c,
        `${u.name} was reset: their old token no longer works and their sessions have ended`), { once: true });
    },
  });
}

function disableUser(u) {
  openDialog({
    title: `Disable ${u.name}?`,
    fields: [],
    submitLabel: 'Disable',
    onSubmit: async () => {
      await post(`/api/v1/users/${encodeURIComponent(u.id)}/disable`);
      await loadUsers();
      announce(`${u.name} is disabled: they cannot sign in and their sessions have ended.`);
    },
  });
}

/** The one showing of new secrets: copied now, or never again. */
function showCredentials(c, what) {
  const box = $('#credentials');
  const hide = () => { fill(box); box.hidden = true; $('#users-title').focus(); };
  fill(box,
    h('h3', { text: `${what}. Their sign-in details are shown this once` }),
    h('p', { text: 'Copy them now and give them to the user safely: ctxmap keeps only their hashes and cannot show them again.' }),
    h('dl', {},
      h('dt', { text: 'User name' }), h('dd', {}, h('code', { id: 'cred-name', text: c.user.name })),
      h('dt', { text: 'Password (for the map)' }), h('dd', {}, h('code', { id: 'cred-password', text: c.password })),
      h('dt', { text: 'API token (for scripts)' }), h('dd', {}, h('code', { id: 'cred-token', text: c.token }))),
    h('button', { type: 'button', class: 'btn', id: 'cred-hide', onclick: hide }, 'I have copied them: hide them'));
  box.hidden = false;
  box.focus();
  announce(`${what}. Their password and token are shown once.`);
}

// ---- harm categories -----------------------------------------------------------

function setupTaxonomy() {
  $('#category-form').addEventListener('submit', (e) => { e.preventDefault(); addCategory(); });
}

function renderTaxonomy(t) {
  state.taxonomy = t;
  $('#taxonomy-version').textContent = `Taxonomy version ${t.version}. A category is retired, never deleted: old records keep it and its label.`;
  fill($('#taxonomy-table tbody'), t.categories.map((c) => h('tr', {},
    h('td', {}, h('code', { text: c.code })),
    h('th', { scope: 'row', text: c.label }),
    h('td', { text: c.census_code || '—' }),
    h('td', { text: c.extra_familial ? 'Yes' : 'No' }),
    h('td', { text: c.retired ? `Retired in version ${c.retired_version}` : `In use since version ${c.added_version}` }),
    h('td', { class: 'row-actions' }, c.retired ? null
      : h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `retire-${c.code}` }, 'aria-label': `Retire ${c.label}`, onclick: () => retireCategory(c) }, 'Retire')))));
}

async function addCategory() {
  const err = $('#category-error');
  showError(err, '');
  const body = { code: $('#cat-code').value.trim(), label: $('#cat-label').value.trim(), extra_familial: $('#cat-extra').checked };
  const census = $('#cat-census').value.trim();
  if (census) body.census_code = census;
  const button = $('#category-form button[type=submit]');
  button.disabled = true;
  try {
    renderTaxonomy(await post('/api/v1/taxonomy/categories', body));
    for (const id of ['#cat-code', '#cat-label', '#cat-census']) $(id).value = '';
    announce(`${body.label} was added as a new taxonomy version; the map offers it now.`);
  } catch (e) {
    showError(err, e.message);
    announce(`Not added: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function retireCategory(c) {
  openDialog({
    title: `Retire ${c.label}?`,
    fields: [],
    submitLabel: 'Retire',
    onSubmit: async () => {
      renderTaxonomy(await post(`/api/v1/taxonomy/categories/${encodeURIComponent(c.code)}/retire`));
      announce(`${c.label} is retired: new records cannot use it; old ones keep it.`);
    },
  });
}

// ---- reviews overdue -----------------------------------------------------------

async function loadReviews() {
  const r = await get('/api/v1/reviews/overdue');
  const kinds = state.taxonomy.context_kinds;
  const n = r.contexts.length;
  $('#reviews-summary').textContent = n
    ? `${n} open context ${n === 1 ? 'record is' : 'records are'} past their review date, as of ${formatDate(r.today)}.`
    : `No open context record is past its review date, as of ${formatDate(r.today)}.`;
  fill($('#reviews-table tbody'), r.contexts.map((c) => h('tr', {},
    h('th', { scope: 'row', text: c.display_name }),
    h('td', { text: labelOf(kinds, c.kind) }),
    h('td', { text: c.team }),
    h('td', { text: formatDate(c.review_date) }),
    h('td', { class: 'num', text: String(c.days_overdue) }))));
}

// ---- retention -----------------------------------------------------------------

const years = (n) => (n === 0 ? 'never' : `${n} ${n === 1 ? 'year' : 'years'}`);

async function loadRetention() {
  const st = await get('/api/v1/admin/retention');
  const p = st.policy;
  $('#retention-policy').textContent = `A young person's records are erased ${years(p.young_person_years)} after their last record; ` +
    `a closed context record ${years(p.closed_context_years)} after it was closed. ` +
    (st.scheduled ? 'The server applies this once a day.' : 'This server does not apply it on a schedule.');
  $('#retention-due-summary').textContent = st.due.length ? `${st.due.length} due.` : 'Nothing is due.';
  fill($('#retention-due tbody'), st.due.map((e) => h('tr', {},
    h('td', { text: humanise(e.kind) }), h('td', {}, h('code', { text: e.record })),
    h('td', { text: formatDate(e.since) }), h('td', { text: e.why }))));
  fill($('#retention-runs tbody'), st.runs.map((r) => h('tr', {},
    h('td', { text: formatTime(r.started_at) }),
    h('td', { text: `${humanise(r.how)}${r.dry_run ? ' (dry run)' : ''}` }),
    h('td', { class: 'num', text: String(r.young_people) }),
    h('td', { class: 'num', text: String(r.contexts) }),
    h('td', { class: 'num', text: String(r.failed) }),
    h('td', { text: r.finished_at ? formatTime(r.finished_at) : 'not finished' }))));
}

boot();
