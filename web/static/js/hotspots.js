// The emerging hot spot view (issue 12, docs/ANALYTICS.md): the `hotspots`
// MVT layer coloured by pattern, a legend in words, the choices of
// resolution, step and category, a hexagon's Gi* series as a table, and
// downloads of the same analysis. Everything it names comes from the
// server: the resolutions, steps and tile route from /api/v1/config, the
// pattern codes, labels and definitions from the answer of
// /api/v1/hotspots, and the layer from the heat panel's choice. The JSON,
// the tiles and the downloads use one query, so they show one analysis.
import { get, withQuery } from './api.js';
import { h, fill, $, announce, showError, formatTime } from './dom.js';
import { monthLabel } from './heat.js';
import { setVisible, reducedMotion } from './mapview.js';

const layerIds = ['hotspots', 'hotspots-outline', 'hotspots-selected'];
// The heat layer's ids: drawn under the hot spots they would blur both, so
// they are hidden while the hot spots show and follow the heat panel again after.
const heatIds = ['heat', 'heat-outline', 'heat-selected'];
const none = '#d9d9d4';

/**
 * Colours keyed by the server's codes, from its list: hot patterns reds
 * and cold ones blues, darkest first in the server's order, no pattern a
 * light grey. The legend and the hexagon's table say the pattern in words,
 * so nothing depends on telling the shades apart.
 */
export function categoryColours(categories) {
  const out = {};
  // Hue and lightness both move along the list, so neighbours differ in both.
  const shade = (list, hue, turn) => list.forEach((c, i) => {
    const t = list.length > 1 ? i / (list.length - 1) : 0;
    out[c.code] = `hsl(${Math.round((hue + turn * t + 360) % 360)}, 75%, ${Math.round(30 + 38 * t)}%)`;
  });
  shade(categories.filter((c) => c.kind === 'hot'), 350, 45);
  shade(categories.filter((c) => c.kind === 'cold'), 235, -45);
  for (const c of categories) if (!out[c.code]) out[c.code] = none;
  return out;
}

/** A step label the server wrote ("2025-03" or "2025-Q1") in words. */
export function stepLabel(label) {
  const q = /^(\d{4})-Q([1-4])$/.exec(label);
  return q ? `Q${q[2]} ${q[1]}` : monthLabel(label);
}

/** Numbers as the table shows them: z to 2 places, p to 3 (or "< 0.001"). */
export const formatZ = (z) => Number(z).toFixed(2);
export const formatP = (p) => (p < 0.001 ? '< 0.001' : Number(p).toFixed(3));

export class Hotspots {
  constructor(app) {
    this.app = app;
    this.options = app.config.hotspots;
    this.answer = null;
    this.byCell = new Map();
    this.selected = '';
    this.seq = 0;
    const [res, step, category] = String(app.view.hot || '').split('.');
    fill($('#hot-res'), this.options.resolutions.map((r) => {
      const info = app.config.resolutions.find((x) => x.res === r);
      return h('option', { value: String(r), text: `H3 resolution ${r}${info ? ` (about ${formatKm2(info.area_km2)})` : ''}` });
    }));
    $('#hot-res').value = this.options.resolutions.includes(Number(res)) ? res : String(this.options.default_res);
    fill($('#hot-step'), this.options.steps.map((s) => h('option', { value: s.value, text: s.label })));
    $('#hot-step').value = this.options.steps.some((s) => s.value === step) ? step : this.options.steps[0].value;
    // The same categories the heat panel offers, built there from the taxonomy and the config.
    fill($('#hot-category'), [...$('#heat-category').options].map((o) => h('option', { value: o.value, text: o.text })));
    $('#hot-category').value = category && $(`#hot-category option[value="${CSS.escape(category)}"]`) ? category : $('#heat-category').value;
    $('#hot-visible').checked = Boolean(app.view.hot);

    $('#hot-form').addEventListener('change', () => this.changed());
    // The layer is the heat panel's; its handler runs first and may show the heat layer again.
    $('#heat-form').addEventListener('change', () => { if (this.visible()) this.refresh(); });
    $('#hot-centre').addEventListener('click', () => this.atCentre());
    app.map.once('load', () => this.addLayers());
  }

  visible() { return $('#hot-visible').checked; }

  /** The one query of the JSON, the tiles and the downloads. */
  query() {
    const layer = this.app.heatFilters().layer;
    // A layer without categories (safe places) takes none.
    const cat = this.app.layerTerm(layer).categorised ? $('#hot-category').value : 'all';
    return { res: $('#hot-res').value, step: $('#hot-step').value, layer, category: cat === 'all' ? '' : cat };
  }

  tileUrl() { return withQuery(`${location.origin}${this.options.tiles}`, this.query()); }

  addLayers() {
    const map = this.app.map;
    const zoom = this.app.config.heat_zoom;
    map.addSource('hotspots', { type: 'vector', tiles: [this.tileUrl()], minzoom: zoom.min, maxzoom: zoom.max });
    const layer = this.options.layer;
    const hidden = { visibility: 'none' };
    const before = map.getLayer('boundary-line') ? 'boundary-line' : undefined;
    map.addLayer({ id: 'hotspots', type: 'fill', source: 'hotspots', 'source-layer': layer, layout: hidden, paint: { 'fill-color': none, 'fill-opacity': 0.75 } }, before);
    map.addLayer({ id: 'hotspots-outline', type: 'line', source: 'hotspots', 'source-layer': layer, layout: hidden, paint: { 'line-color': '#1b1b1f', 'line-opacity': 0.5, 'line-width': 0.8 } }, before);
    map.addLayer({ id: 'hotspots-selected', type: 'line', source: 'hotspots', 'source-layer': layer, layout: hidden, filter: ['==', ['get', 'h3'], ''], paint: { 'line-color': '#000000', 'line-width': 3 } }, before);
    this.ready = true;
    if (this.visible()) this.refresh();
  }

  draw(on) {
    setVisible(this.app.map, layerIds, on);
    setVisible(this.app.map, heatIds, !on && $('#heat-visible').checked);
  }

  changed() {
    this.app.setView({ hot: this.visible() ? `${$('#hot-res').value}.${$('#hot-step').value}.${$('#hot-category').value}` : '' });
    if (!this.visible()) {
      this.draw(false);
      announce('Hot spots hidden.');
      return;
    }
    this.refresh();
  }

  /** Ask for the analysis, then draw its tiles: a refused request draws nothing. */
  async refresh() {
    if (!this.ready) return;
    const seq = ++this.seq;
    const q = this.query();
    const out = $('#hot-summary');
    showError($('#hot-error'), '');
    out.textContent = 'Analysing the published values\u2026';
    let data;
    try {
      data = await get(withQuery('/api/v1/hotspots', q));
    } catch (err) {
      if (seq !== this.seq) return;
      this.draw(false);
      this.answer = null;
      out.textContent = '';
      fill($('#hot-legend'));
      fill($('#hot-cells tbody'));
      $('#hot-downloads').hidden = true;
      showError($('#hot-error'), err.message);
      announce(`No hot spot analysis: ${err.message}`);
      return;
    }
    if (seq !== this.seq) return; // a newer choice is on its way
    this.show(data, q);
  }

  show(data, q) {
    this.answer = data;
    this.byCell = new Map(data.cells.map((c) => [c.h3, c]));
    this.labels = new Map(data.categories.map((c) => [c.code, c]));
    const colours = categoryColours(data.categories);
    this.colours = colours;
    const map = this.app.map;
    const expr = ['match', ['get', 'category']];
    for (const c of data.categories) expr.push(c.code, colours[c.code]);
    expr.push(none);
    map.setPaintProperty('hotspots', 'fill-color', expr);
    const src = map.getSource('hotspots');
    const url = this.tileUrl();
    if (src.tiles[0] !== url) src.setTiles([url]);
    this.draw(true);

    const counts = new Map();
    for (const c of data.cells) counts.set(c.category, (counts.get(c.category) || 0) + 1);
    const item = (c) => h('li', {},
      h('span', { class: 'swatch', style: `background:${colours[c.code]}`, 'aria-hidden': 'true' }),
      h('span', {}, h('strong', { text: c.label }), ` (${counts.get(c.code) || 0} ${plural(counts.get(c.code) || 0, 'hexagon')}): ${c.description}`));
    fill($('#hot-legend'), data.categories.filter((c) => counts.has(c.code)).map(item));
    fill($('#hot-definitions'), data.categories.map((c) => h('li', {}, h('strong', { text: c.label }), `: ${c.description}`)));

    const steps = data.steps;
    const area = data.study_area.kind === 'boundary'
      ? `the partnership's boundary, ${data.study_area.cells} ${plural(data.study_area.cells, 'hexagon')}`
      : `the ${data.study_area.cells} ${plural(data.study_area.cells, 'hexagon')} published in any step`;
    $('#hot-summary').textContent = `${steps.length} ${plural(steps.length, data.step)}, ${stepLabel(steps[0].label)} to ${stepLabel(steps[steps.length - 1].label)}, `
      + `${this.app.categoryLabel(data.category)}, H3 resolution ${data.res}; significance ${data.alpha}. Study area: ${area}.`;
    const rel = this.app.config.release;
    $('#hot-release').textContent = rel && rel.id === data.release.id ? `${rel.label}.`
      : `Data release no. ${data.release.id} of ${formatTime(data.release.data_time)}.`;

    $('#hot-csv').setAttribute('href', withQuery('/api/v1/hotspots', { ...q, format: 'csv' }));
    $('#hot-geojson').setAttribute('href', withQuery('/api/v1/hotspots', { ...q, format: 'geojson' }));
    $('#hot-downloads').hidden = false;
    this.listCells();
    if (this.selected && this.byCell.has(this.selected)) this.select(this.selected, { focus: false });
    else this.clear({ quiet: true });
    const found = data.cells.length - (counts.get(data.categories.find((c) => c.kind === 'none')?.code) || 0);
    announce(`Hot spot analysis loaded: ${found} of ${data.cells.length} hexagons show a pattern.`);
  }

  /** The hexagons with a pattern, hot then cold, as a table with a button each: the keyboard's way in. */
  listCells() {
    const order = new Map(this.answer.categories.map((c, i) => [c.code, i]));
    const cells = this.answer.cells.filter((c) => this.labels.get(c.category)?.kind !== 'none')
      .sort((a, b) => order.get(a.category) - order.get(b.category) || Math.abs(b.trend_z) - Math.abs(a.trend_z));
    $('#hot-cells-summary').textContent = cells.length
      ? `${cells.length} ${plural(cells.length, 'hexagon')} with a hot or cold spot pattern.` : 'No hexagon shows a hot or cold spot pattern.';
    fill($('#hot-cells tbody'), cells.map((c) => h('tr', {},
      h('td', { text: c.h3 }),
      h('td', { text: this.labels.get(c.category).label }),
      h('td', {}, h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Details of hexagon ${c.h3}`, onclick: () => this.select(c.h3) }, 'Details')))));
  }

  /** A click on the map: true when it landed on a drawn hexagon. */
  click(e) {
    if (!this.visible() || !this.answer || !this.app.map.getLayer('hotspots')) return false;
    const hits = this.app.map.queryRenderedFeatures(e.point, { layers: ['hotspots'] });
    if (!hits.length) return false;
    this.select(hits[0].properties.h3);
    return true;
  }

  atCentre() {
    const map = this.app.map;
    const hits = this.visible() && this.answer ? map.queryRenderedFeatures(map.project(map.getCenter()), { layers: ['hotspots'] }) : [];
    if (!hits.length) {
      fill($('#hot-detail'), h('p', { class: 'note', text: 'No hexagon of the analysis at the map centre. Show the hot spots, or move the map.' }));
      announce('No hexagon of the analysis at the map centre.');
      return;
    }
    this.select(hits[0].properties.h3);
  }

  select(id, { focus = true } = {}) {
    const c = this.byCell.get(id);
    if (!c) return;
    this.selected = id;
    const d = this.answer;
    $('#panel-hotspots').open = true;
    this.app.map.setFilter('hotspots-selected', ['==', ['get', 'h3'], id]);
    const cat = this.labels.get(c.category);
    const sig = c.trend_p <= d.alpha;
    const trend = sig ? (c.trend_z > 0 ? 'a significant upward trend' : 'a significant downward trend') : 'no significant trend';
    const stepWord = d.step === 'quarter' ? 'Quarter' : 'Month';
    const spot = (g) => (g.p <= d.alpha ? (g.z > 0 ? 'hot spot' : 'cold spot') : 'no');
    fill($('#hot-detail'),
      h('h3', { id: 'hot-detail-title', text: `Hexagon ${id}: ${cat.label}` }),
      h('p', { class: 'note', text: cat.description }),
      h('p', { id: 'hot-trend', text: `Mann-Kendall trend of its Gi* z-scores: Z = ${formatZ(c.trend_z)}, p = ${formatP(c.trend_p)}: ${trend} at significance ${d.alpha}.` }),
      h('table', { class: 'data-table', id: 'hot-series' },
        h('caption', { text: `Getis-Ord Gi* of hexagon ${id} by ${d.step}` }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: stepWord }),
          h('th', { scope: 'col', class: 'num', text: 'Gi* z' }),
          h('th', { scope: 'col', class: 'num', text: 'p' }),
          h('th', { scope: 'col', text: 'Significant' }))),
        h('tbody', {}, d.steps.map((st, i) => h('tr', {},
          h('th', { scope: 'row', text: stepLabel(st.label) }),
          h('td', { class: 'num', text: formatZ(c.gi[i].z) }),
          h('td', { class: 'num', text: formatP(c.gi[i].p) }),
          h('td', { text: spot(c.gi[i]) }))))),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.clear() }, 'Clear the selected hexagon')));
    if (focus) {
      const title = $('#hot-detail-title');
      title.tabIndex = -1;
      title.scrollIntoView({ block: 'nearest', behavior: reducedMotion() ? 'auto' : 'smooth' });
      title.focus({ preventScroll: true });
    }
    announce(`Hexagon ${id}: ${cat.label}; ${trend}.`);
  }

  clear({ quiet = false } = {}) {
    const wasSelected = this.selected;
    this.selected = '';
    if (this.app.map.getLayer('hotspots-selected')) this.app.map.setFilter('hotspots-selected', ['==', ['get', 'h3'], '']);
    fill($('#hot-detail'));
    if (quiet) return;
    $('#hot-centre').focus();
    if (wasSelected) announce('Hexagon cleared.');
  }
}

function plural(n, word) { return n === 1 ? word : `${word}s`; }

function formatKm2(km2) { return `${km2 >= 1 ? Math.round(km2) : km2.toFixed(1)} km\u00b2`; }
