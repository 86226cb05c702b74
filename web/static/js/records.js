// Practitioners' Level 1 work: record where one of their young people was
// harmed or feels unsafe (by postcode or a point picked on the map), and see
// that young person's records. The subject id is the case system's person id;
// the server keeps only a keyed hash of it. Records are listed, never drawn
// as points: the map shows hexagons only.
import { get, post, withQuery } from './api.js';
import { h, fill, $, $$, announce, showError, formatDate, formatTime, humanise } from './dom.js';
import { labelOf } from './taxonomy.js';
import { openDialog } from './dialog.js';
import { Purposes } from './purpose.js';
import { ContextualRecord } from './contextualrecord.js';

export class Records {
  constructor(app) {
    this.app = app;
    const tax = app.taxonomy;
    this.purposes = new Purposes(tax.readPurposes); // why each young person's records are read
    this.contextual = new ContextualRecord(app, $('#subject-context'));
    const list = $('#rec-category-list');
    fill(list, tax.categories.length
      ? tax.categories.map((c, i) => h('label', {},
        h('input', { type: 'checkbox', name: 'rec-category', value: c.code, id: `rec-cat-${i}` }),
        h('span', { text: c.label + (c.census_code ? ` (${c.census_code})` : '') })))
      : h('p', { class: 'note', text: 'The harm categories could not be loaded.' }));
    fill($('#rec-location-type'), tax.locationTypes.map((t) => h('option', { value: t.code, text: t.label })));
    fill($('#rec-familial'), tax.familial.map((t) => h('option', { value: t.code, text: t.label })));
    fill($('#rec-source'), tax.sources.map((t) => h('option', { value: t.code, text: t.label })));
    if (tax.familial.some((t) => t.code === 'extra')) $('#rec-familial').value = 'extra';

    for (const r of $$('input[name="rec-where"]')) r.addEventListener('change', () => this.syncWhere());
    $('#rec-pick').addEventListener('click', (e) => {
      const on = e.currentTarget.getAttribute('aria-pressed') !== 'true';
      if (on) {
        app.startPick('Click the map where it happened, or press Escape to stop.', (lonLat) => this.setPoint(lonLat), e.currentTarget);
      } else app.stopPick();
    });
    $('#rec-centre').addEventListener('click', () => {
      const c = app.map.getCenter();
      this.setPoint([c.lng, c.lat]);
    });
    $('#record-form').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    $('#subject-form').addEventListener('submit', (e) => { e.preventDefault(); this.showSubject($('#subject-id').value.trim()); });
  }

  syncWhere() {
    const byPoint = $('input[name="rec-where"]:checked').value === 'point';
    $('#rec-postcode-field').hidden = byPoint;
    $('#rec-point-field').hidden = !byPoint;
  }

  setPoint([lon, lat]) {
    $('input[name="rec-where"][value="point"]').checked = true;
    this.syncWhere();
    $('#rec-lat').value = lat.toFixed(6);
    $('#rec-lon').value = lon.toFixed(6);
    this.app.setPickMarker([lon, lat]);
    announce(`Location set to latitude ${lat.toFixed(5)}, longitude ${lon.toFixed(5)}.`);
  }

  forContext(c) {
    const panel = $('#panel-record');
    panel.open = true;
    $('#rec-context').value = String(c.id);
    if (c.postcode) {
      $('input[name="rec-where"][value="postcode"]').checked = true;
      $('#rec-postcode').value = c.postcode;
    }
    if (c.location_type) $('#rec-location-type').value = c.location_type;
    this.syncWhere();
    panel.scrollIntoView({ block: 'start' });
    $('#rec-subject').focus();
  }

  async submit() {
    const err = $('#record-error');
    showError(err, '');
    const subject = $('#rec-subject').value.trim();
    const categories = $$('input[name="rec-category"]:checked').map((i) => i.value);
    const occurred = $('#rec-occurred').value.trim();
    const byPoint = $('input[name="rec-where"]:checked').value === 'point';
    const problems = [];
    const mark = (el, bad) => el.setAttribute('aria-invalid', bad ? 'true' : 'false');
    mark($('#rec-subject'), !subject);
    if (!subject) problems.push(['#rec-subject', "Give the young person's case system id."]);
    if (!categories.length) problems.push(['#rec-cat-0', 'Choose at least one harm category.']);
    const okDate = /^\d{4}-\d{2}(-\d{2})?$/.test(occurred);
    mark($('#rec-occurred'), !okDate);
    if (!okDate) problems.push(['#rec-occurred', 'Give when it happened as YYYY-MM or YYYY-MM-DD.']);
    const body = {
      subject, layer: $('input[name="rec-layer"]:checked').value, categories,
      familial: $('#rec-familial').value, occurred, source: $('#rec-source').value,
      location_type: $('#rec-location-type').value,
    };
    if (byPoint) {
      const lat = Number($('#rec-lat').value), lon = Number($('#rec-lon').value);
      const bad = !$('#rec-lat').value || !$('#rec-lon').value || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180;
      mark($('#rec-lat'), bad);
      if (bad) problems.push(['#rec-lat', 'Give a latitude and longitude, or pick the point on the map.']);
      body.lat = lat;
      body.lon = lon;
    } else {
      const pc = $('#rec-postcode').value.trim();
      mark($('#rec-postcode'), !pc);
      if (!pc) problems.push(['#rec-postcode', 'Give the postcode, or choose a point on the map.']);
      body.postcode = pc;
    }
    const ctxId = $('#rec-context').value.trim();
    if (ctxId) {
      if (!/^\d+$/.test(ctxId)) problems.push(['#rec-context', 'The context record id is a number.']);
      body.context_id = Number(ctxId);
    }
    if (problems.length) {
      showError(err, problems.map((p) => p[1]).join(' '));
      const first = $(problems[0][0]);
      if (first) first.focus();
      return;
    }
    const button = $('#record-form button[type=submit]');
    button.disabled = true;
    try {
      const created = await post('/api/v1/harm-locations', body);
      const what = body.layer === 'unsafe' ? 'The unsafe place' : 'The location of harm';
      const geo = created.match ? ` (geocoded to ${humanise(created.match)} level)` : '';
      // The map shows published releases only (PRIVACY.md rule 12): say so,
      // with the next release's date when the server gives it.
      const due = this.app.config && this.app.config.release && this.app.config.release.next_due;
      const map = `It will show on the map after the next data release${due ? `, due ${formatDate(due)}` : ''}; it is in this young person's list now.`;
      const done = `${what} was recorded${geo}. ${map}`;
      announce(done);
      this.app.stopPick();
      this.app.setPickMarker(null);
      // Clear what identifies this event; keep the subject so the list shows it.
      for (const sel of ['#rec-postcode', '#rec-lat', '#rec-lon', '#rec-occurred', '#rec-context']) $(sel).value = '';
      for (const c of $$('input[name="rec-category"]')) c.checked = false;
      $('#subject-id').value = subject;
      $('#panel-subject').open = true;
      await this.showSubject(subject, { message: done });
    } catch (e) {
      showError(err, e.message);
      announce(`Not recorded: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async showSubject(subject, { message } = {}) {
    const err = $('#subject-error');
    const out = $('#subject-list');
    showError(err, '');
    if (!subject) {
      showError(err, "Give the young person's case system id.");
      $('#subject-id').focus();
      return;
    }
    const why = await this.purposes.for(subject);
    if (!why) {
      showError(err, "The records were not opened: say why you are opening them.");
      return;
    }
    let data;
    try {
      data = await get(withQuery(`/api/v1/subjects/${encodeURIComponent(subject)}/harm-locations`, why));
    } catch (e) {
      this.purposes.forget(subject);
      fill(out);
      fill($('#subject-context'));
      showError(err, e.message);
      return;
    }
    const items = data.harm_locations;
    const tax = this.app.taxonomy;
    const active = items.filter((r) => !r.archived);
    const summary = `${items.length} ${items.length === 1 ? 'record' : 'records'} for this young person${items.length !== active.length ? `, ${items.length - active.length} archived` : ''}.`;
    fill(out,
      message ? h('p', { class: 'success', text: message }) : null,
      h('p', { text: summary }),
      items.length ? h('table', { class: 'data-table', id: 'subject-table' },
        h('caption', { class: 'visually-hidden', text: "The young person's recorded locations" }),
        h('thead', {}, h('tr', {}, ['When', 'What', 'Where', ''].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, items.map((r) => {
          const cats = r.categories.map((c) => labelOf(tax.categories, c)).join(', ');
          const archived = r.archived; // {reason, note, at, by} when archived
          const where = [r.location_type ? labelOf(tax.locationTypes, r.location_type) : null,
            r.postcode || `${r.lat.toFixed(4)}, ${r.lon.toFixed(4)}`,
            r.match !== 'unit' && r.match !== 'latlon' ? `(${humanise(r.match).toLowerCase()} level)` : null].filter(Boolean).join(', ');
          return h('tr', {},
            h('td', { text: formatDate(r.occurred) }),
            h('td', {},
              h('div', { text: labelOf(tax.layers, r.layer) }),
              h('div', { class: 'note', text: [cats, r.familial ? `Familial context: ${labelOf(tax.familial, r.familial).toLowerCase()}` : null, r.source ? `Source: ${labelOf(tax.sources, r.source).toLowerCase()}` : null].filter(Boolean).join('; ') }),
              archived ? h('div', { class: 'note', text: `Archived: ${labelOf(tax.archiveReasons, archived.reason)}${archived.at ? `, ${formatTime(archived.at)}` : ''}${archived.note ? `. ${archived.note}` : ''}` }) : null),
            h('td', { text: where }),
            h('td', {}, archived ? null
              : h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `harm-archive-${r.id}` }, 'aria-label': `Archive the record of ${formatDate(r.occurred)}`, onclick: () => this.archive(subject, r) }, 'Archive')));
        }))) : null);
    announce(message ? `${message} ${summary}` : summary);
    await this.contextual.show(subject, why);
  }

  archive(subject, r) {
    openDialog({
      title: 'Archive a recorded location',
      fields: [
        { name: 'reason', label: 'Reason', type: 'select', required: true, options: this.app.taxonomy.archiveReasons.map((a) => ({ value: a.code, label: a.label })) },
        { name: 'note', label: 'Note', type: 'textarea', required: true },
      ],
      submitLabel: 'Archive',
      onSubmit: async (v) => {
        await post(`/api/v1/harm-locations/${encodeURIComponent(r.id)}/archive`, { reason: v.reason, note: v.note });
        await this.showSubject(subject, { message: 'The record was archived and has left every aggregate.' });
      },
    });
  }
}
