// The MapLibre map: an offline blank style (background only) with the
// partnership's boundary, the anonymised heat hexagons, context records and
// the search ring, and a sense of place: ward names and postcode district and
// sector outlines and labels, all served by ctxmap itself. A basemap is added
// only when the server's config names one. Label fonts come from the server
// (font-faces) and context symbols are drawn locally on a canvas, so the page
// makes no request to any host but its own unless a foreign raster basemap
// is configured.
import { Map as MapLibreMap, NavigationControl, ScaleControl } from '/vendor/maplibre-gl.mjs';
import { fillColour } from './heat.js';

const empty = { type: 'FeatureCollection', features: [] };

export function createMap({ container, center, zoom, config, showContexts, heatUrl, contextsUrl, k }) {
  const sources = {};
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#e9e9e4' } }];
  const basemap = config.basemap;
  if (basemap) {
    // A local archive's tiles are on this server (a path); a raster
    // template names its own host.
    const tiles = basemap.tiles.map((t) => (t.startsWith('/') ? `${location.origin}${t}` : t));
    sources.basemap = { type: basemap.type, tiles, tileSize: basemap.tile_size, minzoom: basemap.minzoom, maxzoom: basemap.maxzoom, attribution: basemap.attribution };
    if (basemap.type === 'vector') layers.push(...basemapLayers(basemap.vector_layers));
    else layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-saturation': -0.5, 'raster-opacity': 0.9 } });
  }
  sources.boundary = { type: 'geojson', data: empty };
  layers.push({ id: 'boundary-fill', type: 'fill', source: 'boundary', paint: { 'fill-color': '#ffffff', 'fill-opacity': basemap ? 0.15 : 0.85 } });
  // Postcode districts and sectors, drawn by ctxmap from its own directory.
  const places = config.places;
  sources.places = { type: 'vector', tiles: [`${location.origin}${places.tiles}`], minzoom: places.minzoom, maxzoom: places.maxzoom };
  layers.push(
    { id: 'sector-line', type: 'line', source: 'places', 'source-layer': 'sectors', paint: { 'line-color': '#6f5f96', 'line-width': 0.8, 'line-dasharray': [4, 3] } },
    { id: 'district-line', type: 'line', source: 'places', 'source-layer': 'districts', paint: { 'line-color': '#4b3c78', 'line-width': 1.6, 'line-opacity': 0.75 } },
  );

  // The zooms the server publishes heat tiles for (its TileJSON's range);
  // MapLibre overzooms past the last.
  sources.heat = { type: 'vector', tiles: [heatUrl], minzoom: config.heat_zoom.min, maxzoom: config.heat_zoom.max };
  layers.push(
    { id: 'heat', type: 'fill', source: 'heat', 'source-layer': 'heat', paint: { 'fill-color': fillColour(k), 'fill-opacity': 0.72 } },
    { id: 'heat-outline', type: 'line', source: 'heat', 'source-layer': 'heat', paint: { 'line-color': '#1b1b1f', 'line-opacity': 0.6, 'line-width': 0.8 } },
    { id: 'heat-selected', type: 'line', source: 'heat', 'source-layer': 'heat', filter: ['==', ['get', 'h3'], ''], paint: { 'line-color': '#000000', 'line-width': 3 } },
  );
  layers.push({ id: 'boundary-line', type: 'line', source: 'boundary', paint: { 'line-color': '#3d3d46', 'line-width': 1.2, 'line-dasharray': [3, 2] } });

  // The searched postcode's sector and district (search.js sets the filters).
  layers.push(
    { id: 'sector-selected', type: 'line', source: 'places', 'source-layer': 'sectors', filter: ['==', ['get', 'code'], ''], paint: { 'line-color': '#1d4f91', 'line-width': 3.5 } },
    { id: 'district-selected', type: 'line', source: 'places', 'source-layer': 'districts', filter: ['==', ['get', 'code'], ''], paint: { 'line-color': '#1d4f91', 'line-width': 2, 'line-dasharray': [1, 1.5] } },
  );
  sources.search = { type: 'geojson', data: empty };
  layers.push(
    { id: 'search-radius', type: 'line', source: 'search', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': '#1d4f91', 'line-width': 2, 'line-dasharray': [2, 2] } },
    { id: 'search-centre', type: 'circle', source: 'search', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 6, 'circle-color': '#ffffff', 'circle-stroke-color': '#1d4f91', 'circle-stroke-width': 3 } },
  );
  sources.pick = { type: 'geojson', data: empty };
  layers.push({ id: 'pick', type: 'circle', source: 'pick', paint: { 'circle-radius': 7, 'circle-color': '#ffbf47', 'circle-stroke-color': '#0b0c0c', 'circle-stroke-width': 2 } });

  if (showContexts) {
    sources.contexts = { type: 'vector', tiles: [contextsUrl], minzoom: 8, maxzoom: 16 };
    layers.push(
      { id: 'contexts-selected', type: 'circle', source: 'contexts', 'source-layer': 'contexts', filter: ['==', ['to-string', ['get', 'id']], ''], paint: { 'circle-radius': 17, 'circle-opacity': 0, 'circle-stroke-color': '#0b0c0c', 'circle-stroke-width': 3 } },
      {
        id: 'contexts', type: 'symbol', source: 'contexts', 'source-layer': 'contexts',
        layout: {
          'icon-image': ['concat', 'ctx-', ['coalesce', ['get', 'status'], 'open'], '-', ['coalesce', ['get', 'kind'], 'location']],
          'icon-allow-overlap': true, 'icon-ignore-placement': true, 'icon-size': 1,
        },
      },
    );
  }

  // Names of places, under the context symbols: wards, then postcode
  // districts and sectors, then the searched postcode. Drawn from fonts
  // ctxmap serves (config.places.fonts), rasterised in the browser.
  const [regular, bold] = places.fonts.map((f) => f.name);
  const halo = { 'text-color': '#2b2b33', 'text-halo-color': '#ffffff', 'text-halo-width': 1.6 };
  sources['ward-labels'] = { type: 'geojson', data: empty };
  layers.push(
    { id: 'sector-labels', type: 'symbol', source: 'places', 'source-layer': 'sector_labels', minzoom: places.sector_minzoom,
      layout: { 'text-field': ['get', 'code'], 'text-font': [regular], 'text-size': 12 }, paint: { ...halo, 'text-color': '#4b3c78' } },
    { id: 'district-labels', type: 'symbol', source: 'places', 'source-layer': 'district_labels',
      layout: { 'text-field': ['get', 'code'], 'text-font': [bold], 'text-size': 17 }, paint: { ...halo, 'text-color': '#4b3c78' } },
    { id: 'ward-labels', type: 'symbol', source: 'ward-labels',
      layout: { 'text-field': ['get', 'name'], 'text-font': [bold], 'text-size': 13, 'text-letter-spacing': 0.04, 'text-max-width': 8 }, paint: halo },
    { id: 'search-label', type: 'symbol', source: 'search', filter: ['==', ['geometry-type'], 'Point'],
      layout: { 'text-field': ['coalesce', ['get', 'label'], ''], 'text-font': [bold], 'text-size': 14, 'text-offset': [0, 1.3], 'text-anchor': 'top', 'text-allow-overlap': true },
      paint: { ...halo, 'text-color': '#1d4f91', 'text-halo-width': 2 } },
  );
  const fontFaces = Object.fromEntries(places.fonts.map((f) => [f.name, `${location.origin}${f.url}`]));

  const attribution = [];
  if (config.attribution) attribution.push(config.attribution);
  const map = new MapLibreMap({
    container, center, zoom, minZoom: 4, maxZoom: 18,
    style: { version: 8, 'font-faces': fontFaces, sources, layers },
    attributionControl: { compact: false, customAttribution: attribution },
    dragRotate: false, pitchWithRotate: false, touchPitch: false, maxPitch: 0,
    fadeDuration: 0,
    locale: { 'Map.Title': 'Map. Arrow keys pan, plus and minus zoom.' },
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new ScaleControl({ unit: 'metric' }), 'top-left');
  // Context symbols are drawn on demand through the resolver, which MapLibre
  // awaits before it answers a tile's request for images. The
  // 'styleimagemissing' event this replaced fires only after that answer was
  // sent without the image, so every tile parsed before the first icon
  // existed kept no symbols: 4, 16 or 17 of 20 markers on identical loads.
  map.setMissingStyleImageResolver((id) => {
    const m = /^ctx-([a-z_]+)-([a-z_]+)$/.exec(id);
    if (m && !map.hasImage(id)) map.addImage(id, contextIcon(m[1], m[2]), { pixelRatio: 2 });
  });
  return map;
}

const kindLetter = { location: 'L', group: 'G', school: 'S' };

/**
 * A context symbol: open records are solid dark-blue circles, closed ones
 * hollow grey squares with a dashed edge. Shape and fill differ, so status
 * never depends on colour; the letter names the kind.
 */
export function contextIcon(status, kind, size = 48) {
  const c = document.createElement('canvas');
  c.width = c.height = size;
  const g = c.getContext('2d');
  const r = size / 2;
  const letter = kindLetter[kind] || kind.charAt(0).toUpperCase();
  if (status === 'closed') {
    g.fillStyle = '#ffffff';
    g.fillRect(6, 6, size - 12, size - 12);
    g.setLineDash([6, 4]);
    g.lineWidth = 4;
    g.strokeStyle = '#4a4a55';
    g.strokeRect(6, 6, size - 12, size - 12);
    g.setLineDash([]);
    g.fillStyle = '#1b1b1f';
  } else {
    g.beginPath();
    g.arc(r, r, r - 4, 0, Math.PI * 2);
    g.fillStyle = '#0d3c73';
    g.fill();
    g.lineWidth = 4;
    g.strokeStyle = '#ffffff';
    g.stroke();
    g.fillStyle = '#ffffff';
  }
  g.font = `bold ${Math.round(size * 0.45)}px system-ui, sans-serif`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(letter, r, r + 1);
  return g.getImageData(0, 0, size, size);
}

/** The context icon as an <img>-free SVG for the legend. */
export function contextIconSvg(status, kind) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '24');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const letter = kindLetter[kind] || '?';
  const shape = status === 'closed'
    ? `<rect x="3" y="3" width="18" height="18" fill="#fff" stroke="#4a4a55" stroke-width="2" stroke-dasharray="3 2"/>`
    : `<circle cx="12" cy="12" r="10" fill="#0d3c73" stroke="#fff" stroke-width="2"/>`;
  const fillText = status === 'closed' ? '#1b1b1f' : '#fff';
  // Static markup built from constants only.
  svg.innerHTML = `${shape}<text x="12" y="16.5" text-anchor="middle" font-size="12" font-weight="700" font-family="system-ui, sans-serif" fill="${fillText}">${letter}</text>`;
  return svg;
}

/** A polygon approximating a circle of radius metres around [lon, lat]. */
export function circlePolygon([lon, lat], metres, steps = 64) {
  const ring = [];
  const dLat = metres / 111320;
  const dLon = metres / (111320 * Math.cos((lat * Math.PI) / 180));
  for (let i = 0; i <= steps; i++) {
    const a = (i / steps) * Math.PI * 2;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } };
}

export function pointFeature([lon, lat], properties = {}) {
  return { type: 'Feature', properties, geometry: { type: 'Point', coordinates: [lon, lat] } };
}

/** Zoom that fits a radius in metres comfortably in the map's smaller side. */
export function zoomForRadius(map, metres, lat) {
  const px = Math.max(200, Math.min(map.getContainer().clientWidth, map.getContainer().clientHeight)) * 0.4;
  const mPerPx = metres / px;
  // MapLibre's zoom 0 is one 512 px tile: 78271.5 m per pixel at the equator.
  const z = Math.log2((78271.517 * Math.cos((lat * Math.PI) / 180)) / mPerPx);
  return Math.max(10, Math.min(16, z));
}

/**
 * Show or hide layers, touching only those whose visibility changes: a
 * needless layout change makes MapLibre re-parse its cached tiles, which
 * can swallow a tile URL change made in the same frame.
 */
export function setVisible(map, ids, visible) {
  const want = visible ? 'visible' : 'none';
  for (const id of ids) {
    if (map.getLayer(id) && (map.getLayoutProperty(id, 'visibility') || 'visible') !== want) map.setLayoutProperty(id, 'visibility', want);
  }
}

/** Whether the person asked for less motion: map moves then jump instead of fly. */
export function reducedMotion() { return matchMedia('(prefers-reduced-motion: reduce)').matches; }

/**
 * A quiet style for a vector basemap (OS Open Zoomstack or any other
 * archive), made from its layer names: water blue, green space green,
 * buildings grey, roads and rail as lines, everything else a faint outline.
 * Muted, because the heat map and the records are what the map is for.
 */
export function basemapLayers(ids) {
  const out = [];
  const kind = (id) => (/sea|water|river|lake|reservoir|foreshore/i.test(id) ? 'water'
    : /wood|park|green|forest|national|grass|golf|land_?use/i.test(id) ? 'green'
      : /build|urban/i.test(id) ? 'built'
        : /road|rail|street|path|track|motorway|transport/i.test(id) ? 'way'
          : /name|label|place/i.test(id) ? 'names' : 'other');
  const polygon = ['==', ['geometry-type'], 'Polygon'];
  const line = ['==', ['geometry-type'], 'LineString'];
  for (const id of ids) {
    const k = kind(id);
    const base = { source: 'basemap', 'source-layer': id };
    if (k === 'names') continue; // our own labels say where things are
    if (k === 'water') {
      out.push({ ...base, id: `basemap-${id}-fill`, type: 'fill', filter: polygon, paint: { 'fill-color': '#c9dcec' } },
        { ...base, id: `basemap-${id}-line`, type: 'line', filter: line, paint: { 'line-color': '#a9c7e0', 'line-width': 1.2 } });
    } else if (k === 'green') {
      out.push({ ...base, id: `basemap-${id}-fill`, type: 'fill', filter: polygon, paint: { 'fill-color': '#d9e8d2', 'fill-opacity': 0.9 } });
    } else if (k === 'built') {
      out.push({ ...base, id: `basemap-${id}-fill`, type: 'fill', filter: polygon, paint: { 'fill-color': '#dedbd5', 'fill-opacity': 0.8 } });
    } else if (k === 'way') {
      out.push({ ...base, id: `basemap-${id}-line`, type: 'line', filter: line, paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.6, 16, 5] } });
    } else {
      out.push({ ...base, id: `basemap-${id}-line`, type: 'line', paint: { 'line-color': '#c8c6bf', 'line-width': 0.6 } });
    }
  }
  return out;
}
