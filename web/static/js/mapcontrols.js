// The map and the context-records layer: creating the MapLibre map from the
// server's config, the context layer's controls, clicks on the map, picking
// a point, and the partnership boundary. MapControls' methods are mixed into
// App (see app.js).
import { get } from './api.js';
import { h, fill, $, announce, showError } from './dom.js';
import { createMap, contextIconSvg, pointFeature, setVisible, reducedMotion } from './mapview.js';
import { nameOf } from './contextpanel.js';

export class MapControls {
  // ---- contexts layer --------------------------------------------------------

  setupContextControls() {
    const v = this.view;
    const status = ['open', 'closed', 'all'].includes(v.status) ? v.status : 'open';
    $('#contexts-status').value = status;
    $('#contexts-visible').checked = v.contexts !== '0';
    fill($('#context-legend'),
      h('li', {}, contextIconSvg('open', 'location'), 'Open record: filled circle'),
      h('li', {}, contextIconSvg('closed', 'location'), 'Closed record: dashed square'),
      h('li', {}, 'Letter inside: L location, G group, S school'));
    const changed = () => {
      const visible = $('#contexts-visible').checked;
      if (this.map && this.map.getSource('contexts')) {
        const src = this.map.getSource('contexts');
        const url = this.contextsTileUrl();
        if (src.tiles[0] !== url) src.setTiles([url]);
        setVisible(this.map, ['contexts', 'contexts-selected'], visible);
      }
      this.setView({ status: this.contextStatus(), contexts: visible ? '' : '0' });
      announce(visible ? `Showing ${this.contextStatus() === 'all' ? 'open and closed' : this.contextStatus()} context records.` : 'Context records hidden.');
    };
    $('#contexts-status').addEventListener('change', changed);
    $('#contexts-visible').addEventListener('change', changed);
  }

  contextStatus() { return $('#contexts-status').value || 'open'; }

  contextsTileUrl(bust) {
    const q = { status: this.contextStatus() };
    return `${location.origin}/tiles/contexts/{z}/{x}/{y}.mvt?${new URLSearchParams(q)}${bust ? `&v=${bust}` : ''}`;
  }

  refreshContexts() {
    if (this.map && this.map.getSource('contexts')) this.map.refreshTiles('contexts');
  }

  highlightContext(id) {
    if (this.map && this.map.getLayer('contexts-selected')) {
      this.map.setFilter('contexts-selected', ['==', ['to-string', ['get', 'id']], String(id || '')]);
    }
  }

  openContext(c) {
    if (!this.can('contexts')) return undefined;
    // Open the panel first: it narrows the map, and the centre must be set after that.
    const opened = this.detail.open(c.id);
    const lonLat = lonLatOf(c);
    if (lonLat) this.map.easeTo({ center: lonLat, duration: reducedMotion() ? 0 : 600 });
    return opened;
  }

  flyToContext(c) {
    const lonLat = lonLatOf(c);
    if (lonLat) {
      this.map.flyTo({ center: lonLat, zoom: Math.max(this.map.getZoom(), 15), essential: true, duration: reducedMotion() ? 0 : 1000 });
      announce(`Map centred on ${nameOf(c)}.`);
    } else announce('This record has no position on the map.');
  }

  recordForContext(c) { if (this.records) this.records.forContext(c); }

  // ---- the map ---------------------------------------------------------------

  setupMap() {
    const v = this.view;
    const map = createMap({
      container: 'map',
      center: v.center || [...this.config.center],
      zoom: v.zoom ?? this.config.zoom,
      config: this.config,
      showContexts: this.can('contexts'),
      heatUrl: this.heatTileUrl(),
      contextsUrl: this.contextsTileUrl(),
      k: this.k,
    });
    this.map = map;
    window.ctxmapMap = map; // for the browser tests and for people poking at the page
    map.on('error', (e) => this.mapError(e));
    map.on('load', () => {
      setVisible(map, ['heat', 'heat-outline', 'heat-selected'], $('#heat-visible').checked);
      if (this.can('contexts')) setVisible(map, ['contexts', 'contexts-selected'], $('#contexts-visible').checked);
      this.loadBoundary();
      if (this.can('trend')) this.restoreArea();
      if (v.context && this.can('contexts')) this.detail.open(v.context, { focus: false });
    });
    map.on('moveend', () => {
      this.setView({});
      this.updateExportLink();
    });
    map.on('idle', () => this.updateCellsInView());
    map.on('click', (e) => this.mapClick(e));
    // Shift-click adds a hexagon to the area whose trend is shown. MapLibre
    // keeps shift for box zoom, and the browser then reports no click at
    // all, so a shift press and release in one place counts as one (a
    // shift-drag still zooms to a box).
    const el = map.getCanvasContainer();
    let down = null;
    el.addEventListener('mousedown', (e) => { down = e.shiftKey && e.button === 0 ? [e.clientX, e.clientY] : null; }, true);
    el.addEventListener('mouseup', (e) => {
      if (down && e.shiftKey && Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) <= 4) this.mapShiftClick(e);
      down = null;
    }, true);
    map.on('mousemove', (e) => {
      const layers = this.pick ? [] : ['heat', ...(this.can('contexts') ? ['contexts'] : [])].filter((l) => map.getLayer(l));
      const hit = layers.length && map.queryRenderedFeatures(e.point, { layers }).length;
      map.getCanvas().style.cursor = this.pick ? 'crosshair' : hit ? 'pointer' : '';
    });
    this.updateExportLink();
    this.setView({ ...this.heatFilters(), status: this.contextStatus() });
  }

  mapError(e) {
    const err = e && e.error;
    const status = err && err.status;
    const url = (err && err.url) || '';
    let message;
    if (/\/tiles\/heat\//.test(url)) message = `The heat map could not be loaded${status ? ` (HTTP ${status})` : ''}.`;
    else if (/\/tiles\/hotspots\//.test(url)) message = `The hot spot layer could not be loaded${status ? ` (HTTP ${status})` : ''}.`;
    else if (/\/tiles\/contexts\//.test(url)) message = `The context records could not be loaded${status ? ` (HTTP ${status})` : ''}.`;
    else message = `The map reported a problem: ${(err && err.message) || 'unknown error'}.`;
    if (status === 401) { this.sessionEnded(); return; }
    const el = $('#map-error');
    if (el && el.textContent !== message) showError(el, message);
    this.lastMapError = message;
  }

  async loadBoundary() {
    try {
      const [fc, labels] = await Promise.all([
        get('/api/v1/boundary', { whole: true }), // GeoJSON, handed to the map as it is
        get('/api/v1/boundary/labels', { whole: true }), // one point per ward, well inside it
      ]);
      if (fc && fc.type === 'FeatureCollection') this.map.getSource('boundary').setData(fc);
      if (labels && labels.type === 'FeatureCollection') this.map.getSource('ward-labels').setData(labels);
    } catch (err) {
      if (err.status !== 404) announce(`The boundary could not be loaded: ${err.message}`);
    }
  }

  mapClick(e) {
    const map = this.map;
    const lonLat = [e.lngLat.lng, e.lngLat.lat];
    if (this.pick) {
      const { callback } = this.pick;
      this.stopPick();
      callback(lonLat);
      return;
    }
    if (this.can('contexts') && map.getLayer('contexts')) {
      const p = e.point;
      const hits = map.queryRenderedFeatures([[p.x - 8, p.y - 8], [p.x + 8, p.y + 8]], { layers: ['contexts'] });
      if (hits.length) {
        this.detail.returnFocus = map.getCanvas();
        this.detail.open(hits[0].properties.id);
        return;
      }
    }
    if (this.hotspots && this.hotspots.click(e)) return;
    const hex = map.getLayer('heat') ? map.queryRenderedFeatures(e.point, { layers: ['heat'] }) : [];
    if (hex.length && this.can('trend')) {
      if (e.originalEvent && e.originalEvent.shiftKey) return; // mapShiftClick has it
      this.selectCell(hex[0].properties.h3, { value: hex[0].properties.value });
      return;
    }
    if (hex.length) this.describeCell(hex[0].properties);
    if (this.search) {
      $('#panel-search').open = true;
      this.search.near(lonLat, 'the clicked point', { fly: false });
    }
  }

  /** A shift-click on a hexagon adds it to the trend's area, or takes it out. */
  mapShiftClick(e) {
    const map = this.map;
    if (this.pick || !this.can('trend') || !map.getLayer('heat')) return;
    const r = map.getCanvas().getBoundingClientRect();
    const hex = map.queryRenderedFeatures([e.clientX - r.left, e.clientY - r.top], { layers: ['heat'] });
    if (hex.length) this.selectCell(hex[0].properties.h3, { value: hex[0].properties.value, add: true });
  }


  // ---- picking a point on the map ------------------------------------------------

  startPick(message, callback, button) {
    this.stopPick();
    this.pick = { callback, button };
    if (button) button.setAttribute('aria-pressed', 'true');
    const banner = $('#pick-banner');
    banner.textContent = message;
    banner.hidden = false;
    this.map.getCanvas().style.cursor = 'crosshair';
    announce(`${message} With the keyboard, move the map so the point is at the centre and use the map centre button instead.`);
  }

  stopPick(cancelled) {
    if (!this.pick) return;
    const { button } = this.pick;
    this.pick = null;
    if (button) button.setAttribute('aria-pressed', 'false');
    $('#pick-banner').hidden = true;
    this.map.getCanvas().style.cursor = '';
    if (cancelled) {
      announce('Stopped picking a point.');
      if (button) button.focus();
    }
  }

  setPickMarker(lonLat) {
    const src = this.map.getSource('pick');
    if (src) src.setData({ type: 'FeatureCollection', features: lonLat ? [pointFeature(lonLat)] : [] });
  }

}

/** Where a record is: every record the API writes carries lat and lon when it is placed. */
function lonLatOf(c) { return c.lat !== undefined && c.lon !== undefined ? [c.lon, c.lat] : null; }
