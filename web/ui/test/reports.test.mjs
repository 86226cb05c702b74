// The reports page (issue 12, reports for commissioning), in a real Chromium
// against the real server with the demo data: an analyst opens it from the
// map, reads a report whose codes are shown as the server's labels, sees
// small link counts only as "fewer than k", prints it without the form and
// downloads its CSV, whose first line is its header.
import { readFileSync } from 'node:fs';
import { openPage, login, assert, checkClean, screenshot } from './lib.mjs';

const analyst = process.env.CTXMAP_ANALYST || 'demo-analyst';

/** The texts of a table's header and body cells. */
async function tableText(page, id) {
  return page.evaluate((sel) => {
    const t = document.querySelector(sel);
    return {
      head: [...t.querySelectorAll('thead th')].map((th) => th.textContent),
      keys: [...t.querySelectorAll('thead th')].map((th) => th.dataset.key),
      rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
    };
  }, `#${id}`);
}

export const reportTests = [{
  name: 'reports: an analyst reads, prints and downloads a report; link counts under k read "fewer than k"',
  fn: async (browser) => {
    const page = await openPage(browser);
    try {
      await login(page, analyst);
      assert(await page.isVisible('#reports-link'), 'the analyst is offered the reports');
      await page.click('#reports-link');
      await page.locator('#report-summary').waitFor({ state: 'visible' });
      const catalogue = await page.evaluate(() => fetch('/api/v1/reports').then((r) => r.json()));
      const offered = await page.$$eval('#report-name option', (os) => os.map((o) => o.value));
      assert(JSON.stringify(offered) === JSON.stringify(catalogue.reports.map((r) => r.name)), `the page offers the server's reports: ${offered}`);

      // The first report (interventions per month): headings and labels from the server.
      const first = catalogue.reports[0];
      await page.locator('#report-table').waitFor({ state: 'visible' });
      const iv = await tableText(page, 'report-table');
      assert(iv.rows.length > 0, 'the demo data has interventions to report');
      assert(iv.keys.includes('partner_agency') && iv.keys.includes('status') && iv.keys.includes('side'), `grouped by ${first.groupings.map((g) => g.key)}: ${iv.keys}`);
      const agencyCol = iv.keys.indexOf('partner_agency');
      const agencyLabels = catalogue.vocab.partner_agency.map((t) => t.label);
      assert(iv.rows.every((r) => agencyLabels.includes(r[agencyCol])), 'agencies are shown by their labels');
      assert(iv.rows.every((r) => r.every((c) => !/^[a-z]+_[a-z_]+$/.test(c))), 'no raw code is shown');

      // Reviews within a year: every open demo context, with link counts.
      await page.selectOption('#report-name', 'reviews');
      await page.fill('#report-due', '365');
      await page.click('#report-form button[type=submit]');
      await page.waitForFunction(() => document.querySelector('#report-output h2')?.textContent.startsWith('Reviews'), null, { timeout: 15000 });
      await page.locator('#report-table').waitFor({ state: 'visible' });
      const rv = await tableText(page, 'report-table');
      const ypCol = rv.keys.indexOf('young_people');
      assert(rv.rows.length > 0 && ypCol >= 0, `reviews rows ${rv.rows.length}, columns ${rv.keys}`);
      const k = catalogue.k;
      for (const r of rv.rows) {
        const c = r[ypCol];
        assert(/^(\d+|fewer than \d+|at least \d+)$/.test(c), `a link count in words: ${c}`);
        assert(!/^\d+$/.test(c) || Number(c) >= k, `an analyst never sees an exact count under ${k}: ${c}`);
      }
      assert(rv.rows.some((r) => r[ypCol] === `fewer than ${k}`), 'small counts read "fewer than k"');
      await screenshot(page, 'reports');

      // Printed, the form is gone and the report stays.
      await page.emulateMedia({ media: 'print' });
      assert(!(await page.isVisible('#report-form')) && await page.isVisible('#report-table'), 'print shows the report only');
      await page.emulateMedia({ media: 'screen' });

      // The CSV download: header first, then one line per row shown.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#report-csv')]);
      const text = readFileSync(await download.path(), 'utf8');
      const lines = text.trimEnd().split('\n');
      assert(lines[0].startsWith('context_id,display_name,kind,kind_label'), `the first line is the header: ${lines[0]}`);
      assert(lines[0].split(',').includes('young_people'), 'the header names the link count');
      assert(lines.length - 1 === rv.rows.length, `CSV rows ${lines.length - 1} = table rows ${rv.rows.length}`);
      assert(download.suggestedFilename() === 'ctxmap-reviews.csv', `file name ${download.suggestedFilename()}`);
      checkClean(page);
    } finally {
      await page.context().close();
    }
  },
}];
