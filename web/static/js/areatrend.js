// The analyst's area trends: one hexagon (a click), several (shift-click,
// or Add in the table of hexagons in view) or a ward of the imported
// boundary (from the list the server serves), by month or by quarter. The
// server sums the published values of the area's whole cells; this module
// only shows them, as a chart, a table and a CSV, and offers before and
// after for the same cells (areabeforeafter.js). When no month is
// published it offers quarters, which the release publishes on their own.
// AreaTrend's methods are mixed into App (see app.js).
import { get, withQuery } from './api.js';
import { h, fill, $, announce } from './dom.js';
import { monthLabel } from './heat.js';
import { renderTrend } from './trend.js';

export class AreaTrend {
  async setupAreaTrend() {
    const v = this.view;
    this.area = null;
    this.trendStep = v.step === 'quarter' ? 'quarter' : 'month';
    $(`input[name="trend-step"][value="${this.trendStep}"]`).checked = true;
    $('#trend-centre').addEventListener('click', () => this.trendAtCentre());
    $('#trend-step').addEventListener('change', () => this.setStep($('input[name="trend-step"]:checked').value));
    const res = this.config.resolutions;
    fill($('#trend-ward-res'), res.map((r) => h('option', { value: String(r.res), text: `resolution ${r.res} hexagons` })));
    $('#trend-ward-res').value = res.some((r) => String(r.res) === v.wres) ? v.wres : String(res[res.length - 1].res);
    $('#trend-ward').addEventListener('change', () => this.chooseWard($('#trend-ward').value));
    $('#trend-ward-res').addEventListener('change', () => { if (this.area && this.area.kind === 'ward') this.chooseWard(this.area.ward); });
    let wards = [];
    try {
      wards = (await get('/api/v1/boundary/wards')).wards;
    } catch (err) {
      announce(`The wards could not be loaded: ${err.message}`);
    }
    const list = wards.map((w) => ({ id: w.id, name: w.name }));
    $('#trend-ward-field').hidden = list.length === 0;
    fill($('#trend-ward'), h('option', { value: '', text: 'Choose a ward\u2026' }),
      list.map((w) => h('option', { value: w.id, text: w.name })));
    if (v.ward && list.some((w) => w.id === v.ward)) {
      $('#trend-ward').value = v.ward;
      this.chooseWard(v.ward, { focus: false });
    }
  }

  /** The area a shared link names (cell=a,b,c), once the map has loaded. */
  restoreArea() {
    const v = this.view;
    if (!v.cell || v.ward) return;
    const cells = v.cell.split(',').filter((c) => /^[0-9a-f]{15}$/.test(c));
    if (!cells.length) return;
    this.area = { kind: 'cells', cells };
    this.highlightArea();
    this.showTrend({ focus: false });
  }

  /** The cells of the area on the map, outlined. */
  highlightArea(shown) {
    const cells = shown || (this.area && this.area.kind === 'cells' ? this.area.cells : []);
    if (this.map && this.map.getLayer('heat-selected')) this.map.setFilter('heat-selected', ['in', ['get', 'h3'], ['literal', cells]]);
  }

  trendAtCentre() {
    const map = this.map;
    const hits = map.queryRenderedFeatures(map.project(map.getCenter()), { layers: ['heat'] });
    if (!hits.length) {
      fill($('#trend'), h('p', { class: 'note', text: 'No published hexagon at the map centre. Move the map or change the filters.' }));
      announce('No published hexagon at the map centre.');
      return;
    }
    this.selectCell(hits[0].properties.h3, { value: hits[0].properties.value });
  }

  /**
   * A hexagon chosen on the map or in the table: the area becomes that
   * hexagon, or with add it joins (or leaves) the area. Cells of another
   * resolution start a new area: an area's cells share one resolution.
   */
  selectCell(h3, { focus = true, value, add = false } = {}) {
    let cells = [h3];
    const prev = this.area && this.area.kind === 'cells' ? this.area.cells : [];
    if (add && prev.length && resOf(prev[0]) === resOf(h3)) {
      cells = prev.includes(h3) ? prev.filter((c) => c !== h3) : [...prev, h3];
      if (!cells.length) { this.clearArea(); return undefined; }
    }
    this.area = { kind: 'cells', cells };
    $('#trend-ward').value = '';
    if (value !== undefined) this.describeCell({ h3, value });
    this.highlightArea();
    this.setView({ cell: cells.join(','), ward: '' });
    return this.showTrend({ focus });
  }

  chooseWard(id, { focus = true } = {}) {
    if (!id) { this.clearArea(); return undefined; }
    this.area = { kind: 'ward', ward: id, res: $('#trend-ward-res').value };
    this.highlightArea();
    this.setView({ cell: '', ward: id, wres: this.area.res });
    return this.showTrend({ focus });
  }

  setStep(step) {
    this.trendStep = step;
    $(`input[name="trend-step"][value="${step}"]`).checked = true;
    this.setView({ step: step === 'quarter' ? 'quarter' : '' });
    if (this.area) this.showTrend({ focus: false });
  }

  /** Reload the trend for the current area, e.g. after the filters changed. */
  refreshTrend() { if (this.area) this.showTrend({ focus: false }); }

  trendQuery() {
    const f = this.heatParams();
    const { from, to } = this.config.trend;
    const q = { layer: f.layer, category: f.category, from, to, step: this.trendStep === 'quarter' ? 'quarter' : '' };
    if (this.area.kind === 'ward') return { ...q, ward: this.area.ward, res: this.area.res };
    return { ...q, h3: this.area.cells.join(',') };
  }

  async showTrend({ focus = true } = {}) {
    const panel = $('#panel-trend');
    panel.open = true;
    const out = $('#trend');
    const area = this.area;
    const f = this.heatParams();
    const { from, to } = this.config.trend;
    fill(out, h('p', { class: 'note', text: 'Loading the trend\u2026' }));
    let data;
    try {
      data = await get(withQuery('/api/v1/trends', this.trendQuery()));
    } catch (err) {
      if (area === this.area) fill(out, h('p', { class: 'error', role: 'alert', text: err.message }));
      return;
    }
    if (area !== this.area) return; // another area was chosen meanwhile
    const a = data.area;
    const cells = a.cells;
    this.highlightArea(cells); // a ward's cells too, as the server chose them
    const where = a.kind === 'ward'
      ? `Ward ${a.ward.name} (${cells.length} ${cells.length === 1 ? 'hexagon' : 'hexagons'} of resolution ${a.res} whose centres fall inside)`
      : cells.length === 1 ? `Hexagon ${cells[0]}` : `Area of ${cells.length} hexagons (resolution ${a.res})`;
    const cat = f.category ? this.categoryLabel(f.category) : 'all categories';
    const steps = data.step === 'quarter' ? 'by quarter' : 'by month';
    const title = `${where}: ${this.layerTerm(f.layer).where}, ${cat}, ${steps}, ${monthLabel(from)} to ${monthLabel(to)} (release ${data.release})`;
    const offer = data.step !== 'quarter' && data.published_steps === 0
      ? h('p', { class: 'note', id: 'trend-offer' },
        'Every month is suppressed for this area (fewer than the threshold, or none). Quarters are published on their own and may say more. ',
        h('button', { type: 'button', class: 'btn btn-small', id: 'trend-offer-quarters', onclick: () => this.setStep('quarter') }, 'Show quarters'))
      : null;
    fill(out, offer, renderTrend({ trend: data, title, what: { layer: f.layer, category: f.category } }),
      this.areaBeforeAfter({ cells, where, what: `${this.layerTerm(f.layer).where}, ${cat}` }),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.clearArea() }, 'Clear the area')));
    if (focus) {
      panel.scrollIntoView({ block: 'nearest' });
      const heading = out.querySelector('h3');
      if (heading) { heading.tabIndex = -1; heading.focus(); }
    }
    announce(`Trend for ${where} loaded. ${$('#trend-summary') ? $('#trend-summary').textContent : ''}${offer ? ' Quarters are offered.' : ''}`);
  }

  clearArea() {
    this.area = null;
    this.highlightArea();
    $('#trend-ward').value = '';
    $('#cell-info').hidden = true;
    this.setView({ cell: '', ward: '' });
    fill($('#trend'));
    $('#trend-centre').focus();
    announce('Area cleared.');
  }
}

/** An H3 id's resolution: its bits 52-55, the id's second hex digit. */
function resOf(h3) { return parseInt(h3.charAt(1), 16); }
