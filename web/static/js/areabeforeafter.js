// Before and after for the analyst's area (issue 12): the published values
// of the same whole cells the area's trend summed (a ward's as the trend
// answer listed them, so both views describe one area) for 3, 6 or 12
// months around a month the analyst chooses, drawn by beforeafter.js as the
// context panel draws them. It loads only when opened, since every answer
// is an audit-logged bulk read, and stays open (with its month and window)
// for the next area. AreaBeforeAfter's methods are mixed into App (app.js).
import { get, withQuery } from './api.js';
import { h, fill, announce } from './dom.js';
import { monthLabel } from './heat.js';
import { renderBeforeAfter } from './beforeafter.js';

export class AreaBeforeAfter {
  /**
   * The section under an area's trend. cells: the trend answer's
   * area.cells; where and what: the area and the filters in words.
   */
  areaBeforeAfter({ cells, where, what }) {
    if (!cells.length) return null;
    const rel = this.config.release;
    if (!this.baChoice) this.baChoice = { month: defaultMonth(rel), window: 6, open: false };
    const choice = this.baChoice;
    const body = h('div', { id: 'trend-ba-body', 'aria-live': 'polite' });
    let loaded = false;
    const load = () => { loaded = true; this.loadAreaBeforeAfter({ cells, where, what, body }); };
    const month = h('input', {
      type: 'month', id: 'trend-ba-month', value: choice.month, min: rel.first_month, max: rel.last_month, required: true,
      onchange: () => { if (/^\d{4}-\d{2}$/.test(month.value)) { choice.month = month.value; load(); } },
    });
    const win = h('select', { id: 'trend-ba-window', onchange: () => { choice.window = Number(win.value); load(); } },
      [3, 6, 12].map((n) => h('option', { value: String(n), text: `${n} months` })));
    win.value = String(choice.window);
    const section = h('details', {
      class: 'subpanel', id: 'trend-ba', open: choice.open,
      ontoggle: () => { choice.open = section.open; if (section.open && !loaded) load(); },
    },
    h('summary', { text: 'Before and after a month' }),
    h('p', { class: 'note', text: `The published values of this area's ${cells.length} ${cells.length === 1 ? 'hexagon' : 'hexagons'} in the months around a month of interest, for example when an intervention began.` }),
    h('div', { class: 'field' }, h('label', { for: 'trend-ba-month', text: 'Month of interest' }), month),
    h('div', { class: 'field' }, h('label', { for: 'trend-ba-window', text: 'Months before and after' }), win),
    body);
    if (choice.open) load();
    return section;
  }

  async loadAreaBeforeAfter({ cells, where, what, body }) {
    const { month, window } = this.baChoice;
    const f = this.heatParams();
    const seq = (this.baSeq = (this.baSeq || 0) + 1);
    fill(body, h('p', { class: 'note', text: 'Loading the published values\u2026' }));
    let data;
    try {
      data = await get(withQuery('/api/v1/before-after', { cells: cells.join(','), month, window, layer: f.layer, category: f.category }));
    } catch (err) {
      if (seq === this.baSeq) fill(body, h('p', { class: 'error', role: 'alert', text: err.message }));
      return;
    }
    if (seq !== this.baSeq) return; // another month, window or area was asked for meanwhile
    fill(body, renderBeforeAfter(data, {
      title: `${where}: ${what}, ${data.window} months before and after ${monthLabel(data.month)} (release ${data.release})`,
      csvId: 'trend-ba-csv',
    }));
    announce(`Before and after ${monthLabel(data.month)} loaded for ${where}.`);
  }
}

/**
 * The release's last month minus 6: with the default window of 6 every
 * month after it is released, and the months before it are too in any
 * release of 13 months or more. Never before the release's first month.
 */
function defaultMonth(rel) {
  const [y, m] = rel.last_month.split('-').map(Number);
  const t = y * 12 + (m - 1) - 6;
  const code = `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
  return code < rel.first_month ? rel.first_month : code;
}
