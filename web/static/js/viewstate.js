// The shareable view: centre, zoom and filters live in the URL's hash, e.g.
// #map=13.00/51.5450/-0.0550&layer=harm&category=all&period=last-12m&status=open
// The hash never carries anything about a young person (no subject ids, no
// search text), so a shared link discloses nothing the map doesn't.

const keys = ['layer', 'category', 'period', 'status', 'heat', 'contexts', 'cell', 'ward', 'wres', 'step', 'context', 'hot'];

export function readView(hash = location.hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const view = {};
  const m = /^(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(p.get('map') || '');
  if (m) {
    const zoom = Number(m[1]), lat = Number(m[2]), lon = Number(m[3]);
    if (zoom >= 0 && zoom <= 22 && Math.abs(lat) <= 85 && Math.abs(lon) <= 180) {
      view.zoom = zoom;
      view.center = [lon, lat];
    }
  }
  for (const k of keys) {
    const v = p.get(k);
    // cell may list an area's hexagons: a, b, c (ids of 15 hex digits).
    if (v !== null && (/^[A-Za-z0-9_.:-]{1,64}$/.test(v) || (k === 'cell' && /^[0-9a-f]{15}(,[0-9a-f]{15}){1,99}$/.test(v)))) view[k] = v;
  }
  return view;
}

export function writeView(view) {
  const parts = [];
  if (view.center && view.zoom !== undefined) {
    parts.push(`map=${view.zoom.toFixed(2)}/${view.center[1].toFixed(5)}/${view.center[0].toFixed(5)}`);
  }
  for (const k of keys) {
    if (view[k] !== undefined && view[k] !== null && view[k] !== '') parts.push(`${k}=${encodeURIComponent(view[k])}`);
  }
  const hash = `#${parts.join('&')}`;
  if (hash !== location.hash) history.replaceState(null, '', hash);
}
