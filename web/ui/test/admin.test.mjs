// The admin's and the data protection officer's screens (issue 13), in a real
// Chromium against the real server with the demo data: the purpose prompt a
// practitioner answers before a young person's records open, the audit
// search (filters, paging, CSV), users (add, reset, disable; secrets shown
// once), harm categories (add, retire; the map's pickers follow), contexts
// past their review date (admins and context leads), retention, and who is
// offered the page at all. Every page also asks no other host and logs no
// console error.
import { readFileSync } from 'node:fs';
import { login, assert, screenshot, suite } from './lib.mjs';

const users = {
  practitioner: process.env.CTXMAP_PRACTITIONER || 'demo-practitioner',
  lead: process.env.CTXMAP_LEAD || 'demo-lead',
  analyst: process.env.CTXMAP_ANALYST || 'demo-analyst',
  admin: process.env.CTXMAP_ADMIN || 'demo-admin',
};

const { tests: adminTests, test } = suite();
export { adminTests };

/** Sign in on the map and open the administration page from its link. */
async function openAdmin(page, who) {
  await login(page, who);
  assert(await page.isVisible('#admin-link'), `${who} is offered the administration page`);
  await page.click('#admin-link');
  await page.waitForURL(/\/admin\.html$/);
  await page.locator('#admin-nav').waitFor({ state: 'visible' });
}

/** Run the audit form's search (or click button) and wait until the table shows its answer for want. */
async function auditSearch(page, want, button = '#audit-form button[type=submit]') {
  await page.click(button);
  await page.waitForFunction((w) => {
    const shown = document.querySelector('#audit-table').dataset.shown || '';
    const q = new URLSearchParams(shown.split('?')[1] || '');
    return Object.entries(w).every(([k, v]) => (q.get(k) || '') === v);
  }, want, { timeout: 15000 });
}

/** The texts of a table's body rows, cell by cell. */
async function rows(page, sel) {
  return page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim())));
}

/** Ask for a young person's list as a practitioner, up to the purpose prompt. */
async function openSubject(page, subject) {
  await page.click('#panel-subject > summary');
  await page.fill('#subject-id', subject);
  await page.click('#subject-form button[type=submit]');
  await page.locator('#dialog').waitFor({ state: 'visible' });
}

test('purpose: a practitioner says why before a young person\'s records open; cancelling opens nothing', async (open) => {
  const page = await open();
  await login(page, users.practitioner);
  const subject = `WHY-${Date.now()}`;
  const reads = () => page.requests.filter((u) => u.includes('/api/v1/subjects/'));

  await openSubject(page, subject);
  const offered = await page.$$eval('#dlg-purpose option', (os) => os.filter((o) => o.value).map((o) => o.value));
  assert(await page.$eval('#dlg-purpose', (s) => s.value === ''), 'no purpose is chosen for the practitioner');
  const tax = await page.evaluate(() => fetch('/api/v1/taxonomy').then((r) => r.json()));
  assert(JSON.stringify(offered) === JSON.stringify(tax.read_purposes.map((p) => p.code)), `the prompt offers the server's purposes: ${offered}`);
  await screenshot(page, 'purpose-prompt');
  await page.keyboard.press('Escape');
  await page.locator('#subject-error').waitFor({ state: 'visible' });
  assert(reads().length === 0, 'cancelled: the records were not asked for');

  // "Other" needs a reason in words; then the read carries both.
  await page.click('#subject-form button[type=submit]');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.selectOption('#dlg-purpose', tax.purpose_note_for);
  await page.click('#dialog-ok');
  await page.locator('#dialog-error').waitFor({ state: 'visible' });
  assert(reads().length === 0, 'no read without the reason');
  await page.fill('#dlg-purpose_note', 'browser check of the purpose prompt');
  await page.click('#dialog-ok');
  await page.waitForFunction(() => /records? for this young person/.test(document.querySelector('#subject-list').textContent), null, { timeout: 15000 });
  const url = new URL(reads()[0]);
  assert(url.searchParams.get('purpose') === tax.purpose_note_for && url.searchParams.get('purpose_note') === 'browser check of the purpose prompt',
    `the read sends the purpose: ${url.search}`);
  // Asked once per young person while the page is open.
  await page.click('#subject-form button[type=submit]');
  await page.waitForFunction((n) => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/subjects/')).length > n, 1, { timeout: 15000 });
  assert(!(await page.evaluate(() => document.querySelector('#dialog').open)), 'the same young person is not asked about twice');
});

test('audit: an admin searches by purpose, action, user and young person, pages back and downloads the CSV, which is itself logged', async (open) => {
  // A practitioner's read with a purpose, to find.
  const prac = await open();
  await login(prac, users.practitioner);
  const subject = `AUDIT-${Date.now()}`;
  await openSubject(prac, subject);
  await prac.selectOption('#dlg-purpose', 'panel');
  await prac.click('#dialog-ok');
  await prac.waitForFunction(() => /records? for this young person/.test(document.querySelector('#subject-list').textContent), null, { timeout: 15000 });

  const page = await open();
  await login(page, users.admin);
  // The lists the page offers are those the server sent it.
  const catalogue = page.waitForResponse((res) => res.url().endsWith('/api/v1/admin/catalogue'));
  await page.click('#admin-link');
  const cat = await (await catalogue).json();
  await page.locator('#audit-table tbody tr').first().waitFor();
  const actions = await page.$$eval('#audit-action option', (os) => os.map((o) => o.value).filter((v) => v && !v.endsWith('.')));
  assert(JSON.stringify(actions) === JSON.stringify(cat.actions), 'the action filter offers the server\'s actions');
  const purposes = await page.$$eval('#audit-purpose option', (os) => os.map((o) => o.value).filter(Boolean));
  assert(JSON.stringify(purposes) === JSON.stringify(cat.purposes.map((p) => p.code)), 'the purpose filter offers the server\'s purposes');

  // By purpose and action: who, what, when and why.
  await page.selectOption('#audit-purpose', 'panel');
  await page.selectOption('#audit-action', 'harm_locations.read');
  await auditSearch(page, { purpose: 'panel', action: 'harm_locations.read' });
  let r = await rows(page, '#audit-table');
  assert(r.every((c) => c[2].startsWith('harm_locations.read') && c[3] === 'panel'), `only panel reads: ${JSON.stringify(r.slice(0, 3))}`);
  assert(r[0][1].includes(users.practitioner) && r[0][0] !== '', `who and when: ${r[0]}`);
  // By the young person's id (hashed on the server): their one opening, which read their locations and
  // their contextual record (markers, relocations, factors), each logged with the purpose.
  await page.selectOption('#audit-purpose', '');
  await page.selectOption('#audit-action', '');
  await page.fill('#audit-subject', subject);
  await auditSearch(page, { subject, purpose: '', action: '' });
  r = await rows(page, '#audit-table');
  assert(r.length === 2 && ['harm_locations.read', 'contextual_record.read'].every((a) => r.some((c) => c[2].startsWith(a) && c[3] === 'panel')),
    `the young person's reads: ${JSON.stringify(r)}`);
  // By user: only theirs.
  await page.fill('#audit-subject', '');
  const pracID = await page.evaluate((name) => fetch('/api/v1/users').then((x) => x.json()).then((d) => d.users.find((u) => u.name === name).id), users.practitioner);
  await page.selectOption('#audit-user', String(pracID));
  await auditSearch(page, { user: String(pracID), subject: '' });
  r = await rows(page, '#audit-table');
  assert(r.every((c) => c[1].startsWith(`${users.practitioner} `)), `only the practitioner: ${JSON.stringify(r.map((c) => c[1]).slice(0, 5))}`);
  await screenshot(page, 'admin-audit');

  // Paging back and to the newest again.
  await page.selectOption('#audit-user', '');
  await auditSearch(page, { user: '', before: '' });
  await page.locator('#audit-older').waitFor({ state: 'visible' });
  const first = await rows(page, '#audit-table');
  await page.click('#audit-older');
  await page.waitForFunction(() => /before=/.test(document.querySelector('#audit-table').dataset.shown));
  await page.locator('#audit-newest').waitFor({ state: 'visible' });
  const second = await rows(page, '#audit-table');
  assert(second.length > 0 && second[0].join() !== first[0].join(), 'the older page holds other entries');
  const ids = async () => page.evaluate(() => fetch('/api/v1/audit?limit=1').then((x) => x.json()).then((d) => d.entries.length));
  assert(await ids() === 1, 'the API pages too');
  await page.click('#audit-newest');
  await page.locator('#audit-newest').waitFor({ state: 'hidden' });

  // The CSV download: the header, the filtered rows; and the export is logged.
  await page.selectOption('#audit-action', 'harm_locations.read');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#audit-csv')]);
  const lines = readFileSync(await dl.path(), 'utf8').trimEnd().split('\n');
  assert(lines[0] === 'id,at,user_id,user_name,action,record,reason,purpose,detail,request_id', `the CSV header: ${lines[0]}`);
  assert(lines.length > 1 && lines.slice(1).every((l) => l.includes(',harm_locations.read,')), 'the CSV holds the filtered entries');
  // The page lists the actions the log held when it loaded: load it again.
  await page.reload();
  await page.locator('#audit-table tbody tr').first().waitFor();
  await page.selectOption('#audit-action', 'export.audit_csv');
  await auditSearch(page, { action: 'export.audit_csv' });
  r = await rows(page, '#audit-table');
  assert(r.length > 0 && r.every((c) => c[2].startsWith('export.audit_csv')), `the download is in the log: ${JSON.stringify(r.slice(0, 2))}`);
});

test('users: an admin adds a user and sees the password and token once; a reset replaces them; a disabled user cannot sign in', async (open) => {
  const page = await open({ allow: [[401, /\/api\/v1\/session$/]] });
  await openAdmin(page, users.admin);
  await page.locator('#users-table tbody tr').first().waitFor();
  const cat = await page.evaluate(() => fetch('/api/v1/admin/catalogue').then((r) => r.json()));
  const roles = await page.$$eval('#user-role option', (os) => os.map((o) => o.value));
  assert(JSON.stringify(roles) === JSON.stringify(cat.roles.map((x) => x.code)), `the roles come from the server: ${roles}`);
  const name = `browser-${Date.now()}`;
  await page.fill('#user-name', name);
  await page.selectOption('#user-role', 'analyst');
  await page.fill('#user-team', 'Insight');
  await page.click('#user-form button[type=submit]');
  await page.locator('#credentials').waitFor({ state: 'visible' });
  assert(await page.evaluate(() => document.activeElement.id === 'credentials'), 'focus moves to the new secrets');
  const pw = await page.textContent('#cred-password');
  const token = await page.textContent('#cred-token');
  assert(pw.length >= 20 && token.startsWith('ctxm_'), 'a password and a token are shown');
  await screenshot(page, 'admin-users');
  await page.click('#cred-hide');
  assert(!(await page.isVisible('#credentials')) && !(await page.content()).includes(token), 'hidden, the secrets leave the page');
  await page.reload();
  await page.locator('#users-table tbody tr').first().waitFor();
  const listed = await rows(page, '#users-table');
  assert(listed.some((c) => c[0] === name && c[1] === 'Analyst' && c[3] === 'Active'), 'the new user is listed');
  assert(!(await page.content()).includes(token) && !(await page.content()).includes(pw), 'never shown again');

  const signIn = async (pass) => page.evaluate(async ([n, p]) => (await fetch('/api/v1/session', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: n, password: p }), credentials: 'omit' })).status, [name, pass]);
  assert(await signIn(pw) === 200, 'the new user signs in with the password shown');

  // Reset: a dialog, then new secrets; the old password no longer works.
  await page.click(`button[aria-label="Reset ${name}'s password and token"]`);
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.click('#dialog-ok');
  await page.locator('#credentials').waitFor({ state: 'visible' });
  const pw2 = await page.textContent('#cred-password');
  assert(pw2 !== pw && await page.textContent('#cred-token') !== token, 'a reset shows new secrets');
  assert(await signIn(pw) === 401 && await signIn(pw2) === 200, 'the old password is dead, the new one works');
  await page.click('#cred-hide');

  // Disable: they cannot sign in any more.
  await page.click(`button[aria-label="Disable ${name}"]`);
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.click('#dialog-ok');
  await page.waitForFunction((n) => [...document.querySelectorAll('#users-table tbody tr')].some((tr) => tr.children[0].textContent === n && /Disabled/.test(tr.children[3].textContent)), name);
  assert(await signIn(pw2) === 401, 'a disabled user cannot sign in');
  assert(!(await page.isVisible(`button[aria-label="Disable ${users.admin}"]`)), 'an admin is not offered disabling themselves');
});

test('taxonomy: an admin adds a harm category and retires it; the map\'s pickers ask the server and follow', async (open) => {
  const page = await open();
  await openAdmin(page, users.admin);
  await page.locator('#taxonomy-table tbody tr').first().waitFor();
  const code = `browser_${Date.now() % 1e9}`;
  await page.fill('#cat-code', code);
  await page.fill('#cat-label', 'Browser test category');
  await page.click('#category-form button[type=submit]');
  await page.waitForFunction((c) => document.querySelector('#taxonomy-table').textContent.includes(c), code);
  await screenshot(page, 'admin-taxonomy');

  const map = await open();
  await login(map, users.practitioner);
  const offered = async () => ({
    heat: await map.$$eval('#heat-category option', (os) => os.map((o) => o.value)),
    record: await map.$$eval('input[name="rec-category"]', (is) => is.map((i) => i.value)),
  });
  let o = await offered();
  assert(o.heat.includes(code) && o.record.includes(code), `the map offers the new category: ${JSON.stringify(o)}`);

  await page.click(`button[aria-label="Retire Browser test category"]`);
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.click('#dialog-ok');
  await page.waitForFunction((c) => [...document.querySelectorAll('#taxonomy-table tbody tr')].some((tr) => tr.textContent.includes(c) && /Retired/.test(tr.textContent)), code);
  await map.reload();
  await map.locator('#app-view').waitFor({ state: 'visible' });
  await map.waitForFunction(() => document.querySelectorAll('#heat-category option').length > 1);
  o = await offered();
  assert(!o.record.includes(code) && !o.heat.includes(code), `a retired category is offered no more: ${JSON.stringify(o)}`);
});

test('reviews: a context lead and an admin see the contexts past their review date and by how many days', async (open) => {
  for (const who of [users.lead, users.admin]) {
    const page = await open();
    await openAdmin(page, who);
    await page.locator('#section-reviews').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector('#reviews-summary').textContent !== '');
    const api = await page.evaluate(() => fetch('/api/v1/reviews/overdue').then((r) => r.json()));
    const r = await rows(page, '#reviews-table');
    assert(api.contexts.length > 0 && r.length === api.contexts.length, `${who}: ${r.length} rows for ${api.contexts.length} overdue contexts`);
    assert(r.every((c) => Number(c[4]) >= 1) && r[0][0] === api.contexts[0].display_name, `${who}: most overdue first, with days: ${r[0]}`);
    for (let i = 1; i < r.length; i++) assert(Number(r[i - 1][4]) >= Number(r[i][4]), 'most overdue first');
    if (who === users.lead) {
      for (const id of ['#section-audit', '#section-users', '#section-taxonomy', '#section-retention']) {
        assert(!(await page.isVisible(id)), `a context lead is not offered ${id}`);
      }
      await screenshot(page, 'admin-reviews');
    }
  }
});

test('retention: the admin sees the policy, what is due and the server\'s runs', async (open) => {
  const page = await open();
  await openAdmin(page, users.admin);
  await page.waitForFunction(() => document.querySelector('#retention-policy').textContent !== '');
  const st = await page.evaluate(() => fetch('/api/v1/admin/retention').then((r) => r.json()));
  const policy = await page.textContent('#retention-policy');
  assert(policy.includes(`${st.policy.young_person_years} years`) && policy.includes(`${st.policy.closed_context_years} years`), `the policy in words: ${policy}`);
  const runs = await rows(page, '#retention-runs');
  assert(runs.length === st.runs.length && runs.length > 0, `the server's runs are listed: ${runs.length}`);
  assert((await rows(page, '#retention-due')).length === st.due.length, 'what is due is listed');
  await screenshot(page, 'admin-retention');
});

test('roles: analysts and practitioners are not offered the administration page, and it refuses them', async (open) => {
  for (const who of [users.analyst, users.practitioner]) {
    const page = await open({ allow: [[403, /\/api\/v1\//]] });
    await login(page, who);
    assert(!(await page.isVisible('#admin-link')), `${who} sees no administration link`);
    await page.goto('/admin.html');
    await page.locator('#admin-error').waitFor({ state: 'visible' });
    assert(/not offered/.test(await page.textContent('#admin-error')), `${who} is told the page is not theirs`);
    for (const path of ['/api/v1/audit', '/api/v1/users', '/api/v1/admin/retention']) {
      assert(await page.evaluate((p) => fetch(p).then((r) => r.status), path) === 403, `${who}: ${path} answers 403`);
    }
  }
});

test('keyboard: every control of the administration page is reachable by Tab, with a label', async (open) => {
  const page = await open();
  await openAdmin(page, users.admin);
  await page.locator('#audit-table tbody tr').first().waitFor();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const seen = new Set();
  let first = null;
  for (let i = 0; i < 800; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      if (!el.dataset.kbd) el.dataset.kbd = `k${document.querySelectorAll('[data-kbd]').length + 1}`;
      return el.dataset.kbd;
    });
    if (!id) continue;
    // Date inputs take several Tabs (day, month, year): stop only when the
    // first control comes round again.
    if (first === null) first = id;
    else if (id === first && seen.size > 5) break;
    seen.add(id);
  }
  const missed = await page.evaluate((ids) => {
    const s = new Set(ids);
    const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    return [...document.querySelectorAll('a[href], button, input, select, summary')]
      .filter((el) => !el.disabled && visible(el) && !el.closest('dialog:not([open])') && !s.has(el.dataset.kbd))
      .map((el) => el.id || el.textContent.trim().slice(0, 40));
  }, [...seen]);
  assert(missed.length === 0, `not reachable by Tab: ${missed.join('; ')}`);
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
    .filter((el) => el.getClientRects().length && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.id));
  assert(unlabelled.length === 0, `unlabelled: ${unlabelled.join(', ')}`);
});
