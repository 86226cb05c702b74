// Helpers for the browser tests: Chromium launched exactly as TESTING.md
// says, a page that records every request and console error, sign-in, and
// waiting for the map, picking a drawn hexagon and reading a download.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const baseURL = process.env.CTXMAP_URL || 'http://127.0.0.1:8080';
export const password = process.env.CTXMAP_DEMO_PASSWORD || 'ctxmap-demo';
export const screenshots = process.env.CTXMAP_SCREENSHOTS || join(process.cwd(), 'screenshots');
const origin = new URL(baseURL).origin;

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'ctxmap-chromium-'));
  const browser = await chromium.launch({
    executablePath: process.env.CTXMAP_CHROMIUM || '/usr/bin/chromium',
    ignoreDefaultArgs: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-unsafe-swiftshader', `--user-data-dir=${profile}`, '--remote-debugging-pipe',
      '--window-size=1280,800',
    ],
  });
  return { browser, close: async () => { await browser.close(); rmSync(profile, { recursive: true, force: true }); } };
}

/**
 * Every field the UI read from an API response, across all pages, as
 * "METHOD path field" (see web/static/js/fieldlog.js); the OpenAPI test
 * checks each against the document.
 */
export const fieldReads = new Map();

/**
 * A fresh context and page. page.requests lists every URL the page or its
 * workers asked for; page.foreign those not on the server; page.errors every
 * console error and uncaught exception; page.failed every 4xx/5xx answer
 * (minus the expected 401s: the sign-in probe of /api/v1/me before anyone
 * signed in, and those listed in allow).
 */
export async function openPage(browser, { allow = [] } = {}) { // allow: [[status, /url/], ...]
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL });
  // The UI reports each response field it reads (fieldlog.js) to this hook.
  await context.exposeFunction('ctxmapReportField', ({ method, path, field }) => {
    const key = `${method} ${path} ${field}`;
    if (!fieldReads.has(key)) fieldReads.set(key, { method, path, field });
  });
  const page = await context.newPage();
  page.requests = [];
  page.foreign = [];
  page.errors = [];
  const onRequest = (req) => {
    const url = req.url();
    page.requests.push(url);
    if (!url.startsWith(`${origin}/`) && !/^(data|blob):/.test(url)) page.foreign.push(url);
  };
  context.on('request', onRequest);
  // Expected failures: [status, url pattern]. The sign-in probe answers 401 before anyone signed in.
  const expected = [[401, /\/api\/v1\/me$/], ...allow];
  const isExpected = (status, url) => expected.some(([st, re]) => st === status && re.test(url));
  // Worker fetches (tiles) do not log to the page's console: check statuses too.
  page.failed = [];
  context.on('response', (res) => {
    if (res.status() < 400) return;
    const url = res.url();
    if (isExpected(res.status(), url)) return;
    page.failed.push(`${res.status()} ${url}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = (m.location() && m.location().url) || '';
    const st = /status of (\d{3})/.exec(m.text());
    if (st && isExpected(Number(st[1]), where)) return;
    page.errors.push(`${m.text()} ${where}`.trim());
  });
  page.on('pageerror', (e) => page.errors.push(`uncaught: ${e.message}`));
  return page;
}

export async function login(page, name) {
  await page.goto('/');
  await page.locator('#login-name').waitFor({ state: 'visible' });
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.click('#login-form button[type=submit]');
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await waitForMap(page);
}

/** Wait until the map has loaded its style and every visible tile. */
export async function waitForMap(page, timeout = 30000) {
  await page.waitForFunction(() => {
    const m = window.ctxmapMap;
    return m && m.loaded() && m.areTilesLoaded() && !m.isMoving();
  }, null, { timeout, polling: 100 });
}

export async function heatFeatures(page) {
  return page.evaluate(() => window.ctxmapMap.queryRenderedFeatures({ layers: ['heat'] })
    .map((f) => ({ h3: f.properties.h3, value: f.properties.value, res: f.properties.res })));
}

export async function screenshot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function lastCompleteMonth(now = new Date()) {
  let y = now.getUTCFullYear(), m = now.getUTCMonth(); // m = this month 0-based; previous month 1-based is m
  if (m === 0) { y -= 1; m = 12; }
  return `${y}-${String(m).padStart(2, '0')}`;
}

export function checkClean(page) {
  assert(page.foreign.length === 0, `requests to other hosts: ${page.foreign.slice(0, 5).join(', ')}`);
  assert(page.errors.length === 0, `console errors: ${page.errors.slice(0, 5).join(' | ')}`);
  assert(page.failed.length === 0, `failed requests: ${page.failed.slice(0, 5).join(' | ')}`);
}

/** Wait until the heat layer has drawn at least one hexagon. */
export async function waitForHexagons(page) {
  await page.waitForFunction(() => window.ctxmapMap.queryRenderedFeatures({ layers: ['heat'] }).length > 0, null, { timeout: 30000, polling: 200 });
}

/** A screen point on a drawn hexagon with no context symbol near it, other than those in skip. */
export async function hexagonPoint(page, skip = []) {
  return page.evaluate((skip) => {
    const map = window.ctxmapMap;
    const canvas = map.getCanvas().getBoundingClientRect();
    const feats = map.queryRenderedFeatures({ layers: ['heat'] })
      .sort((a, b) => Number(b.properties.value) - Number(a.properties.value)); // busiest first
    for (const f of feats) {
      if (skip.includes(f.properties.h3)) continue;
      const g = f.geometry;
      const ring = g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0][0];
      let x = 0, y = 0;
      for (const [lon, lat] of ring) { x += lon; y += lat; }
      const p = map.project([x / ring.length, y / ring.length]);
      if (p.x < 40 || p.y < 40 || p.x > canvas.width - 60 || p.y > canvas.height - 60) continue;
      const hits = map.queryRenderedFeatures(p, { layers: ['heat'] });
      if (!hits.length || hits[0].properties.h3 !== f.properties.h3) continue;
      const near = map.getLayer('contexts')
        ? map.queryRenderedFeatures([[p.x - 14, p.y - 14], [p.x + 14, p.y + 14]], { layers: ['contexts'] }) : [];
      if (near.length) continue;
      return { x: canvas.left + p.x, y: canvas.top + p.y, h3: f.properties.h3, value: f.properties.value };
    }
    return null;
  }, skip);
}

/** Zoom to 11.5 (resolution 7), where monthly values of busy cells pass the threshold, and wait for hexagons. */
export async function zoomToResolution7(page) {
  await page.evaluate(() => window.ctxmapMap.jumpTo({ zoom: 11.5 }));
  await waitForMap(page);
  await waitForHexagons(page);
}

/** Click a drawn hexagon not in skip (with Shift when add: it joins the area); its point and h3. */
export async function clickHexagon(page, { skip = [], add = false } = {}) {
  const pt = await hexagonPoint(page, skip);
  assert(pt, `a hexagon${skip.length ? ' other than the ones picked' : ''} is visible away from context symbols`);
  if (add) await page.keyboard.down('Shift');
  await page.mouse.click(pt.x, pt.y);
  if (add) await page.keyboard.up('Shift');
  return pt;
}

/** A download started by clicking selector, read as text. */
export async function downloadText(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.click(selector)]);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), 'utf8') };
}

/**
 * A list of tests and the test(name, fn) that adds to it: fn(open) gets
 * open(opts), which makes a fresh page (openPage); after fn every page it
 * opened must be clean (checkClean) and all are closed, pass or fail.
 */
export function suite() {
  const tests = [];
  const test = (name, fn) => tests.push({
    name,
    fn: async (browser) => {
      const pages = [];
      const open = async (opts) => { const p = await openPage(browser, opts); pages.push(p); return p; };
      try {
        await fn(open);
        for (const p of pages) checkClean(p);
      } finally {
        for (const p of pages) await p.context().close();
      }
    },
  });
  return { tests, test };
}
