// Before and after in the context panel (issue 12): an analyst opens a demo
// context with interventions and sees the published values around its first
// intervention as a chart and a table, with the caveat in words; the table
// says what the API says, month by month, and never shows 0 for a month that
// was not published. Changing the window asks the server again.
import { openPage, login, assert, checkClean, screenshot } from './lib.mjs';

const analyst = process.env.CTXMAP_ANALYST || 'demo-analyst';

/** A demo context with a place and at least one intervention, found through the API. */
async function contextWithIntervention(page) {
  return page.evaluate(async () => {
    const near = await (await fetch('/api/v1/contexts?near=51.5433,-0.0666&radius_m=20000', { credentials: 'same-origin' })).json();
    for (const c of near.contexts) {
      const rec = await (await fetch(`/api/v1/contexts/${c.id}`, { credentials: 'same-origin' })).json();
      if (rec.interventions.length && rec.lat !== undefined) return rec.id;
    }
    return null;
  });
}

async function tableRows(page) {
  return page.$$eval('#detail-ba-body tbody tr', (trs) => trs.map((tr) => ({
    month: tr.dataset.month, cells: [...tr.children].map((td) => td.textContent),
  })));
}

export const tests = [{
  name: 'analyst: a context panel shows before and after its first intervention as a chart and a table with the caveat',
  fn: async (browser) => {
    const page = await openPage(browser);
    try {
      await login(page, analyst);
      const id = await contextWithIntervention(page);
      assert(id, 'the demo data has a context with an intervention');
      await page.evaluate((cid) => window.ctxmapApp.detail.open(cid), id);
      await page.locator('#detail-ba-body table').waitFor({ state: 'visible', timeout: 20000 });
      const api = await page.evaluate(async (cid) => (await fetch(`/api/v1/before-after?context=${cid}&window=6`, { credentials: 'same-origin' })).json(), id);
      const rows = await tableRows(page);
      assert(rows.length === 13 && api.points.length === 13, `6 months either side and the month itself: ${rows.length} rows`);
      for (const [i, p] of api.points.entries()) {
        const r = rows[i];
        assert(r.month === p.month, `row ${i} is ${r.month}, the API says ${p.month}`);
        if (p.value === null) {
          assert(r.cells[2] === '\u2014' && /^(no|not released)/.test(r.cells[3]), `${p.month}: unpublished shows as "${r.cells.join(' | ')}", never 0`);
        } else {
          assert(r.cells[2] === String(p.value), `${p.month}: table ${r.cells[2]}, API ${p.value}`);
        }
      }
      const mid = rows.find((r) => /Month of interest/.test(r.cells[1]));
      assert(mid && mid.month === api.month, `the month of interest is marked: ${mid && mid.month} vs ${api.month}`);
      const text = await page.textContent('#detail-ba-body');
      assert(/perturbed and rounded/.test(text) && /fewer than \d+ young people, or none/.test(text), 'the caveat is in words');
      assert(/Data release .* \(no\. \d+\)/.test(text), 'the release is named');
      const svg = await page.$eval('#detail-ba-body svg', (s) => ({ role: s.getAttribute('role'), title: s.querySelector('title').textContent, bars: s.querySelectorAll('rect').length }));
      assert(svg.role === 'img' && /before and after/.test(svg.title) && svg.bars === 13, `the chart is labelled, one mark per month: ${JSON.stringify(svg)}`);
      await page.locator('#detail-ba-body').scrollIntoViewIfNeeded();
      await screenshot(page, 'before-after');
      await page.selectOption('#ba-window', '3');
      await page.waitForFunction(() => document.querySelectorAll('#detail-ba-body tbody tr').length === 7, null, { timeout: 15000 });
      checkClean(page);
    } finally {
      await page.context().close();
    }
  },
}];
