// ctxmap's map UI: sign-in, then a MapLibre map with the anonymised heat
// hexagons and context records, and side panels for what the user's role
// may do. Plain ES modules, no framework, no bundler; MapLibre GL JS v6 is
// served from /vendor/ by the Go binary. Nothing here talks to any host but
// the page's own server unless the server configures a raster basemap.
import { get, post, del, api, setCsrfToken, setUnauthorizedHandler, withQuery, ApiError } from './api.js';
import { h, fill, $, $$, announce, showError, formatTime } from './dom.js';
import { readView, writeView } from './viewstate.js';
import { normaliseTaxonomy } from './taxonomy.js';
import { bandOf, renderLegend, disclosureNote, periodPresets, describePeriod, resForZoom, lastCompleteMonth, addMonths, monthCode } from './heat.js';
import { createMap, contextIconSvg, pointFeature } from './mapview.js';
import { renderTrend } from './trend.js';
import { ContextPanel, unwrap, nameOf } from './contextpanel.js';
import { Search } from './search.js';
import { Records } from './records.js';
import { Notifications } from './notifications.js';
import { setupDialog } from './dialog.js';

// What each role may do in the UI. The server decides for real; this only
// keeps people from being offered what they would be refused.
const capabilities = {
  practitioner: ['contexts', 'search', 'record', 'link'],
  context_lead: ['contexts', 'search', 'manage', 'trend'],
  analyst: ['contexts', 'search', 'trend', 'export'],
  admin: ['contexts', 'search', 'trend', 'export'],
};

const roleNames = {
  practitioner: 'practitioner', context_lead: 'context lead', analyst: 'analyst', admin: 'administrator',
};

const defaultCenter = [-0.0553, 51.5450]; // Hackney, if the server names no centre
const defaultZoom = 12;

class App {
  constructor() {
    this.user = null;
    this.view = {};
    this.pick = null;
    this.selectedCell = '';
  }

  can(cap) { return !!this.user && (capabilities[this.user.role] || []).includes(cap); }

  // ---- session -------------------------------------------------------------

  async boot() {
    setupDialog();
    setUnauthorizedHandler(() => this.sessionEnded());
    $('#login-form').addEventListener('submit', (e) => { e.preventDefault(); this.login(); });
    $('#signout').addEventListener('click', () => this.logout());
    let me = null;
    try {
      me = await get('/api/v1/me', { quiet401: true });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        this.showLogin(err.message);
        return;
      }
    }
    if (me && me.user) await this.start(me);
    else this.showLogin();
  }

  showLogin(message) {
    $('#app-view').hidden = true;
    $('#whoami').hidden = true;
    $('#login-view').hidden = false;
    showError($('#login-error'), message || '');
    $('#login-name').focus();
  }

  async login() {
    const name = $('#login-name').value.trim();
    const password = $('#login-password').value;
    const err = $('#login-error');
    if (!name || !password) {
      showError(err, 'Give your user name and password.');
      (name ? $('#login-password') : $('#login-name')).focus();
      return;
    }
    const button = $('#login-form button[type=submit]');
    button.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session', { name, password }, { quiet401: true });
      $('#login-password').value = '';
      showError(err, '');
      if (this.started) {
        location.reload(); // the session had ended mid-use: start clean
        return;
      }
      await this.start(s);
    } catch (e) {
      showError(err, e.message);
      $('#login-password').focus();
    } finally {
      button.disabled = false;
    }
  }

  async logout() {
    try { await del('/api/v1/session'); } catch { /* signing out anyway */ }
    setCsrfToken('');
    location.reload();
  }

  sessionEnded() {
    if (!$('#login-view').hidden) return;
    this.showLogin('Your session has ended. Sign in again to carry on.');
  }

  // ---- start-up ------------------------------------------------------------

  async start(session) {
    this.user = session.user;
    this.started = true;
    setCsrfToken(session.csrf_token);
    $('#login-view').hidden = true;
    $('#app-view').hidden = false;
    $('#whoami').hidden = false;
    const u = this.user;
    $('#whoami-text').textContent = `${u.name} (${roleNames[u.role] || u.role}${u.team ? `, ${u.team}` : ''})`;
    for (const el of $$('[data-can]')) el.hidden = !el.dataset.can.split(/\s+/).some((c) => this.can(c));

    const [config, taxonomy] = await Promise.all([
      get('/api/v1/config').catch(() => ({})),
      get('/api/v1/taxonomy').catch(() => ({})),
    ]);
    this.config = config || {};
    this.k = Number(this.config.k) >= 5 ? Number(this.config.k) : 10;
    this.taxonomy = normaliseTaxonomy(taxonomy);
    this.view = readView();

    this.setupHeatControls();
    this.setupContextControls();
    this.setupMap();
    this.detail = new ContextPanel(this);
    if (this.can('search')) this.search = new Search(this);
    if (this.can('record')) this.records = new Records(this);
    if (this.can('link')) this.notifications = new Notifications(this);
    if (this.can('manage')) this.setupOpenContext();
    if (this.can('trend')) $('#trend-centre').addEventListener('click', () => this.trendAtCentre());
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && this.pick) this.stopPick(true); });
    window.addEventListener('hashchange', () => this.applyHash());
    announce(`Signed in as ${u.name}. The map shows ${this.heatDescription()}.`);
  }

  // ---- heat layer ------------------------------------------------------------

  setupHeatControls() {
    const v = this.view;
    const cat = $('#heat-category');
    // extra_familial is the overarching extra-familial harm figure the server
    // publishes as one filter, like a category.
    fill(cat, h('option', { value: 'all', text: 'All categories' }),
      h('option', { value: 'extra_familial', text: 'All extra-familial harm' }),
      this.taxonomy.categories.filter((c) => !c.retired).map((c) => h('option', { value: c.code, text: c.label })));
    cat.value = v.category === 'extra_familial' || this.taxonomy.categories.some((c) => c.code === v.category) ? v.category : 'all';

    this.periods = periodPresets(this.config.periods);
    const per = $('#heat-period');
    fill(per, this.periods.map((p) => h('option', { value: p.value, text: p.label })));
    const def = this.periods.find((p) => p.value === 'last-12m') ? 'last-12m' : this.periods[0].value;
    per.value = this.periods.some((p) => p.value === v.period) ? v.period : def;

    const layer = v.layer === 'unsafe' ? 'unsafe' : 'harm';
    $(`input[name="layer"][value="${layer}"]`).checked = true;
    $('#heat-visible').checked = v.heat !== '0';

    renderLegend($('#legend'), this.k);
    $('#disclosure-note').textContent = disclosureNote(this.k);
    const dt = this.config.data_time;
    $('#data-time').textContent = dt ? `Data as of ${formatTime(dt)}.` : '';

    $('#heat-form').addEventListener('change', () => this.heatChanged());
    $('#export-res').addEventListener('change', () => { this.exportResChosen = true; this.updateExportLink(); });
  }

  heatFilters() {
    return {
      layer: $('input[name="layer"]:checked').value,
      category: $('#heat-category').value,
      period: $('#heat-period').value,
    };
  }

  /** Query parameters for the heat endpoints; all categories is an absent category. */
  heatParams() {
    const f = this.heatFilters();
    return { layer: f.layer, category: f.category === 'all' ? '' : f.category, period: f.period };
  }

  heatTileUrl() {
    return withQuery(`${location.origin}/tiles/heat/{z}/{x}/{y}.mvt`, this.heatParams());
  }

  heatDescription() {
    const f = this.heatFilters();
    const cat = f.category === 'all' ? 'all harm categories' : f.category === 'extra_familial' ? 'all extra-familial harm'
      : (this.taxonomy.categories.find((c) => c.code === f.category) || {}).label || f.category;
    return `${f.layer === 'unsafe' ? 'places young people feel unsafe' : 'where harm happened'}, ${cat}, ${describePeriod(f.period).toLowerCase()}`;
  }

  heatChanged() {
    const visible = $('#heat-visible').checked;
    const f = this.heatFilters();
    if (this.map && this.map.getSource('heat')) {
      const src = this.map.getSource('heat');
      const url = this.heatTileUrl();
      if (src.tiles[0] !== url) src.setTiles([url]);
      setVisible(this.map, ['heat', 'heat-outline', 'heat-selected'], visible);
    }
    this.setView({ layer: f.layer, category: f.category, period: f.period, heat: visible ? '' : '0' });
    this.updateExportLink();
    this.cellsSignature = '';
    showError($('#map-error'), '');
    $('#cell-info').hidden = true; // its value belonged to the old filters
    if (this.selectedCell && this.can('trend')) this.showTrend(this.selectedCell, { focus: false });
    announce(visible ? `Heat map now shows ${this.heatDescription()}.` : 'Heat map hidden.');
  }

  updateExportLink() {
    if (!this.can('export')) return;
    if (!this.exportResChosen && this.map) $('#export-res').value = String(resForZoom(this.map.getZoom()));
    const href = withQuery('/api/v1/exports/heat.csv', { ...this.heatParams(), res: $('#export-res').value });
    $('#export-link').setAttribute('href', href);
  }

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
    const cfgCenter = Array.isArray(this.config.center) && this.config.center.length === 2 ? this.config.center.map(Number) : defaultCenter;
    const map = createMap({
      container: 'map',
      center: v.center || cfgCenter,
      zoom: v.zoom ?? (Number.isFinite(Number(this.config.zoom)) && this.config.zoom !== null ? Number(this.config.zoom) : defaultZoom),
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
      if (v.cell && this.can('trend')) this.selectCell(v.cell, { focus: false });
      if (v.context && this.can('contexts')) this.detail.open(v.context, { focus: false });
    });
    map.on('moveend', () => {
      this.setView({});
      this.updateExportLink();
    });
    map.on('idle', () => this.updateCellsInView());
    map.on('click', (e) => this.mapClick(e));
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
    else if (/\/tiles\/contexts\//.test(url)) message = `The context records could not be loaded${status ? ` (HTTP ${status})` : ''}.`;
    else message = `The map reported a problem: ${(err && err.message) || 'unknown error'}.`;
    if (status === 401) { this.sessionEnded(); return; }
    const el = $('#map-error');
    if (el && el.textContent !== message) showError(el, message);
    this.lastMapError = message;
  }

  async loadBoundary() {
    try {
      const fc = await get('/api/v1/boundary');
      if (fc && fc.type === 'FeatureCollection') this.map.getSource('boundary').setData(fc);
    } catch (err) {
      if (err.status !== 404) announce(`The boundary could not be loaded: ${err.message}`);
    }
  }

  setView(partial) {
    Object.assign(this.view, partial);
    if (this.map) {
      const c = this.map.getCenter();
      this.view.center = [c.lng, c.lat];
      this.view.zoom = this.map.getZoom();
    }
    writeView(this.view); // replaceState: no hashchange event, no history entry
  }

  /** Someone pasted or edited a link while the page was open. */
  applyHash() {
    const v = readView();
    if (v.center && this.map) this.map.jumpTo({ center: v.center, zoom: v.zoom });
    let heat = false;
    if (v.layer && v.layer !== this.heatFilters().layer) { $(`input[name="layer"][value="${v.layer === 'unsafe' ? 'unsafe' : 'harm'}"]`).checked = true; heat = true; }
    if (v.category && v.category !== $('#heat-category').value && $(`#heat-category option[value="${CSS.escape(v.category)}"]`)) { $('#heat-category').value = v.category; heat = true; }
    if (v.period && v.period !== $('#heat-period').value && $(`#heat-period option[value="${CSS.escape(v.period)}"]`)) { $('#heat-period').value = v.period; heat = true; }
    if (heat) this.heatChanged();
    if (v.status && v.status !== this.contextStatus() && ['open', 'closed', 'all'].includes(v.status)) {
      $('#contexts-status').value = v.status;
      $('#contexts-status').dispatchEvent(new Event('change'));
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
    const hex = map.getLayer('heat') ? map.queryRenderedFeatures(e.point, { layers: ['heat'] }) : [];
    if (hex.length && this.can('trend')) {
      this.selectCell(hex[0].properties.h3, { value: hex[0].properties.value });
      return;
    }
    if (hex.length) this.describeCell(hex[0].properties);
    if (this.search) {
      $('#panel-search').open = true;
      this.search.near(lonLat, 'the clicked point', { fly: false });
    }
  }

  /** Say a hexagon's value in words, on screen and to screen readers. */
  describeCell(props) {
    const b = bandOf(props.value, this.k);
    const text = `Hexagon ${props.h3}: ${props.value} young people, band ${b.index} (${b.label}).`;
    const el = $('#cell-info');
    el.textContent = `Selected ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
    el.hidden = false;
    announce(text);
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

  // ---- hexagons: in view, selected, trend --------------------------------------------

  updateCellsInView() {
    const map = this.map;
    if (!map.getLayer('heat')) return;
    const feats = $('#heat-visible').checked ? map.queryRenderedFeatures({ layers: ['heat'] }) : [];
    const byCell = new Map();
    for (const f of feats) {
      const id = f.properties.h3;
      if (!byCell.has(id)) byCell.set(id, f);
    }
    const cells = [...byCell.values()].sort((a, b) => Number(b.properties.value) - Number(a.properties.value));
    const sig = cells.map((f) => `${f.properties.h3}:${f.properties.value}`).join(',');
    const table = $('#cells-table');
    if (sig === this.cellsSignature || table.contains(document.activeElement)) return;
    this.cellsSignature = sig;
    const top = cells.slice(0, 10);
    $('#cells-summary').textContent = cells.length
      ? `${cells.length} published ${cells.length === 1 ? 'hexagon' : 'hexagons'} in view${cells.length > top.length ? `; the ${top.length} highest are listed` : ''}.`
      : 'No published hexagons in view for these filters.';
    fill(table.querySelector('tbody'), top.map((f) => {
      const p = f.properties;
      const b = bandOf(p.value, this.k);
      return h('tr', {},
        h('td', { text: p.h3 }),
        h('td', { class: 'num', text: String(p.value) }),
        h('td', {}, h('span', { class: 'swatch', style: `display:inline-block;vertical-align:middle;margin-right:4px;background:${b.colour}`, 'aria-hidden': 'true' }), `${b.index}: ${b.label}`),
        h('td', {},
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Show hexagon ${p.h3} on the map`, onclick: () => this.showCell(f) }, 'Show'),
          this.can('trend') ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Trend for hexagon ${p.h3}`, onclick: () => this.selectCell(p.h3, { value: p.value }) }, 'Trend') : null));
    }));
  }

  showCell(f) {
    const c = centroidOf(f.geometry);
    if (c) this.map.easeTo({ center: c, duration: reducedMotion() ? 0 : 600 });
    this.map.setFilter('heat-selected', ['==', ['get', 'h3'], f.properties.h3]);
    this.describeCell(f.properties);
  }

  trendAtCentre() {
    const map = this.map;
    const p = map.project(map.getCenter());
    const hits = map.queryRenderedFeatures(p, { layers: ['heat'] });
    if (!hits.length) {
      fill($('#trend'), h('p', { class: 'note', text: 'No published hexagon at the map centre. Move the map or change the filters.' }));
      announce('No published hexagon at the map centre.');
      return;
    }
    this.selectCell(hits[0].properties.h3, { value: hits[0].properties.value });
  }

  selectCell(h3, { focus = true, value } = {}) {
    this.selectedCell = h3;
    if (value !== undefined) this.describeCell({ h3, value });
    if (this.map.getLayer('heat-selected')) this.map.setFilter('heat-selected', ['==', ['get', 'h3'], h3]);
    this.setView({ cell: h3 });
    return this.showTrend(h3, { focus });
  }

  async showTrend(h3, { focus = true } = {}) {
    const panel = $('#panel-trend');
    panel.open = true;
    const out = $('#trend');
    const f = this.heatParams();
    const last = lastCompleteMonth();
    const from = monthCode(addMonths(last, -23)), to = monthCode(last);
    fill(out, h('p', { class: 'note', text: 'Loading the trend\u2026' }));
    let data;
    try {
      data = await get(withQuery('/api/v1/trends', { h3, layer: f.layer, category: f.category, from, to }));
    } catch (err) {
      fill(out, h('p', { class: 'error', role: 'alert', text: err.message }));
      return;
    }
    if (h3 !== this.selectedCell) return;
    const cat = !f.category ? 'all categories' : f.category === 'extra_familial' ? 'all extra-familial harm'
      : (this.taxonomy.categories.find((c) => c.code === f.category) || {}).label || f.category;
    const title = `Hexagon ${h3}: ${f.layer === 'unsafe' ? 'feels unsafe' : 'harm happened'}, ${cat}, ${describePeriod(from)} to ${describePeriod(to)}`;
    const points = Array.isArray(data) ? data : (data && (data.points || data.series)) || [];
    fill(out, renderTrend({ points, title, k: Number(data && data.k) || this.k }),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.clearCell() }, 'Clear the selected hexagon')));
    if (focus) {
      panel.scrollIntoView({ block: 'nearest' });
      const heading = out.querySelector('h3');
      if (heading) { heading.tabIndex = -1; heading.focus(); }
    }
    announce(`Trend for hexagon ${h3} loaded. ${out.querySelector('.note') ? out.querySelector('.note').textContent : ''}`);
  }

  clearCell() {
    this.selectedCell = '';
    this.map.setFilter('heat-selected', ['==', ['get', 'h3'], '']);
    $('#cell-info').hidden = true;
    this.setView({ cell: '' });
    fill($('#trend'));
    $('#trend-centre').focus();
    announce('Hexagon cleared.');
  }

  // ---- opening a context (context leads) ---------------------------------------------

  setupOpenContext() {
    const tax = this.taxonomy;
    fill($('#oc-kind'), tax.kinds.map((k) => h('option', { value: k.code, text: k.label })));
    fill($('#oc-location-type'), tax.locationTypes.map((t) => h('option', { value: t.code, text: t.label })));
    const sync = () => { $('#oc-location-type-field').hidden = $('#oc-kind').value !== 'location'; };
    $('#oc-kind').addEventListener('change', sync);
    sync();
    const setPoint = ([lon, lat]) => {
      $('#oc-lat').value = lat.toFixed(6);
      $('#oc-lon').value = lon.toFixed(6);
      this.setPickMarker([lon, lat]);
      announce(`Point set to latitude ${lat.toFixed(5)}, longitude ${lon.toFixed(5)}.`);
    };
    $('#oc-pick').addEventListener('click', (e) => {
      if (e.currentTarget.getAttribute('aria-pressed') === 'true') this.stopPick();
      else this.startPick('Click the map at the place, or press Escape to stop.', setPoint, e.currentTarget);
    });
    $('#oc-centre').addEventListener('click', () => { const c = this.map.getCenter(); setPoint([c.lng, c.lat]); });
    $('#open-context-form').addEventListener('submit', (e) => { e.preventDefault(); this.openNewContext(); });
  }

  async openNewContext() {
    const err = $('#open-context-error');
    const conflict = $('#open-context-conflict');
    showError(err, '');
    fill(conflict);
    const kind = $('#oc-kind').value;
    const body = { kind };
    const name = $('#oc-name').value.trim();
    const postcode = $('#oc-postcode').value.trim();
    const latS = $('#oc-lat').value.trim(), lonS = $('#oc-lon').value.trim();
    const description = $('#oc-description').value.trim();
    if (kind === 'location') body.location_type = $('#oc-location-type').value;
    if (name) body.name = name;
    if (postcode) body.postcode = postcode;
    if (latS || lonS) {
      const lat = Number(latS), lon = Number(lonS);
      if (!latS || !lonS || !Number.isFinite(lat) || !Number.isFinite(lon)) {
        showError(err, 'Give both latitude and longitude as numbers, or leave both empty.');
        $('#oc-lat').focus();
        return;
      }
      body.lat = lat;
      body.lon = lon;
    }
    if (!postcode && !latS) {
      showError(err, kind === 'location' ? 'Give a postcode or a point on the map.' : 'Give a postcode or a point where the group or school is based.');
      $('#oc-postcode').focus();
      return;
    }
    if (kind !== 'location' && !name) {
      showError(err, 'A group or a school needs a name.');
      $('#oc-name').focus();
      return;
    }
    if (description) body.description = description;
    const review = $('#oc-review').value;
    if (review) body.review_date = review;
    const button = $('#open-context-form button[type=submit]');
    button.disabled = true;
    try {
      const created = unwrap(await post('/api/v1/contexts', body));
      for (const sel of ['#oc-name', '#oc-postcode', '#oc-lat', '#oc-lon', '#oc-description', '#oc-review']) $(sel).value = '';
      this.setPickMarker(null);
      this.refreshContexts();
      announce(`Opened ${nameOf(created)}.`);
      this.detail.returnFocus = $('#open-context-form button[type=submit]');
      this.openContext(created);
    } catch (e) {
      showError(err, e.message);
      const id = e.details && (e.details.existing_id ?? e.details.id ?? e.details.context_id);
      if (e.status === 409 && id !== undefined) {
        const closed = e.code === 'context_closed_exists' || e.details.status === 'closed';
        fill(conflict, h('p', {}, closed ? 'A closed record exists for this place. ' : 'An open record already exists for this place. ',
          h('button', { type: 'button', class: 'btn btn-small', onclick: (ev) => { this.detail.returnFocus = ev.currentTarget; this.detail.open(id); } },
            closed ? 'Open it to reopen it' : 'Open the existing record')));
      }
    } finally {
      button.disabled = false;
    }
  }
}

function lonLatOf(c) {
  if (!c) return null;
  const lat = Number(c.lat ?? c.latitude ?? (c.location && c.location.lat));
  const lon = Number(c.lon ?? c.lng ?? c.longitude ?? (c.location && (c.location.lon ?? c.location.lng)));
  if (Number.isFinite(lat) && Number.isFinite(lon) && (c.lat ?? c.latitude ?? c.location) !== undefined) return [lon, lat];
  const g = c.geometry || (c.location && c.location.type ? c.location : null);
  if (g && g.type === 'Point') return g.coordinates;
  return null;
}

function centroidOf(g) {
  if (!g) return null;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : null;
  if (!ring || !ring.length) return null;
  let x = 0, y = 0;
  const n = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1] ? ring.length - 1 : ring.length;
  for (let i = 0; i < n; i++) { x += ring[i][0]; y += ring[i][1]; }
  return [x / n, y / n];
}

/**
 * Show or hide layers, touching only those whose visibility changes: a
 * needless layout change makes MapLibre re-parse its cached tiles, which
 * can swallow a tile URL change made in the same frame.
 */
function setVisible(map, ids, visible) {
  const want = visible ? 'visible' : 'none';
  for (const id of ids) {
    if (map.getLayer(id) && (map.getLayoutProperty(id, 'visibility') || 'visible') !== want) map.setLayoutProperty(id, 'visibility', want);
  }
}

function reducedMotion() { return matchMedia('(prefers-reduced-motion: reduce)').matches; }

const app = new App();
window.ctxmapApp = app;
app.boot();
