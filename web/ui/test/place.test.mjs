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
