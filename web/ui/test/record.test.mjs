// A young person's contextual record in the browser (issue 13): no form
// chooses a value for its user (the location type above all); harm types
// archived one at a time while the others stay; categories corrected with
// the change in the record's history; safety mapping's red, amber and green
// places without a harm category; the safe layer offered by the server.
import { login, screenshot, assert, lastCompleteMonth, suite } from './lib.mjs';

const practitioner = process.env.CTXMAP_PRACTITIONER || 'demo-practitioner';
const analyst = process.env.CTXMAP_ANALYST || 'demo-analyst';
const postcode = process.env.CTXMAP_TEST_POSTCODE || 'E8 3AA';

const { tests, test } = suite();
export { tests as recordTests };

/** Fill the record form with everything but what `skip` names. */
async function fillRecord(page, subject, { skip = [], categories = 2 } = {}) {
  await page.fill('#rec-subject', subject);
  for (let i = 0; i < categories; i++) await page.check(`#rec-cat-${i}`);
  await page.fill('#rec-occurred', lastCompleteMonth());
  if (!skip.includes('layer')) await page.check('input[name="rec-layer"][value="harm"]');
  if (!skip.includes('familial')) await page.selectOption('#rec-familial', 'extra');
  if (!skip.includes('source')) await page.selectOption('#rec-source', 'referral');
  if (!skip.includes('location_type')) await page.selectOption('#rec-location-type', 'stairwell');
  await page.fill('#rec-postcode', postcode);
}

/** Answer the purpose prompt if it opens, and wait for the young person's list. */
async function waitForList(page, rows = 1) {
  await page.waitForFunction(() => document.querySelector('#dialog').open || document.querySelectorAll('#subject-table tbody tr').length > 0
    || !document.querySelector('#record-error').hidden || !document.querySelector('#safety-error').hidden, null, { timeout: 20000 });
  if (await page.evaluate(() => document.querySelector('#dialog').open)) {
    await page.selectOption('#dlg-purpose', 'assessment');
    await page.click('#dialog-ok');
  }
  await page.waitForFunction((n) => document.querySelectorAll('#subject-table tbody tr').length >= n
    || !document.querySelector('#record-error').hidden || !document.querySelector('#safety-error').hidden, rows, { timeout: 20000 });
  for (const sel of ['#record-error', '#safety-error']) {
    const err = await page.$eval(sel, (e) => (e.hidden ? '' : e.textContent));
    assert(!err, `${sel}: ${err}`);
  }
}

/** The types of the first listed record as {category: status}, and which have an archive button. */
async function typesOnList(page) {
  return page.$$eval('#subject-table tbody tr:first-child li.type', (lis) => Object.fromEntries(lis.map((li) =>
    [li.dataset.category, { status: li.dataset.status, button: !!li.querySelector('button') }])));
}

/** Submit the dialog and wait for it to close without an error. */
async function submitDialog(page) {
  await page.click('#dialog-ok');
  await page.waitForFunction(() => !document.querySelector('#dialog').open || !document.querySelector('#dialog-error').hidden);
  const err = await page.$eval('#dialog-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!err, `the dialog refused: ${err}`);
}

test('practitioner: the record form chooses nothing silently; a location must be given a type', async (open) => {
  const page = await open();
  await login(page, practitioner);
  await page.click('#panel-record > summary');
  for (const sel of ['#rec-location-type', '#rec-familial', '#rec-source']) {
    assert(await page.$eval(sel, (s) => s.value) === '', `${sel} starts on a choice the practitioner did not make`);
  }
  assert(await page.$$eval('input[name="rec-layer"]', (rs) => rs.length >= 2 && rs.every((r) => !r.checked)), 'a layer is preselected');
  const subject = `NOTYPE-${Date.now()}`;
  await fillRecord(page, subject, { skip: ['location_type'] });
  const posts = () => page.requests.filter((u) => u.endsWith('/api/v1/harm-locations')).length;
  const before = posts();
  await page.click('#record-form button[type=submit]');
  await page.locator('#record-error').waitFor({ state: 'visible' });
  assert(/location type/i.test(await page.textContent('#record-error')), 'the error names the location type');
  assert(await page.evaluate(() => document.activeElement.id) === 'rec-location-type', 'focus goes to the location type');
  assert(posts() === before, 'nothing was sent without a location type');
  // The same for the safety map form and a context lead's dialogs' selects.
  await page.click('#panel-safety > summary');
  assert(await page.$eval('#sm-location-type', (s) => s.value) === '' && await page.$$eval('input[name="sm-rating"]', (rs) => rs.every((r) => !r.checked)),
    'the safety map form preselects something');
  // Chosen, it is recorded.
  await page.selectOption('#rec-location-type', 'stairwell');
  await page.click('#record-form button[type=submit]');
  await waitForList(page);
  assert(/Stairwell/.test(await page.textContent('#subject-table tbody tr:first-child')), 'the chosen type is on the record');
});

test('practitioner: archives one harm type with a reason; the other types stay on the record', async (open) => {
  const page = await open();
  await login(page, practitioner);
  await page.click('#panel-record > summary');
  const subject = `ONETYPE-${Date.now()}`;
  await fillRecord(page, subject, { categories: 3 });
  await page.click('#record-form button[type=submit]');
  await waitForList(page);
  let types = await typesOnList(page);
  const cats = Object.keys(types);
  assert(cats.length === 3 && cats.every((c) => types[c].status === 'active' && types[c].button), `three active types: ${JSON.stringify(types)}`);
  // Archive the second type: "never an issue", with a note.
  await page.click(`#subject-table tbody tr:first-child li.type[data-category="${cats[1]}"] button`);
  await page.locator('#dialog').waitFor({ state: 'visible' });
  assert(await page.$eval('#dlg-reason', (s) => s.value) === '', 'a reason is preselected');
  await page.selectOption('#dlg-reason', 'never_an_issue');
  await page.fill('#dlg-note', 'Reviewed at the strategy meeting: this was never a concern.');
  await submitDialog(page);
  await page.waitForFunction((c) => {
    const li = document.querySelector(`#subject-table tbody tr:first-child li.type[data-category="${c}"]`);
    return li && li.dataset.status === 'archived';
  }, cats[1], { timeout: 15000 });
  types = await typesOnList(page);
  assert(types[cats[0]].status === 'active' && types[cats[2]].status === 'active' && types[cats[0]].button, `the others stay active: ${JSON.stringify(types)}`);
  assert(!types[cats[1]].button, 'an archived type offers no archive');
  const row = await page.textContent('#subject-table tbody tr:first-child');
  assert(/Never an issue/.test(row) && /never a concern/.test(row), `the reason and note are on the record: ${row}`);
  assert(await page.$('#subject-table tbody tr:first-child button[aria-label^="Archive the record of"]'), 'the record itself is not archived: it can still be archived whole');
  await page.click('#subject-table tbody tr:first-child details.history > summary');
  const history = await page.textContent('#subject-table tbody tr:first-child details.history');
  assert(/History \(2\)/.test(history) && /archived: Never an issue/.test(history), `the history tells it: ${history}`);
  // What the server now counts for the record: the two others.
  const rec = await page.evaluate((s) => fetch(`/api/v1/subjects/${encodeURIComponent(s)}/harm-locations?purpose=assessment`).then((r) => r.json()), subject);
  const got = rec.harm_locations[0].categories;
  assert(got.length === 2 && !got.includes(cats[1]), `active categories ${got}`);
  await screenshot(page, 'record-archive-one-type');
});

test('practitioner: corrects a wrong category; the change is in the record\'s history', async (open) => {
  const page = await open();
  await login(page, practitioner);
  await page.click('#panel-record > summary');
  const subject = `FIX-${Date.now()}`;
  await fillRecord(page, subject, { categories: 1 });
  await page.click('#record-form button[type=submit]');
  await waitForList(page);
  const wrong = Object.keys(await typesOnList(page))[0];
  const right = await page.$eval('#rec-cat-1', (i) => i.value);
  await page.click('#subject-table tbody tr:first-child button:has-text("Correct categories")');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.selectOption('#dlg-remove', wrong);
  await page.selectOption('#dlg-add', right);
  await page.fill('#dlg-started', lastCompleteMonth());
  await page.fill('#dlg-note', 'The referral form was misread.');
  await submitDialog(page);
  await page.waitForFunction((c) => {
    const li = document.querySelector(`#subject-table tbody tr:first-child li.type[data-category="${c}"]`);
    return li && li.dataset.status === 'removed';
  }, wrong, { timeout: 15000 });
  const types = await typesOnList(page);
  assert(types[right] && types[right].status === 'active', `the right category is active: ${JSON.stringify(types)}`);
  await page.click('#subject-table tbody tr:first-child details.history > summary');
  const history = await page.textContent('#subject-table tbody tr:first-child details.history');
  assert(/removed as recorded in error/.test(history) && /added, since/.test(history) && /misread/.test(history), `history: ${history}`);
  await screenshot(page, 'record-correct-categories');
});

test('practitioner: safety mapping records red and green places without a harm category', async (open) => {
  const page = await open();
  await login(page, practitioner);
  await page.click('#panel-safety > summary');
  const subject = `SAFE-${Date.now()}`;
  await page.fill('#sm-subject', subject);
  assert(await page.$eval('#sm-trusted-field', (e) => e.hidden), 'no trusted adult is asked before green is chosen');
  await page.check('input[name="sm-rating"][value="green"]');
  assert(!(await page.$eval('#sm-trusted-field', (e) => e.hidden)), 'green asks for the trusted adult');
  await page.fill('#sm-mapped', lastCompleteMonth());
  await page.selectOption('#sm-location-type', 'youth_club');
  await page.fill('#sm-postcode', postcode);
  // Green without the kind of trusted adult is refused in the form.
  await page.click('#safety-form button[type=submit]');
  await page.locator('#safety-error').waitFor({ state: 'visible' });
  assert(/trusted adult/.test(await page.textContent('#safety-error')), 'the error asks for the trusted adult');
  await page.selectOption('#sm-trusted', 'youth_worker');
  await page.click('#safety-form button[type=submit]');
  await waitForList(page);
  let row = await page.textContent('#subject-table tbody tr:first-child');
  assert(/Safety map: Green/.test(row) && /Youth worker/i.test(row) && !/since/.test(row), `the green place: ${row}`);
  // A red place: no trusted adult, no category.
  await page.check('input[name="sm-rating"][value="red"]');
  assert(await page.$eval('#sm-trusted-field', (e) => e.hidden), 'red asks for no trusted adult');
  await page.fill('#sm-mapped', lastCompleteMonth());
  await page.selectOption('#sm-location-type', 'bus_stop');
  await page.click('#sm-centre'); // a point, not a postcode
  assert(await page.$eval('#sm-lat', (i) => i.value !== '') && await page.$eval('#sm-postcode', (i) => i.value === ''), 'the map centre sets the point');
  await page.click('#safety-form button[type=submit]');
  await waitForList(page, 2);
  const rows = await page.$$eval('#subject-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert(rows.some((r) => /Safety map: Red/.test(r)), `the red place: ${rows}`);
  await screenshot(page, 'record-safety-map');
});

test('analyst: the heat panel offers the server\'s layers, with safe places taking no category', async (open) => {
  const page = await open();
  await login(page, analyst);
  const cfg = await page.evaluate(() => fetch('/api/v1/config').then((r) => r.json()));
  const offered = await page.$$eval('input[name="layer"]', (rs) => rs.map((r) => r.value));
  assert(JSON.stringify(offered) === JSON.stringify(cfg.layers) && offered.includes('safe'), `layers offered ${offered}, server ${cfg.layers}`);
  await page.selectOption('#heat-category', { index: 2 });
  await page.check('input[name="layer"][value="safe"]');
  await page.waitForFunction(() => document.querySelector('#heat-category').disabled && document.querySelector('#heat-category').value === 'all');
  await page.waitForFunction(() => /layer=safe/.test(location.hash));
  await page.check('input[name="layer"][value="harm"]');
  await page.waitForFunction(() => !document.querySelector('#heat-category').disabled);
});
