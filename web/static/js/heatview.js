// The heat layer's controls and what they show: the filters (layer,
// category, period, all read from /api/v1/config and the taxonomy), the
// export links (CSV, GeoJSON and their description), the hexagons in view
// and the selected hexagon (its trend is areatrend.js).
// HeatView's methods are mixed into App (see app.js).
import { withQuery } from './api.js';
import { h, fill, $, announce, showError, formatTime } from './dom.js';
import { labelOf } from './taxonomy.js';
import { bandOf, renderLegend, disclosureNote } from './heat.js';
import { setVisible, reducedMotion } from './mapview.js';

/** "36 km²", "5 km²", "0.7 km²". */
function formatArea(km2) { return `${km2 >= 1 ? Math.round(km2) : km2.toFixed(1)} km\u00b2`; }

export class HeatView {
  // ---- heat layer ------------------------------------------------------------

  setupHeatControls() {
    const v = this.view;
    const cat = $('#heat-category');
    // extra_familial is the overarching extra-familial harm figure the server
    // publishes as one filter, like a category.
    const ef = this.config.extra_familial;
    fill(cat, h('option', { value: 'all', text: 'All categories' }),
      h('option', { value: ef, text: 'All extra-familial harm' }),
      this.taxonomy.categories.map((c) => h('option', { value: c.code, text: c.label })));
    cat.value = v.category === ef || this.taxonomy.categories.some((c) => c.code === v.category) ? v.category : 'all';

    this.periods = this.config.periods;
    const per = $('#heat-period');
    fill(per, this.periods.map((p) => h('option', { value: p.value, text: p.label })));
    const def = this.periods.some((p) => p.value === this.config.default_period) ? this.config.default_period : this.periods[0].value;
    per.value = this.periods.some((p) => p.value === v.period) ? v.period : def;

    // The layers, their words and whether a category filters them come from
    // the server (config.layer_terms), like every other list.
    const terms = this.config.layer_terms;
    fill($('#heat-layers'), h('legend', { text: 'Layer' }), terms.map((t) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'layer', value: t.code }), ` ${t.label}`)));
    const layer = this.config.layers.includes(v.layer) ? v.layer : this.config.layers[0];
    $(`input[name="layer"][value="${layer}"]`).checked = true;
    this.syncCategoryToLayer();
    $('#heat-visible').checked = v.heat !== '0';

    renderLegend($('#legend'), this.k);
    $('#disclosure-note').textContent = disclosureNote(this.k);
    // The server words the release: which one the map shows and when the next is due.
    $('#data-time').textContent = this.config.release ? `${this.config.release.label}.` : '';

    const res = this.config.resolutions;
    fill($('#export-res'), res.map((r) => h('option', { value: String(r.res), text: `H3 resolution ${r.res} (about ${formatArea(r.area_km2)})` })));
    $('#export-res').value = String(res[res.length - 1].res);

    $('#heat-form').addEventListener('change', () => this.heatChanged());
    $('#export-res').addEventListener('change', () => { this.exportResChosen = true; this.updateExportLink(); });
    $('#export-view').addEventListener('change', () => this.updateExportLink());
  }

  /** The term of a layer code (its words, whether a category filters it). */
  layerTerm(code) {
    return this.config.layer_terms.find((t) => t.code === code) || { code, label: code, where: code, categorised: true };
  }

  /** A layer without categories (safe places) takes no category filter: the select is reset and disabled. */
  syncCategoryToLayer() {
    const cat = $('#heat-category');
    const categorised = this.layerTerm($('input[name="layer"]:checked').value).categorised;
    if (!categorised) cat.value = 'all';
    cat.disabled = !categorised;
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

  /** The selected category in words; all categories is an empty code. */
  categoryLabel(code) {
    if (!code || code === 'all') return 'all harm categories';
    if (code === this.config.extra_familial) return 'all extra-familial harm';
    return labelOf(this.taxonomy.categories, code);
  }

  heatDescription() {
    const f = this.heatFilters();
    const period = this.periods.find((p) => p.value === f.period);
    const term = this.layerTerm(f.layer);
    const what = term.categorised ? `, ${this.categoryLabel(f.category)}` : '';
    return `${term.where}${what}, ${(period ? period.label : f.period).toLowerCase()}`;
  }

  /** The H3 resolution the server draws at zoom z, from its own rule. */
  resForZoom(z) {
    z = Math.floor(z);
    const run = this.config.zoom_resolutions.find((r) => z >= r.min_zoom && z <= r.max_zoom);
    return run ? run.res : this.config.resolutions[this.config.resolutions.length - 1].res;
  }

  heatChanged() {
    this.syncCategoryToLayer();
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
    if (this.can('trend')) this.refreshTrend();
    announce(visible ? `Heat map now shows ${this.heatDescription()}.` : 'Heat map hidden.');
  }

  /** The export links follow the filters, the resolution and, when asked, the map's view. */
  updateExportLink() {
    if (!this.can('export')) return;
    if (!this.exportResChosen && this.map) $('#export-res').value = String(this.resForZoom(this.map.getZoom()));
    const q = { ...this.heatParams(), res: $('#export-res').value };
    if ($('#export-view').checked && this.map) {
      const b = this.map.getBounds();
      const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v));
      q.bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].map((v) => v.toFixed(5)).join(',');
    }
    $('#export-link').setAttribute('href', withQuery('/api/v1/exports/heat.csv', q));
    $('#export-geojson-link').setAttribute('href', withQuery('/api/v1/exports/heat.geojson', q));
    $('#export-meta-link').setAttribute('href', withQuery('/api/v1/exports/heat-metadata.json', q));
  }

  describeCell(props) {
    const b = bandOf(props.value, this.k);
    const text = `Hexagon ${props.h3}: ${props.value} young people, band ${b.index} (${b.label}).`;
    const el = $('#cell-info');
    el.textContent = `Selected ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
    el.hidden = false;
    announce(text);
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
          this.can('trend') ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Trend for hexagon ${p.h3}`, onclick: () => this.selectCell(p.h3, { value: p.value }) }, 'Trend') : null,
          this.can('trend') ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Add hexagon ${p.h3} to the area's trend, or take it out`, onclick: () => this.selectCell(p.h3, { value: p.value, add: true }) }, 'Add') : null));
    }));
  }

  showCell(f) {
    const c = centroidOf(f.geometry);
    if (c) this.map.easeTo({ center: c, duration: reducedMotion() ? 0 : 600 });
    this.map.setFilter('heat-selected', ['==', ['get', 'h3'], f.properties.h3]);
    this.describeCell(f.properties);
  }
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
