// Front-end development without rebuilding the Go binary: serves
// web/static from disk and forwards everything else (API, tiles, health) to
// a running ctxmap server, so a browser reload picks up UI edits at once.
//   CTXMAP_UPSTREAM=http://127.0.0.1:8080 PORT=8081 npm run dev
// Development only: production serves the embedded copy from the binary.
import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'static');
const upstream = new URL(process.env.CTXMAP_UPSTREAM || 'http://127.0.0.1:8080');
const port = Number(process.env.PORT || 8081);
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json',
};
const csp = "default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; child-src blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'";

http.createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  const isApp = /^\/(api|tiles)\/|^\/(readyz|healthz|metrics)$/.test(path);
  if (!isApp) {
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (file.startsWith(root)) {
      try {
        if ((await stat(file)).isFile()) {
          res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store', 'Content-Security-Policy': csp });
          res.end(await readFile(file));
          return;
        }
      } catch { /* not a static file: forward it */ }
    }
  }
  const fwd = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  fwd.on('error', (e) => { res.writeHead(502, { 'Content-Type': 'text/plain' }); res.end(`upstream ${upstream.href}: ${e.message}`); });
  req.pipe(fwd);
}).listen(port, '127.0.0.1', () => console.log(`ctxmap UI dev server: http://127.0.0.1:${port}/ (static from ${root}, the rest from ${upstream.href})`));
