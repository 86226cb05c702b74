// A young person's contextual record (issue 13) in a real Chromium against
// the real server with the demo data: a practitioner enters a referral
// marker and corrects it (the old entry stays, marked corrected), records a
// relocation and withdraws another entered in error, adds a contextual factor (flagged while no plan action
// addresses it) and then an action; an analyst reads the record rates on the
// reports page, as the current release published them.
import { login, assert, screenshot, suite, downloadText } from './lib.mjs';

const practitioner = process.env.CTXMAP_PRACTITIONER || 'demo-practitioner';
const analyst = process.env.CTXMAP_ANALYST || 'demo-analyst';
const { tests, test } = suite();
export { tests as contextualTests };

/** Fill and submit the dialog: fields maps a field name to a value (select or text). */
async function dialog(page, fields) {
  await page.locator('#dialog').waitFor({ state: 'visible' });
  for (const [name, value] of Object.entries(fields)) {
    const sel = `#dlg-${name}`;
    if (await page.$eval(sel, (el) => el.tagName === 'SELECT')) await page.selectOption(sel, value);
    else await page.fill(sel, value);
  }
  await page.click('#dialog-ok');
  await page.locator('#dialog').waitFor({ state: 'hidden' });
}

const text = (page, sel) => page.$eval(sel, (el) => el.textContent);

test('contextual record: a practitioner enters and corrects a marker, a relocation, a factor flagged until a plan action addresses it', async (open) => {
  const page = await open();
  await login(page, practitioner);
  const tax = await page.evaluate(() => fetch('/api/v1/taxonomy').then((r) => r.json()));
  const subject = `CTXREC-${Date.now()}`;
  await page.click('#panel-subject > summary');
  await page.fill('#subject-id', subject);
  await page.click('#subject-form button[type=submit]');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.selectOption('#dlg-purpose', 'assessment');
  await page.click('#dialog-ok');
  await page.locator('#ctxrec-add-marker').waitFor({ state: 'visible' });
  assert((await text(page, '#ctxrec-markers')).includes('No marker recorded'), 'a new young person has no marker');

  // A referral marker, then its correction: two rows, the old one marked.
  await page.click('#ctxrec-add-marker');
  const kinds = await page.$$eval('#dlg-kind option', (os) => os.map((o) => o.value).filter(Boolean)); // after the dialog's empty choice
  assert(JSON.stringify(kinds) === JSON.stringify(tax.marker_kinds.map((t) => t.code)), `the marker kinds are the server's: ${kinds}`);
  await dialog(page, { kind: 'referral', familial: 'extra' });
  await page.locator('#ctxrec-marker-table tbody tr').first().waitFor();
  const extraLabel = tax.marker_values.find((t) => t.code === 'extra').label;
  assert((await text(page, '#ctxrec-marker-table')).includes(extraLabel), 'the marker reads by its label');
  await page.click('#ctxrec-marker-table button');
  await dialog(page, { familial: 'both', reason: 'Harm at home found at assessment' });
  await page.waitForFunction(() => document.querySelectorAll('#ctxrec-marker-table tbody tr').length === 2, null, { timeout: 15000 });
  const rows = await page.$$eval('#ctxrec-marker-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert(rows.filter((r) => r.includes('Corrected') && r.includes('Harm at home found at assessment')).length === 1, `the old entry is kept, corrected: ${rows}`);
  assert(await page.$$eval('#ctxrec-marker-table button', (bs) => bs.length) === 1, 'only the current entry can be corrected');

  // A relocation.
  await page.click('#ctxrec-add-relocation');
  await dialog(page, { kind: 'out_of_area' });
  const outLabel = tax.relocation_kinds.find((t) => t.code === 'out_of_area').label;
  await page.waitForFunction((l) => document.querySelector('#ctxrec-relocations').textContent.includes(l), outLabel, { timeout: 15000 });

  // A second relocation entered in error is withdrawn and stays in the history.
  await page.click('#ctxrec-add-relocation');
  await dialog(page, { kind: 'secure' });
  await page.waitForFunction(() => document.querySelectorAll('#ctxrec-relocation-list li').length === 2, null, { timeout: 15000 });
  await page.click('#ctxrec-relocation-list li:nth-child(2) button');
  await dialog(page, { reason: 'Entered on the wrong record' });
  await page.waitForFunction(() => document.querySelector('#ctxrec-relocation-list li.withdrawn')?.textContent.includes('Entered on the wrong record'), null, { timeout: 15000 });

  // A factor: flagged until an action addresses it.
  await page.click('#ctxrec-add-factor');
  await dialog(page, { description: 'Recruited at the station after school', location_type: 'station', area_kind: 'postcode_district', area: 'E8' });
  await page.locator('article.factor').waitFor();
  assert(await page.isVisible('article.factor-unaddressed'), 'a factor without an action is flagged');
  assert((await text(page, '#ctxrec-unaddressed')).startsWith('1 of 1'), `the summary says so: ${await text(page, '#ctxrec-unaddressed')}`);
  await page.click('article.factor button[aria-label^="Add a plan action"]');
  await dialog(page, { action: 'Transport police patrol the station 3-5 pm', partner_agency: 'transport', status: 'planned' });
  await page.waitForFunction(() => !document.querySelector('article.factor-unaddressed'), null, { timeout: 15000 });
  assert((await text(page, '#ctxrec-unaddressed')) === 'Every contextual factor has a plan action.', 'the plan attends to every factor');
  await screenshot(page, 'contextual-record');

  // What the page shows is what the server holds.
  const rec = await page.evaluate((s) => fetch(`/api/v1/subjects/${s}/contextual-record?purpose=assessment`).then((r) => r.json()), subject);
  assert(rec.markers.length === 2 && rec.relocations.length === 2 && rec.relocations.filter((r) => r.withdrawn).length === 1
    && rec.factors.length === 1 && rec.unaddressed === 0
    && rec.factors[0].actions[0].partner_agency === 'transport', `the record: ${JSON.stringify(rec)}`);
});

test('record rates: an analyst reads the rates of markers, relocations and plans as the release published them', async (open) => {
  const page = await open();
  await login(page, analyst);
  await page.click('#reports-link');
  await page.locator('#record-rates-form').waitFor({ state: 'visible' });
  let api;
  for (const step of ['month', 'quarter']) {
    await page.selectOption('#record-rates-step', step);
    const answer = page.waitForResponse((res) => res.url().includes('/api/v1/record-rates'));
    await page.click('#record-rates-form button[type=submit]');
    api = await (await answer).json();
    await page.waitForFunction((n) => document.querySelectorAll('#record-rates-table tbody tr').length === n, api.points.length, { timeout: 15000 });
    const shown = await page.evaluate(() => ({
      keys: [...document.querySelectorAll('#record-rates-table thead th')].slice(1).map((th) => th.dataset.key),
      rows: [...document.querySelectorAll('#record-rates-table tbody tr')].map((tr) => ({
        period: tr.dataset.period, cells: [...tr.querySelectorAll('td')].map((td) => [td.dataset.key, td.textContent]) })),
    }));
    assert(JSON.stringify(shown.keys) === JSON.stringify(api.measures.map((m) => m.name)), `the columns are the server's measures: ${shown.keys}`);
    let published = 0;
    api.points.forEach((p, i) => {
      assert(shown.rows[i].period === p.period, `row ${i} is ${p.period}`);
      p.measures.forEach((m, j) => {
        const [key, cell] = shown.rows[i].cells[j];
        const want = m.value === null ? '—' : (m.share === null ? String(m.value) : `${m.value} (${m.share}%)`);
        assert(key === m.measure && cell === want, `${p.period} ${m.measure}: shown ${cell}, published ${want}`);
        if (m.value !== null) {
          published++;
          assert(m.value >= api.k && m.value % 5 === 0, `a published value is at least k and rounded: ${m.value}`);
        }
      });
    });
    assert(published > 0, `the demo data publishes some ${step} rates`);
    assert((await text(page, '#record-rates-release')).includes(api.release_label), 'the release is named');
  }
  // The CSV: header first, one line per period, an absent value an empty field.
  const csv = await downloadText(page, '#record-rates-csv');
  assert(csv.name === `ctxmap-record-rates-release-${api.release}-${api.step}.csv`, `file name ${csv.name}`);
  const lines = csv.text.trimEnd().split('\n');
  const head = lines[0].split(',');
  assert(head[0] === 'period' && head.includes(api.measures[0].name) && lines.length - 1 === api.points.length, `the CSV: ${lines[0]}, ${lines.length - 1} rows`);
  const col = head.indexOf(api.measures[0].name);
  api.points.forEach((p, i) => {
    const v = lines[i + 1].split(',')[col];
    assert(v === (p.measures[0].value === null ? '' : String(p.measures[0].value)), `CSV ${p.period}: ${v}`);
  });
  await screenshot(page, 'record-rates');
});
