// Before and after in the context panel (issue 12): an analyst opens a demo
// context with interventions and sees the published values around its first
// intervention as a chart and a table, with the caveat in words; the table
// says what the API says, month by month, and never shows 0 for a month that
// was not published. Changing the window asks the server again. The same in
// the analyst's area panel, for two hexagons picked on the map and a month
// the analyst types. Both panels' CSV downloads hold the table's rows.
import {
  openPage, login, assert, checkClean, screenshot, zoomToResolution7, clickHexagon, downloadText,
} from './lib.mjs';

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

async function tableRows(page, body = '#detail-ba-body') {
  return page.$$eval(`${body} tbody tr`, (trs) => trs.map((tr) => ({
    month: tr.dataset.month, cells: [...tr.children].map((td) => td.textContent),
  })));
}

/** The table says what the API says, month by month; an unpublished month is "—", never 0. */
function assertTableIsAPI(rows, api) {
  assert(rows.length === api.points.length, `table rows ${rows.length}, API points ${api.points.length}`);
  for (const [i, p] of api.points.entries()) {
    const r = rows[i];
    assert(r.month === p.month, `row ${i} is ${r.month}, the API says ${p.month}`);
    if (p.value === null) {
      assert(r.cells[2] === '\u2014' && /^(no|not released)/.test(r.cells[3]), `${p.month}: unpublished shows as "${r.cells.join(' | ')}", never 0`);
    } else {
      assert(r.cells[2] === String(p.value), `${p.month}: table ${r.cells[2]}, API ${p.value}`);
    }
  }
}

/** The CSV download at selector: header first, then the table's rows in order, an unpublished month an empty value. */
async function assertCSVIsTable(page, selector, rows) {
  const csv = await downloadText(page, selector);
  const lines = csv.text.replace(/\n$/, '').split('\n');
  const head = lines[0].split(',');
  assert(/^ctxmap-before-after-.*\.csv$/.test(csv.name), `the file is named for what it holds: ${csv.name}`);
  assert(head[0] === 'month' && head.includes('value') && head.includes('release'), `the first line is the header: ${lines[0]}`);
  assert(lines.length === rows.length + 1, `CSV rows ${lines.length - 1}, table rows ${rows.length}`);
  const [month, value] = [head.indexOf('month'), head.indexOf('value')];
  rows.forEach((r, i) => {
    const f = lines[i + 1].split(',');
    assert(f.length === head.length, `CSV row ${i + 1} has ${f.length} fields, the header ${head.length}: ${lines[i + 1]}`);
    assert(f[month] === r.month && f[value] === (r.cells[2] === '\u2014' ? '' : r.cells[2]),
      `CSV row ${lines[i + 1]} for the table's ${r.month}: ${r.cells[2]}`);
  });
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
      assertTableIsAPI(rows, api);
      await assertCSVIsTable(page, '#detail-ba-csv', rows);
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
}, {
  name: 'analyst: before and after for two hexagons picked on the map: the table is the API\'s answer for those cells, the CSV the table',
  fn: async (browser) => {
    const page = await openPage(browser);
    try {
      await login(page, analyst);
      await zoomToResolution7(page);
      const a = await clickHexagon(page);
      await page.locator('#trend svg.trend-chart').waitFor({ state: 'visible', timeout: 20000 });
      const b = await clickHexagon(page, { skip: [a.h3], add: true });
      await page.waitForFunction(() => /Area of 2 hexagons/.test(document.querySelector('#trend h3')?.textContent || ''), null, { timeout: 20000 });

      // Closed until asked for; opening it loads the default month: the release's last month minus 6.
      assert(!(await page.isVisible('#trend-ba-body table')), 'before and after loads only when opened');
      await page.click('#trend-ba summary');
      await page.locator('#trend-ba-body table').waitFor({ state: 'visible', timeout: 20000 });
      const rel = await page.evaluate(async () => (await (await fetch('/api/v1/config', { credentials: 'same-origin' })).json()).release);
      const [y, m] = rel.last_month.split('-').map(Number);
      const t = y * 12 + m - 1 - 6;
      const want = `${Math.floor(t / 12)}-${String(t % 12 + 1).padStart(2, '0')}`;
      assert(await page.inputValue('#trend-ba-month') === want, `the month defaults to ${want}: ${await page.inputValue('#trend-ba-month')}`);

      const ask = (month, window) => page.evaluate(async (q) => (await fetch(`/api/v1/before-after?${new URLSearchParams(q)}`, { credentials: 'same-origin' })).json(),
        { cells: `${a.h3},${b.h3}`, month, window: String(window), layer: 'harm' });
      let api = await ask(want, 6);
      assert(api.area.cells.length === 2 && [a.h3, b.h3].every((c) => api.area.cells.includes(c)), `the API sums the two hexagons: ${api.area.cells}`);
      let rows = await tableRows(page, '#trend-ba-body');
      assert(rows.length === 13, `6 months either side and the month itself: ${rows.length} rows`);
      assertTableIsAPI(rows, api);
      const title = await page.$eval('#trend-ba-body svg title', (t) => t.textContent);
      assert(/Area of 2 hexagons/.test(title) && /6 months before and after/.test(title), `the chart names the area and the window: ${title}`);
      const text = await page.textContent('#trend-ba-body');
      assert(/perturbed and rounded/.test(text) && /Data release .* \(no\. \d+\)/.test(text), 'the caveat and the release are in words');
      await assertCSVIsTable(page, '#trend-ba-csv', rows);

      // Another month and window, typed and chosen: the table follows, month by month. The month
      // before the release's last has months after it that are not released: null, so never 0.
      const t2 = t + 5;
      const other = `${Math.floor(t2 / 12)}-${String(t2 % 12 + 1).padStart(2, '0')}`;
      await page.fill('#trend-ba-month', other);
      await page.selectOption('#trend-ba-window', '3');
      await page.waitForFunction((mo) => {
        const trs = document.querySelectorAll('#trend-ba-body tbody tr');
        return trs.length === 7 && trs[3].dataset.month === mo;
      }, other, { timeout: 20000 });
      api = await ask(other, 3);
      rows = await tableRows(page, '#trend-ba-body');
      assertTableIsAPI(rows, api);
      assert(api.points.filter((p) => !p.released && p.value === null).length === 2, `two months after the release's last are not released yet: ${JSON.stringify(api.points)}`);
      assert(rows.some((r) => r.cells[2] !== '\u2014'), `some month of the busiest hexagons is published: ${rows.map((r) => r.cells[2]).join(' ')}`);
      await assertCSVIsTable(page, '#trend-ba-csv', rows);
      await page.locator('#trend-ba').scrollIntoViewIfNeeded();
      await screenshot(page, 'area-before-after');
      checkClean(page);
    } finally {
      await page.context().close();
    }
  },
}];
