// Runs the browser tests one after another against CTXMAP_URL (a running
// ctxmap server with the demo data; scripts/browser-test.sh sets it all up).
// Usage: node test/run.mjs [name-filter]
import { launch } from './lib.mjs';
import { tests as mapTests } from './map.test.mjs';
import { reportTests } from './reports.test.mjs';
import { hotspotTests } from './hotspots.test.mjs';
import { fieldTests } from './fields.test.mjs';
import { tests as beforeAfterTests } from './beforeafter.test.mjs';
import { adminTests } from './admin.test.mjs';
import { recordTests } from './record.test.mjs';
import { contextualTests } from './contextual.test.mjs';
import { ssoTests } from './sso.test.mjs';
import { workspaceTests } from './workspace.test.mjs';
import { placeTests } from './place.test.mjs';

// The field check runs last: it checks what the flows before it read.
const tests = [...mapTests, ...reportTests, ...hotspotTests, ...beforeAfterTests, ...adminTests, ...recordTests, ...contextualTests, ...workspaceTests, ...placeTests, ...ssoTests, ...fieldTests];

const filter = process.argv[2] ? new RegExp(process.argv[2], 'i') : null;
const timeoutMs = Number(process.env.CTXMAP_TEST_TIMEOUT_MS || 90000);

const { browser, close } = await launch();
let failed = 0, passed = 0;
const started = Date.now();
try {
  for (const t of tests) {
    if (filter && !filter.test(t.name)) continue;
    const t0 = Date.now();
    // A test that loads the map many times (markers over 10 reloads) says
    // how many ordinary tests' time it needs.
    const limit = timeoutMs * (t.timeouts || 1);
    let timer;
    try {
      await Promise.race([
        t.fn(browser),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit); }),
      ]);
      passed++;
      console.log(`ok   ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n     ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
    } finally {
      clearTimeout(timer);
    }
  }
} finally {
  await close();
}
console.log(`\n${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed || passed === 0 ? 1 : 0);
