// Copies the MapLibre GL JS v6 browser files from node_modules into
// web/static/vendor/ (git-ignored), where the Go binary embeds and serves
// them at /vendor/. v6 is ES modules only: the main module loads its worker
// module from the same folder (maplibre-gl-worker.mjs), so both must be
// copied side by side. Source maps are left out to keep the binary small.
import { copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'static', 'vendor');
const require = createRequire(import.meta.url);
const pkg = require('maplibre-gl/package.json');
const dist = join(dirname(require.resolve('maplibre-gl/package.json')), 'dist');

// The worker module is loaded relative to maplibre-gl.mjs at run time.
const files = ['maplibre-gl.mjs', 'maplibre-gl-worker.mjs', 'maplibre-gl.css'];

rmSync(out, { recursive: true, force: true }); // generated: start clean
mkdirSync(out, { recursive: true });
for (const f of files) {
  const src = join(dist, f);
  try {
    statSync(src);
  } catch {
    throw new Error(`vendor: ${src} is missing; is maplibre-gl ${pkg.version} a 6.x release?`);
  }
  copyFileSync(src, join(out, f));
}
writeFileSync(join(out, 'VERSION'), `maplibre-gl ${pkg.version}\n`);
console.log(`vendor: maplibre-gl ${pkg.version} -> ${out}`);
