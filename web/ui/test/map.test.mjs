// The map UI's acceptance tests (issue 6), in a real Chromium against the
// real server and PostGIS with the demo data. Every test also checks that
// the page asked no host but the server and logged no console error.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  login, waitForMap, heatFeatures, screenshot, assert, lastCompleteMonth, baseURL,
  waitForHexagons, downloadText, zoomToResolution7, clickHexagon, suite,
} from './lib.mjs';

const users = {
  practitioner: process.env.CTXMAP_PRACTITIONER || 'demo-practitioner',
  lead: process.env.CTXMAP_LEAD || 'demo-lead',
  analyst: process.env.CTXMAP_ANALYST || 'demo-analyst',
  admin: process.env.CTXMAP_ADMIN || 'demo-admin',
};
const postcode = process.env.CTXMAP_TEST_POSTCODE || '';

const { tests, test } = suite();
export { tests };

/** Tile URLs of one kind the page requested, from index `since` on. */
function tileRequests(page, kind, since = 0) {
  return page.requests.slice(since).filter((u) => u.includes(`/tiles/${kind}/`));
}

/** Wait until the page has asked for at least one tile of kind since index `since`. */
async function waitForTileRequests(page, kind, since, timeout = 15000) {
  const t0 = Date.now();
  while (tileRequests(page, kind, since).length === 0) {
    if (Date.now() - t0 > timeout) throw new Error(`no ${kind} tile requested within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitForMap(page);
  return tileRequests(page, kind, since);
}

test('sign-in: a wrong password shows the server\'s message; the right one shows the map', async (open) => {
  const page = await open({ allow: [[401, /\/api\/v1\/session$/]] });
  await page.goto('/');
  await page.locator('#login-name').waitFor({ state: 'visible' });
  await screenshot(page, 'login');
  await page.fill('#login-name', users.practitioner);
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error').waitFor({ state: 'visible' });
  const msg = (await page.textContent('#login-error')).trim();
  assert(msg.length > 3, 'an error message is shown');
  await page.fill('#login-password', process.env.CTXMAP_DEMO_PASSWORD || 'ctxmap-demo');
  await page.click('#login-form button[type=submit]');
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await waitForMap(page);
  const who = await page.textContent('#whoami-text');
  assert(who.includes(users.practitioner) && who.includes('practitioner'), `whoami shows the user and role: ${who}`);
  // A practitioner gets the recording panels, not the analyst's export.
  assert(await page.isVisible('#panel-record'), 'practitioner sees the record panel');
  assert(!(await page.isVisible('#export-link')), 'practitioner does not see the CSV export');
  // The session survives a reload (cookie) and sign-out ends it.
  await page.reload();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await waitForMap(page);
  await page.click('#signout');
  await page.locator('#login-view').waitFor({ state: 'visible' });
});

test('heat: the heat layer draws hexagons, with a legend of bands in words', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await waitForHexagons(page);
  const feats = await heatFeatures(page);
  assert(feats.length > 0, 'queryRenderedFeatures finds hexagons');
  for (const f of feats) {
    assert(/^[0-9a-f]{15}$/.test(f.h3), `h3 is a cell id string: ${f.h3}`);
    assert([6, 7, 8].includes(Number(f.res)), `res is 6..8: ${f.res}`);
    assert(Number(f.value) > 0 && Number(f.value) % 5 === 0, `value is rounded to 5: ${f.value}`);
  }
  const legend = await page.$$eval('#legend li', (lis) => lis.map((li) => li.textContent));
  assert(legend.length >= 4 && legend.every((t) => /\d/.test(t)), `legend bands have numbers in text: ${legend}`);
  const note = await page.textContent('#disclosure-note');
  assert(/rounded/.test(note) && /fewer than \d+/.test(note), 'the disclosure rules are stated');
  // The hexagons in view are also listed as text.
  await page.click('#cells-in-view > summary');
  await page.waitForFunction(() => document.querySelectorAll('#cells-table tbody tr').length > 0);
  // Only the server was asked: no CDN, no foreign basemap, no glyph server (fonts come from ctxmap).
  assert(tileRequests(page, 'heat').length > 0, 'heat tiles were requested from the server');
  const shot = await screenshot(page, 'map-analyst');
  const share = await paintedShare(page);
  assert(share > 0.01, `the map shows drawn hexagons, not just the background: ${(share * 100).toFixed(1)}% (${shot})`);
});

/**
 * Share of the map's screenshot pixels that are neither the blank style's
 * background nor the boundary's white fill. The WebGL canvas cannot be read
 * back (no preserveDrawingBuffer), so the screenshot is decoded in the page.
 */
async function paintedShare(page) {
  const png = await page.locator('#map').screenshot();
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const plain = [[233, 233, 228], [255, 255, 255]];
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (plain.every(([r, gg, bb]) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - gg) + Math.abs(d[i + 2] - bb) > 40)) n++;
    }
    return n / (d.length / 4);
  }, png.toString('base64'));
}

test('heat: changing the category changes the tile requests and the URL', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await waitForHexagons(page);
  const allFeatures = await heatFeatures(page);
  const before = tileRequests(page, 'heat');
  assert(before.length > 0 && before.every((u) => !/[?&]category=/.test(u)), 'all categories: no category parameter');
  const options = await page.$$eval('#heat-category option', (os) => os.map((o) => o.value).filter((v) => v !== 'all'));
  assert(options.length > 0, 'categories come from the taxonomy');
  const cat = options.includes('cse') ? 'cse' : options[0];
  const mark = page.requests.length;
  await page.selectOption('#heat-category', cat);
  await page.waitForFunction((c) => location.hash.includes(`category=${c}`), cat);
  const after = await waitForTileRequests(page, 'heat', mark);
  assert(after.length > 0, 'new heat tiles were requested');
  assert(after.every((u) => u.includes(`category=${encodeURIComponent(cat)}`)), `the new requests carry category=${cat}: ${after[0]}`);
  // The drawn hexagons change, not only the URL: they are the category's
  // published cells, as the cells API gives them for the same release.
  await waitForMap(page);
  const drawnAll = allFeatures;
  const drawnCat = await heatFeatures(page);
  assert(drawnCat.length > 0, `category ${cat} draws hexagons`);
  const key = (fs) => JSON.stringify([...new Set(fs.map((f) => `${f.h3}=${f.value}`))].sort());
  assert(key(drawnCat) !== key(drawnAll), `the hexagons drawn for ${cat} are those of all categories`);
  const res = drawnCat[0].res;
  const api = await page.evaluate(async ([c, r]) => {
    const resp = await fetch(`/api/v1/heat/cells?res=${r}&category=${c}&period=last-12m`);
    return (await resp.json()).cells;
  }, [cat, res]);
  const published = new Map(api.map((c) => [c.h3, c.value]));
  for (const f of drawnCat) {
    assert(published.get(f.h3) === f.value, `hexagon ${f.h3} drawn as ${f.value}, published for ${cat} as ${published.get(f.h3)}`);
  }
  // The layer and period filters change the requests too.
  const mark2 = page.requests.length;
  await page.check('input[name="layer"][value="unsafe"]');
  await page.selectOption('#heat-period', 'last-6m');
  await waitForTileRequests(page, 'heat', mark2);
  const after2 = tileRequests(page, 'heat', mark2);
  assert(after2.some((u) => u.includes('layer=unsafe') && u.includes('period=last-6m')), 'layer and period reach the tile URL');
});

test('view: the URL keeps centre, zoom and filters, and a reload restores them', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await page.selectOption('#heat-period', 'last-3m');
  await page.evaluate(() => window.ctxmapMap.jumpTo({ center: [-0.07, 51.55], zoom: 13.5 }));
  await waitForMap(page);
  await page.waitForFunction(() => /map=13\.50\/51\.55000\/-0\.07000/.test(location.hash));
  const hash = await page.evaluate(() => location.hash);
  assert(hash.includes('period=last-3m'), `hash has the period: ${hash}`);
  const page2 = await open();
  await page2.goto(`/${hash}`);
  await page2.locator('#login-name').waitFor({ state: 'visible' });
  await page2.fill('#login-name', users.analyst);
  await page2.fill('#login-password', process.env.CTXMAP_DEMO_PASSWORD || 'ctxmap-demo');
  await page2.click('#login-form button[type=submit]');
  await page2.locator('#app-view').waitFor({ state: 'visible' });
  await waitForMap(page2);
  const state = await page2.evaluate(() => ({ c: window.ctxmapMap.getCenter(), z: window.ctxmapMap.getZoom(), period: document.querySelector('#heat-period').value }));
  assert(Math.abs(state.z - 13.5) < 0.01 && Math.abs(state.c.lng + 0.07) < 1e-4 && Math.abs(state.c.lat - 51.55) < 1e-4, `view restored: ${JSON.stringify(state)}`);
  assert(state.period === 'last-3m', 'period restored');
});

test(`search: ${postcode ? 'a postcode' : 'a lat,lon'} lists nearby context records with their distance`, async (open) => {
  const page = await open();
  await login(page, users.practitioner);
  await page.fill('#search-q', postcode || '51.5433,-0.0666');
  await page.selectOption('#search-radius', '2000');
  await page.press('#search-q', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#search-results li').length > 0 || !document.querySelector('#search-error').hidden, null, { timeout: 20000 });
  const err = await page.$eval('#search-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!err, `search error: ${err}`);
  const items = await page.$$eval('#search-results li', (lis) => lis.map((li) => li.textContent));
  assert(items.length > 0, 'nearby contexts are listed');
  assert(items.every((t) => /\d+(\.\d)? (m|km)/.test(t)), `each result shows a distance: ${items[0]}`);
  const summary = await page.textContent('#search-summary');
  assert(/context record/.test(summary), `summary: ${summary}`);
  await waitForMap(page);
  const centre = await page.evaluate(() => window.ctxmapMap.getCenter());
  assert(Math.abs(centre.lat - 51.5433) < 0.01 && Math.abs(centre.lng + 0.0666) < 0.01, `the map flew to the place: ${JSON.stringify(centre)}`);
  await screenshot(page, 'search');
  // A result opens the record panel: counts and teams, never who.
  await page.click('#search-results li:first-child button');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.waitForFunction(() => /linked to this context/.test(document.querySelector('#detail-body').textContent), null, { timeout: 15000 });
  // The open record is part of the shareable view: a reload reopens it.
  const title = await page.textContent('#detail-title');
  assert(await page.evaluate(() => /[#&]context=\d+/.test(location.hash)), 'the open record is in the URL');
  await page.reload();
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.waitForFunction((t) => document.querySelector('#detail-title').textContent === t, title, { timeout: 15000 });
  await waitForMap(page);
});

test('practitioner: records a harm location and sees it on the young person\'s list', async (open) => {
  const page = await open();
  await login(page, users.practitioner);
  const subject = `BROWSER-${Date.now()}`;
  await page.click('#panel-record > summary');
  await page.fill('#rec-subject', subject);
  await page.check('#rec-cat-0');
  await page.check('#rec-cat-1');
  await page.fill('#rec-occurred', lastCompleteMonth());
  await page.check('input[name="rec-layer"][value="harm"]');
  await page.selectOption('#rec-familial', 'extra');
  await page.selectOption('#rec-source', 'safety_map');
  await page.selectOption('#rec-location-type', 'park');
  if (postcode) {
    await page.fill('#rec-postcode', postcode);
  } else {
    await page.check('input[name="rec-where"][value="point"]');
    await page.click('#rec-pick');
    const box = await page.locator('#map canvas').boundingBox();
    await page.mouse.click(box.x + box.width / 2 + 30, box.y + box.height / 2 + 20);
    await page.waitForFunction(() => document.querySelector('#rec-lat').value !== '');
  }
  await page.click('#record-form button[type=submit]');
  // Opening the young person's list asks why (the server logs the purpose with the read).
  await page.waitForFunction(() => document.querySelector('#dialog').open || !document.querySelector('#record-error').hidden, null, { timeout: 20000 });
  if (await page.evaluate(() => document.querySelector('#dialog').open)) {
    await page.selectOption('#dlg-purpose', 'assessment');
    await page.click('#dialog-ok');
  }
  await page.waitForFunction(() => document.querySelectorAll('#subject-table tbody tr').length > 0 || !document.querySelector('#record-error').hidden, null, { timeout: 20000 });
  const err = await page.$eval('#record-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!err, `record error: ${err}`);
  const rows = await page.$$eval('#subject-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert(rows.length === 1, `one record on the list: ${rows.length}`);
  assert(/Harm happened/.test(rows[0]), `the list shows the record: ${rows[0]}`);
  await screenshot(page, 'practitioner-record');
  // The list can be fetched again later by the subject id.
  await page.fill('#subject-id', subject);
  await page.click('#subject-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#subject-table tbody tr').length === 1);
  // Never a point of harm on the map: only the heat, boundary, search and pick layers exist.
  const layers = await page.evaluate(() => window.ctxmapMap.getStyle().layers.map((l) => l.id));
  assert(!layers.some((l) => /harm-loc|points/.test(l)), `no point layer of harm: ${layers}`);
});

test('practitioner: links a young person to a context; the record shows how many and which teams, never who', async (open) => {
  const page = await open();
  await login(page, users.practitioner);
  await page.fill('#search-q', '51.5433,-0.0666');
  await page.press('#search-q', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#search-results li').length > 0, null, { timeout: 20000 });
  await page.click('#search-results li:first-child button');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.waitForFunction(() => /linked to this context/.test(document.querySelector('#detail-body').textContent), null, { timeout: 15000 });
  const countOf = () => page.evaluate(() => Number((/(\d+) young (?:person is|people are) linked/.exec(document.querySelector('#detail-body').textContent) || [])[1]));
  const before = await countOf();
  const subject = `LINK-${Date.now()}`;
  await page.click('#detail-body button:has-text("Link a young person")');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.fill('#dlg-subject', subject);
  await page.fill('#dlg-reason', 'Seen here with older peers on several evenings.');
  await page.click('#dialog-ok');
  await page.waitForFunction(() => !document.querySelector('#dialog').open || !document.querySelector('#dialog-error').hidden);
  const dlgErr = await page.$eval('#dialog-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!dlgErr, `the link was refused: ${dlgErr}`);
  await page.waitForFunction((n) => {
    const t = document.querySelector('#detail-body').textContent;
    return new RegExp(`${n + 1} young (person is|people are) linked`).test(t);
  }, before, { timeout: 15000 });
  const text = await page.textContent('#detail-body');
  assert(!text.includes(subject), 'the record never shows the subject id');
  assert(/Your team's links/.test(text), 'the practitioner sees their own team\'s link, with Unlink');
  await screenshot(page, 'practitioner-link');
});

/** The trend table's rows as [label, value text]. */
async function trendRows(page) {
  return page.$$eval('#trend-table tbody tr', (trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
}

const monthTick = /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$/;

test('analyst: a hexagon\'s trend, then shift-click makes an area whose trend sums its hexagons; axes say month and year; quarters; CSV of the table', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await zoomToResolution7(page);
  const pt = await clickHexagon(page);
  await page.locator('#trend svg.trend-chart').waitFor({ state: 'visible', timeout: 20000 });
  const rows = await trendRows(page);
  assert(rows.length >= 12, `a table of months: ${rows.length}`);
  assert(rows.every(([label]) => monthTick.test(label)), `months named with their year: ${rows.map((r) => r[0]).join(', ')}`);
  const ticks = await page.$$eval('#trend svg text.tick', (ts) => ts.map((t) => t.textContent));
  assert(ticks.length >= 3 && ticks.every((t) => monthTick.test(t)) && new Set(ticks).size === ticks.length, `axis labels: ${ticks.join(', ')}`);
  const title = await page.textContent('#trend h3');
  assert(title.includes(pt.h3), `the trend names the hexagon: ${title}`);
  assert(await page.evaluate(() => location.hash.includes('cell=')), 'the selected cell is in the URL');

  // Shift-click a second hexagon: the area's trend is the sum of the two hexagons' published values.
  const pt2 = await clickHexagon(page, { skip: [pt.h3], add: true });
  await page.waitForFunction(() => /Area of 2 hexagons/.test(document.querySelector('#trend h3')?.textContent || ''), null, { timeout: 20000 });
  const area = await trendRows(page);
  const sums = await page.evaluate(async ([a, b]) => {
    const one = async (c) => (await (await fetch(`/api/v1/trends?h3=${c}&${new URLSearchParams(window.ctxmapApp.trendQuery()).toString().replace(/(^|&)h3=[^&]*/, '')}`)).json()).points;
    const [pa, pb] = [await one(a), await one(b)];
    return pa.map((p, i) => (p.value === null && pb[i].value === null ? null : (p.value || 0) + (pb[i].value || 0)));
  }, [pt.h3, pt2.h3]);
  assert(area.length === sums.length, `area rows ${area.length}, single-cell rows ${sums.length}`);
  area.forEach(([label, v], i) => assert(v === (sums[i] === null ? '\u2014' : String(sums[i])), `${label}: area ${v}, the hexagons' published values sum to ${sums[i]}`));

  // Quarters.
  await page.check('input[name="trend-step"][value="quarter"]');
  await page.waitForFunction(() => /by quarter/.test(document.querySelector('#trend h3')?.textContent || ''), null, { timeout: 20000 });
  const quarters = await trendRows(page);
  assert(quarters.length >= 7 && quarters.every(([label]) => /^Q[1-4] \d{4}/.test(label)), `quarters: ${quarters.map((r) => r[0]).join(', ')}`);

  // The table as CSV: header first, one row per quarter, null as an empty value.
  const csv = await downloadText(page, '#trend-csv');
  const lines = csv.text.trim().split('\n');
  assert(/\.csv$/.test(csv.name) && lines[0].startsWith('period,label,first_month,last_month,value,published_cells,'), `trend CSV ${csv.name}: ${lines[0]}`);
  assert(lines.length === quarters.length + 1, `trend CSV rows ${lines.length - 1}, table rows ${quarters.length}`);
  quarters.forEach(([label, v], i) => {
    const f = lines[i + 1].split(',');
    assert(f[1] === label && f[4] === (v === '\u2014' ? '' : v), `CSV row ${lines[i + 1]} for ${label} ${v}`);
  });
  await page.locator('#panel-trend').scrollIntoViewIfNeeded();
  const shot = await screenshot(page, 'map-trend');
  const docs = process.env.CTXMAP_DOCS;
  if (docs && (process.env.CTXMAP_UPDATE_SCREENSHOT === '1' || !existsSync(join(docs, 'screenshot-map.png')))) {
    mkdirSync(docs, { recursive: true });
    copyFileSync(shot, join(docs, 'screenshot-map.png'));
  }
});

test('analyst: a ward from the server\'s list shows its trend; when every month is suppressed quarters are offered', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await page.locator('#panel-trend summary').click();
  await page.locator('#trend-ward-field').waitFor({ state: 'visible', timeout: 10000 });
  const wards = await page.$$eval('#trend-ward option', (os) => os.map((o) => ({ id: o.value, name: o.textContent })).filter((o) => o.id));
  assert(wards.length >= 15, `wards listed: ${wards.length}`);
  await page.selectOption('#trend-ward', wards[0].id);
  await page.waitForFunction((n) => (document.querySelector('#trend h3')?.textContent || '').startsWith(`Ward ${n}`), wards[0].name, { timeout: 20000 });
  const title = await page.textContent('#trend h3');
  assert(/hexagons? of resolution 8 whose centres fall inside/.test(title), `the title says what the ward stands for: ${title}`);
  const rows = await trendRows(page);
  assert(rows.length >= 12 && rows.every(([label]) => monthTick.test(label)), `ward months: ${rows.length}`);
  const offered = await page.isVisible('#trend-offer-quarters');
  const allNull = rows.every(([, v]) => v === '\u2014');
  assert(offered === allNull, `quarters offered ${offered}, every month suppressed ${allNull}`);
  if (offered) {
    await page.click('#trend-offer-quarters');
    await page.waitForFunction(() => /by quarter/.test(document.querySelector('#trend h3')?.textContent || ''), null, { timeout: 20000 });
    assert(await page.isChecked('input[name="trend-step"][value="quarter"]'), 'the step control follows');
    const q = await trendRows(page);
    assert(q.length >= 7 && q.every(([label]) => /^Q[1-4] \d{4}/.test(label)), `ward quarters: ${q.map((r) => r[0]).join(', ')}`);
  }
  assert(await page.evaluate(() => location.hash.includes('ward=')), 'the ward is in the URL');
  await screenshot(page, 'map-ward-trend');
});

test('analyst: the exports follow the filters and the view; the GeoJSON download holds the view\'s hexagons', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await page.evaluate(() => window.ctxmapMap.jumpTo({ zoom: 12.5 }));
  await waitForMap(page);
  await waitForHexagons(page);
  await page.evaluate(() => window.ctxmapApp.updateExportLink());
  const href = await page.getAttribute('#export-link', 'href');
  assert(/^\/api\/v1\/exports\/heat\.csv\?/.test(href) && /layer=harm/.test(href) && /period=/.test(href) && /res=8/.test(href) && /bbox=/.test(href), `CSV link: ${href}`);
  const csv = await page.evaluate(async (u) => { const r = await fetch(u); return { status: r.status, type: r.headers.get('content-type'), text: await r.text() }; }, href);
  assert(csv.status === 200 && /csv/.test(csv.type) && csv.text.startsWith('h3,res,value,period,layer,category,release,release_data_time,release_months,lat,lon\n'), `CSV starts with its header: ${csv.text.slice(0, 120)}`);
  const meta = await page.evaluate(async (u) => (await fetch(u)).json(), await page.getAttribute('#export-meta-link', 'href'));
  const row = csv.text.split('\n')[1].split(',');
  assert(row[6] === String(meta.release.id) && row[7] === meta.release.data_time && row[8] === `${meta.release.first_month}/${meta.release.last_month}`,
    `each row names its release (id, data time, months covered): ${row.join(',')}`);
  assert(meta.cells === csv.text.trim().split('\n').length - 1 && meta.bbox && meta.bbox.length === 4, `metadata: ${JSON.stringify(meta).slice(0, 200)}`);
  const gj = await downloadText(page, '#export-geojson-link');
  const doc = JSON.parse(gj.text);
  assert(/\.geojson$/.test(gj.name) && doc.type === 'FeatureCollection' && doc.features.length === meta.cells && meta.cells > 0, `GeoJSON ${gj.name}: ${doc.features.length} features, metadata ${meta.cells}`);
  const f = doc.features[0];
  assert(f.geometry.type === 'Polygon' && f.geometry.coordinates[0].length === 7 && typeof f.properties.h3 === 'string' && f.properties.release === meta.release.id,
    `a hexagon feature: ${JSON.stringify(f).slice(0, 200)}`);
  // Without the view limit the link drops the bbox.
  await page.uncheck('#export-view');
  assert(!/bbox=/.test(await page.getAttribute('#export-geojson-link', 'href')), 'unchecked: the whole map');
});

test('context lead: finds a record with the keyboard only, adds an assessment note and sees it', async (open) => {
  const page = await open();
  await login(page, users.lead);
  // Keyboard only from here: Tab to the search box, type, Enter.
  await page.focus('#search-q');
  await page.keyboard.type('51.5433,-0.0666');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#search-results li').length > 0, null, { timeout: 20000 });
  await page.focus('#search-results li:first-child button');
  await page.keyboard.press('Enter');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.activeElement && document.activeElement.closest('#detail'));
  await page.waitForFunction(() => [...document.querySelectorAll('#detail-body button')].some((b) => b.textContent === 'Add an assessment note'), null, { timeout: 15000 });
  // Tab to "Add an assessment note" and press Enter.
  let found = false;
  for (let i = 0; i < 15 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement && document.activeElement.textContent === 'Add an assessment note');
  }
  assert(found, 'Tab reaches "Add an assessment note"');
  await page.keyboard.press('Enter');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  // Letters only: the server refuses numbers that look like case references in thematic notes.
  const tag = Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 8);
  const note = `Browser test: lighting by the entrance is poor, check ${tag}`;
  await page.keyboard.press('ArrowDown'); // the select: move to the second side
  await page.keyboard.press('Tab');
  await page.keyboard.type(note);
  await page.keyboard.press('Tab'); // Save
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('#dialog').open || !document.querySelector('#dialog-error').hidden);
  const dlgErr = await page.$eval('#dialog-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!dlgErr, `the note was refused: ${dlgErr}`);
  await page.waitForFunction((n) => document.querySelector('#detail-body').textContent.includes(n), note, { timeout: 15000 });
  const chron = await page.$$eval('#detail-body .chronology li', (lis) => lis.length);
  assert(chron > 0, 'the chronology lists the changes');
  await screenshot(page, 'context-lead-record');
  await page.keyboard.press('Escape');
  await page.locator('#detail').waitFor({ state: 'hidden' });
});

test('context lead: opens a new context record, a duplicate offers the existing one, closes and reopens it', async (open) => {
  const page = await open({ allow: [[409, /\/api\/v1\/contexts$/]] });
  await login(page, users.lead);
  await page.click('#panel-open-context > summary');
  await page.selectOption('#oc-kind', 'location');
  await page.selectOption('#oc-location-type', 'bus_stop');
  // A point of its own, so reruns against the same database never collide.
  const lon = -0.06 + Math.random() * 0.01, lat = 51.55 + Math.random() * 0.005;
  await page.evaluate(([x, y]) => window.ctxmapMap.jumpTo({ center: [x, y], zoom: 15 }), [lon, lat]);
  await page.click('#oc-centre');
  await page.fill('#oc-description', 'Browser test: reports of older youths waiting here after school.');
  await page.click('#open-context-form button[type=submit]');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.waitForFunction(() => /Bus stop/.test(document.querySelector('#detail-title').textContent), null, { timeout: 15000 });
  assert(await page.isHidden('#open-context-error'), 'no error');
  const title = await page.textContent('#detail-title');
  // The same type at the same point again: offered as a near-duplicate first; opening it
  // anyway is a 409, and the form offers the existing record.
  await page.evaluate(([x, y]) => window.ctxmapMap.jumpTo({ center: [x, y], zoom: 15 }), [lon, lat]);
  await page.click('#oc-centre');
  await page.click('#open-context-form button[type=submit]');
  await page.locator('#open-context-similar').waitFor({ state: 'visible' });
  assert((await page.textContent('#open-context-similar')).includes(title), 'the record at the same spot is offered');
  await page.click('#open-context-anyway');
  await page.locator('#open-context-error').waitFor({ state: 'visible' });
  await page.locator('#open-context-conflict button').waitFor({ state: 'visible' });
  await page.click('#open-context-conflict button');
  await page.waitForFunction((t) => document.querySelector('#detail-title').textContent === t, title, { timeout: 15000 });
  // Close it with evidence under the triangle sides, then reopen it: the chronology keeps both.
  await page.click('#detail-body button:has-text("Close the context")');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.fill('#dlg-ev_needs', 'Young people say they now wait inside the school until the bus comes.');
  await page.fill('#dlg-ev_guardianship', 'Bus company staff now supervise the stop at school closing time.');
  await page.fill('#dlg-ev_environment', 'Shelter relit and the blind corner opened up.');
  await page.fill('#dlg-reason', 'Partners report the stop is calm after the changes.');
  await page.click('#dialog-ok');
  await page.waitForFunction(() => !document.querySelector('#dialog').open || !document.querySelector('#dialog-error').hidden);
  let dlgErr = await page.$eval('#dialog-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!dlgErr, `closing was refused: ${dlgErr}`);
  await page.waitForFunction(() => document.querySelector('#detail-body .status-badge').textContent === 'Closed', null, { timeout: 15000 });
  await page.click('#detail-body button:has-text("Reopen")');
  await page.locator('#dialog').waitFor({ state: 'visible' });
  await page.fill('#dlg-reason', 'New referrals name the stop again.');
  await page.click('#dialog-ok');
  await page.waitForFunction(() => !document.querySelector('#dialog').open || !document.querySelector('#dialog-error').hidden);
  dlgErr = await page.$eval('#dialog-error', (e) => (e.hidden ? '' : e.textContent));
  assert(!dlgErr, `reopening was refused: ${dlgErr}`);
  await page.waitForFunction(() => document.querySelector('#detail-body .status-badge').textContent === 'Open', null, { timeout: 15000 });
  const body = await page.textContent('#detail-body');
  assert(/Closures/.test(body) && /Reopened/.test(body), 'the closure and the reopening stay on the record');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.closest('#detail')), 'focus stays in the record panel');
});

test('basemap: a raster basemap appears only when the server configures one, with its attribution', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  let ids = await page.evaluate(() => window.ctxmapMap.getStyle().layers.map((l) => l.id));
  assert(!ids.includes('basemap') && ids[0] === 'background', `offline by default: ${ids}`);
  const attrib = await page.textContent('.maplibregl-ctrl-attrib');
  assert(/Crown copyright/.test(attrib), `the data attribution is shown: ${attrib}`);
  // The same server, configured with a basemap (simulated on our own origin so the test stays offline).
  const page2 = await open();
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
  await page2.context().route('**/api/v1/config', async (route) => {
    const r = await route.fetch();
    const j = await r.json();
    j.basemap = { type: 'raster', tiles: [`${baseURL}/test-basemap/{z}/{x}/{y}.png`], attribution: '© OpenStreetMap contributors', minzoom: 0, maxzoom: 19, tile_size: 256, vector_layers: [] };
    await route.fulfill({ response: r, json: j });
  });
  await page2.context().route('**/test-basemap/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: png }));
  await login(page2, users.analyst);
  ids = await page2.evaluate(() => window.ctxmapMap.getStyle().layers.map((l) => l.id));
  assert(ids[1] === 'basemap', `the basemap sits under everything: ${ids}`);
  assert(/OpenStreetMap contributors/.test(await page2.textContent('.maplibregl-ctrl-attrib')), 'the basemap attribution is shown');
  assert(page2.requests.some((u) => u.includes('/test-basemap/')), 'basemap tiles were requested');
});

// One test per role, so each stays well inside the runner's per-test time
// limit as the page gains controls.
for (const who of [users.practitioner, users.lead, users.analyst, users.admin]) test(`keyboard: Tab reaches every control, focus is visible, targets are at least 24 px (${who})`, async (open) => {
  {
    const page = await open();
    await login(page, who);
    await page.evaluate(() => { document.activeElement && document.activeElement.blur(); });
    const seen = new Set();
    const noFocusStyle = [];
    let first = null;
    for (let i = 0; i < 700; i++) {
      await page.keyboard.press('Tab');
      const info = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        if (!el.dataset.kbd) el.dataset.kbd = `k${document.querySelectorAll('[data-kbd]').length + 1}`;
        const st = getComputedStyle(el);
        return {
          id: el.dataset.kbd, name: el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40) || el.tagName,
          closedSummary: el.tagName === 'SUMMARY' && !el.parentElement.open,
          // Focus inside a control's own shadow tree (the date input's calendar
          // button) is drawn by the browser; check our style on the control itself.
          focusVisible: !el.matches(':focus') || (st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2) || st.boxShadow !== 'none',
        };
      });
      if (!info) continue;
      if (info.closedSummary) await page.keyboard.press('Enter');
      if (!info.focusVisible) noFocusStyle.push(info.name);
      if (first === null) first = info.id;
      else if (info.id === first && seen.size > 5) break;
      seen.add(info.id);
    }
    const missed = await page.evaluate((seenIds) => {
      const seenSet = new Set(seenIds);
      const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
        .filter((el) => !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden' && visible(el) && !el.closest('dialog:not([open])'));
      const radioNamesSeen = new Set(all.filter((el) => el.type === 'radio' && seenSet.has(el.dataset.kbd)).map((el) => el.name));
      return all.filter((el) => !seenSet.has(el.dataset.kbd) && !(el.type === 'radio' && radioNamesSeen.has(el.name)))
        .map((el) => el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40) || el.outerHTML.slice(0, 60));
    }, [...seen]);
    assert(missed.length === 0, `${who}: not reachable by Tab: ${missed.join('; ')}`);
    assert(noFocusStyle.length === 0, `${who}: no visible focus on: ${noFocusStyle.join('; ')}`);
    const small = await page.evaluate(() => {
      const visible = (el) => el.getClientRects().length > 0;
      return [...document.querySelectorAll('button, input, select, textarea, summary, a[href]')]
        .filter((el) => visible(el) && !el.closest('.maplibregl-ctrl-attrib, .skip-link, p, li'))
        .filter((el) => { const r = el.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
        .map((el) => `${el.id || el.textContent.trim().slice(0, 30) || el.tagName} ${Math.round(el.getBoundingClientRect().width)}x${Math.round(el.getBoundingClientRect().height)}`);
    });
    assert(small.length === 0, `${who}: targets under 24 px: ${small.join('; ')}`);
    // Every form control has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.getClientRects().length && !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.id || el.name));
    assert(unlabelled.length === 0, `${who}: unlabelled controls: ${unlabelled.join(', ')}`);
  }
});

test('map keyboard: the map takes focus and + zooms in, arrows pan', async (open) => {
  const page = await open();
  await login(page, users.analyst);
  await page.focus('#map canvas');
  const z0 = await page.evaluate(() => window.ctxmapMap.getZoom());
  await page.keyboard.press('Equal');
  await page.waitForFunction((z) => window.ctxmapMap.getZoom() > z + 0.5, z0, { timeout: 5000 });
  await waitForMap(page);
  const c0 = await page.evaluate(() => window.ctxmapMap.getCenter().lng);
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((c) => window.ctxmapMap.getCenter().lng > c, c0, { timeout: 5000 });
  await waitForMap(page);
  assert(await page.evaluate(() => document.activeElement === window.ctxmapMap.getCanvas()), 'focus stays on the map');
});

test('a phone: every page fits the screen: the header\'s links wrap and wide tables scroll inside their box', async (open) => {
  const page = await open();
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [who, paths] of [[users.practitioner, ['/']], [users.lead, ['/', '/workspace.html']],
    [users.analyst, ['/', '/reports.html']], [users.admin, ['/', '/admin.html']]]) {
    await page.context().clearCookies();
    await login(page, who);
    for (const path of paths) {
      if (path !== '/') await page.goto(path);
      await page.locator('.topbar').waitFor({ state: 'visible' });
      await page.waitForLoadState('networkidle'); // the signed-in links are shown once /api/v1/me answers
      const r = await page.evaluate(() => {
        const w = document.documentElement.clientWidth;
        const out = [...document.querySelectorAll('.topbar a, .topbar button, .topbar h1, #whoami-text')]
          .filter((el) => el.getClientRects().length)
          .filter((el) => { const b = el.getBoundingClientRect(); return b.left < 0 || b.right > w + 1; })
          .map((el) => `${el.id || el.textContent.trim().slice(0, 30)} ${Math.round(el.getBoundingClientRect().right)}`);
        // What pushes the page sideways: the innermost elements reaching past the screen.
        const clipped = (el) => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (getComputedStyle(p).overflowX !== 'visible') return true; return false; };
        const wide = [...document.querySelectorAll('body *')]
          .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > w + 1 && !clipped(el))
          .filter((el, _, all) => !all.some((o) => o !== el && el.contains(o)))
          .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
        // Positioned elements are clipped only by a positioned scroller: a visually hidden label in a
        // scrolled table otherwise widens the page.
        const placed = [...document.querySelectorAll('body *')]
          .filter((el) => ['absolute', 'fixed'].includes(getComputedStyle(el).position) && el.getClientRects().length)
          .filter((el) => el.getBoundingClientRect().right > w + 1)
          .map((el) => `${el.tagName.toLowerCase()}.${el.className} (positioned) ${Math.round(el.getBoundingClientRect().right)}`);
        return { out, wide: wide.concat(placed), sideways: document.documentElement.scrollWidth - w };
      });
      assert(r.out.length === 0 && r.sideways <= 1, `${who} on ${path}: outside a 390 px screen: ${r.out.join('; ')}; the page scrolls sideways by ${r.sideways} px (${r.wide.join('; ')})`);
      await screenshot(page, `header-phone-${path === '/' ? 'map' : path.slice(1, -5)}-${who}`);
    }
  }
});

export { baseURL };
