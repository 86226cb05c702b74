// The map's sense of place (issue 14), in a real Chromium against the real
// server with the demo data: context markers that render in full on every
// load, ward names and postcode district and sector outlines and labels
// served by ctxmap itself, a searched postcode shown with its sector and
// district, and a council's own PMTiles basemap that makes no request to any
// other host.
import { login, waitForMap, assert, screenshot, suite } from './lib.mjs';

const practitioner = process.env.CTXMAP_PRACTITIONER || 'demo-practitioner';
const postcode = process.env.CTXMAP_TEST_POSTCODE || '';

const { tests: placeTests, test } = suite();
export { placeTests };

/** Distinct context ids drawn on the map now. */
function drawnContexts(page) {
  return page.evaluate(() => new Set(window.ctxmapMap.queryRenderedFeatures({ layers: ['contexts'] })
    .map((f) => f.properties.id)).size);
}

/**
 * The open context records whose point lies in the map's view, from the
 * API: a search around the view's centre wide enough to reach its corners.
 */
function contextsInView(page) {
  return page.evaluate(async () => {
    const m = window.ctxmapMap;
    const b = m.getBounds();
    const c = m.getCenter();
    const radius = Math.ceil(c.distanceTo(b.getNorthEast())) + 100;
    const r = await fetch(`/api/v1/contexts?near=${c.lat.toFixed(6)},${c.lng.toFixed(6)}&radius_m=${radius}&status=open`);
    const j = await r.json();
    return j.contexts.filter((x) => x.lat !== undefined && b.contains([x.lon, x.lat])).length;
  });
}

// What was seen: 21, 5 and 22 markers on three identical loads. The icons
// were drawn on MapLibre's 'styleimagemissing' event, which v6 fires only
// after answering the tile that asked, so tiles parsed before the first icon
// existed kept no symbols.
test('markers: every open context in view is drawn on each of 10 reloads', async (open) => {
  const page = await open();
  await login(page, practitioner);
  const counts = [];
  let expected = null;
  for (let i = 0; i < 10; i++) {
    if (i > 0) {
      await page.reload();
      await page.locator('#app-view').waitFor({ state: 'visible' });
      await waitForMap(page);
    }
    if (expected === null) expected = await contextsInView(page);
    counts.push(await drawnContexts(page));
  }
  assert(expected > 5, `the demo data has open contexts in the first view (${expected})`);
  assert(counts.every((n) => n === expected), `drawn markers on 10 loads ${counts.join(', ')}; ${expected} are in view`);
});
placeTests[placeTests.length - 1].timeouts = 4; // ten map loads

/** Rendered features of a layer as their properties[key], distinct. */
function drawn(page, layer, key) {
  return page.evaluate(({ layer, key }) => [...new Set(window.ctxmapMap.queryRenderedFeatures({ layers: [layer] })
    .map((f) => f.properties[key]))], { layer, key });
}

// What was seen: without a basemap the map was hexagons and dashed ward
// lines, with no name anywhere.
test('sense of place: ward names, postcode districts and sectors are drawn and labelled, fonts from ctxmap itself', async (open) => {
  const page = await open();
  await login(page, practitioner);
  await page.waitForFunction(() => window.ctxmapMap.queryRenderedFeatures({ layers: ['ward-labels'] }).length > 0, null, { timeout: 20000 });
  const wards = await drawn(page, 'ward-labels', 'name');
  assert(wards.length >= 5, `ward names are written on the map: ${wards.join(', ')}`);
  const districts = await drawn(page, 'district-labels', 'code');
  assert(districts.includes('E8') || districts.includes('E5'), `postcode districts are labelled: ${districts.join(', ')}`);
  assert((await drawn(page, 'district-line', 'code')).length >= 3, 'district outlines are drawn');
  // Sectors only from the zoom the server names.
  const sectorZoom = await page.evaluate(() => window.ctxmapApp.config.places.sector_minzoom);
  await page.evaluate((z) => window.ctxmapMap.jumpTo({ center: [-0.0666, 51.5433], zoom: z + 1 }), sectorZoom);
  await waitForMap(page);
  const sectors = await drawn(page, 'sector-labels', 'code');
  assert(sectors.includes('E8 3'), `postcode sectors are labelled: ${sectors.join(', ')}`);
  assert((await drawn(page, 'sector-line', 'code')).includes('E8 3'), 'sector outlines are drawn');
  // Every label font came from ctxmap.
  const fonts = page.requests.filter((u) => /\.(ttf|otf|woff2?|pbf)(\?|$)/.test(u));
  assert(fonts.length > 0 && fonts.every((u) => u.startsWith(new URL(page.url()).origin)), `fonts from ctxmap itself: ${fonts.join(', ')}`);
  await screenshot(page, 'sense-of-place');
});

// What was seen: a practitioner who searches E8 3AA cannot see where the
// place is.
test('search: a postcode is marked and labelled on the map, inside its outlined sector and district', async (open) => {
  assert(postcode, 'CTXMAP_TEST_POSTCODE is set (scripts/browser-test.sh imports the postcode directory)');
  const page = await open();
  await login(page, practitioner);
  await page.fill('#search-q', postcode);
  await page.press('#search-q', 'Enter');
  await page.waitForFunction(() => /postcode sector/.test(document.querySelector('#search-summary').textContent), null, { timeout: 20000 });
  const summary = await page.textContent('#search-summary');
  assert(/E8 3AA is in postcode sector E8 3, district E8/.test(summary), `summary says where: ${summary}`);
  await waitForMap(page);
  await page.waitForFunction(() => window.ctxmapMap.queryRenderedFeatures({ layers: ['sector-selected'] }).length > 0, null, { timeout: 20000 });
  assert((await drawn(page, 'sector-selected', 'code')).join() === 'E8 3', 'the sector is outlined');
  assert((await drawn(page, 'district-selected', 'code')).join() === 'E8', 'the district is outlined');
  assert((await drawn(page, 'search-label', 'label')).join() === 'E8 3AA', 'the postcode is written at its point');
  await screenshot(page, 'search-place');
});

// A second server on the same database, started by scripts/browser-test.sh
// with --basemap and an archive written by write-pmtiles.mjs.
const basemapServer = process.env.CTXMAP_BASEMAP_SERVER_URL || '';

// The council's own basemap: its tiles come from ctxmap, and the page asks
// no other host for anything. This test opens its own context on the second
// server's origin, so it watches every request itself.
placeTests.push({
  name: 'basemap: a local PMTiles basemap is drawn from ctxmap itself and no request leaves the machine',
  fn: async (browser) => {
    assert(basemapServer, 'CTXMAP_BASEMAP_SERVER_URL is set (scripts/browser-test.sh starts a server with --basemap)');
    const origin = new URL(basemapServer).origin;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: basemapServer });
    await context.exposeFunction('ctxmapReportField', () => {});
    try {
      const page = await context.newPage();
      const requests = [];
      const foreign = [];
      const errors = [];
      context.on('request', (req) => {
        const url = req.url();
        requests.push(url);
        if (!url.startsWith(`${origin}/`) && !/^(data|blob):/.test(url)) foreign.push(url);
      });
      page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      await login(page, practitioner);
      await page.waitForFunction(() => window.ctxmapMap.getLayer('basemap-water-fill')
        && window.ctxmapMap.queryRenderedFeatures({ layers: ['basemap-water-fill'] }).length > 0, null, { timeout: 20000 });
      const ids = await page.evaluate(() => window.ctxmapMap.getStyle().layers.map((l) => l.id));
      assert(ids[1] === 'basemap-water-fill', `the basemap sits under everything: ${ids.slice(0, 4)}`);
      assert(/Test basemap written by the browser test/.test(await page.textContent('.maplibregl-ctrl-attrib')), 'the archive\'s attribution is shown');
      assert(requests.some((u) => u.startsWith(`${origin}/tiles/basemap/`)), 'basemap tiles came from ctxmap');
      // Markers, labels and the search still work over the basemap.
      assert((await drawnContexts(page)) > 5, 'context markers are drawn over the basemap');
      await screenshot(page, 'basemap-local');
      assert(foreign.length === 0, `requests to other hosts: ${foreign.slice(0, 5).join(', ')}`);
      assert(errors.length === 0, `console errors: ${errors.slice(0, 5).join(' | ')}`);
    } finally {
      await context.close();
    }
  },
});
