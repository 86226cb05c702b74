// Practitioners' Level 1 work: record where one of their young people was
// harmed or feels unsafe (by postcode or a point picked on the map), map the
// red, amber and green places of their safety map, and see that young
// person's records: each harm type with its start and status, archived one
// at a time or corrected, and each record's history. The subject id is the
// case system's person id; the server keeps only a keyed hash of it. Records
// are listed, never drawn as points: the map shows hexagons only. No form
// chooses anything for its user: every list starts on an empty choice.
import { get, post, withQuery } from './api.js';
import { h, fill, $, $$, announce, showError, formatDate, formatTime, humanise, choices } from './dom.js';
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
    fill($('#rec-layers'), h('legend', { text: 'What is being recorded' }), tax.layers.map((t, i) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'rec-layer', value: t.code, id: `rec-layer-${i}` }), ` ${t.label}`)));
    fill($('#rec-location-type'), choices(tax.locationTypes));
    fill($('#rec-familial'), choices(tax.familial));
    fill($('#rec-source'), choices(tax.sources));

    // Safety mapping: red, amber and green, each with what it means for the map.
    fill($('#sm-ratings'), h('legend', { text: 'How the young person sees the place' }), tax.safetyRatings.map((t, i) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'sm-rating', value: t.code, id: `sm-rating-${i}`, 'aria-describedby': `sm-rating-${i}-hint` }), ` ${t.label}`,
      h('span', { class: 'hint', id: `sm-rating-${i}-hint`, text: ` (${t.description})` }))));
    fill($('#sm-trusted'), choices(tax.trustedAdults));
    fill($('#sm-location-type'), choices(tax.locationTypes));
    for (const r of $$('input[name="sm-rating"]')) r.addEventListener('change', () => this.syncRating());
    $('#safety-form').addEventListener('submit', (e) => { e.preventDefault(); this.submitSafety(); });
    const smPoint = ([lon, lat]) => {
      $('#sm-postcode').value = '';
      $('#sm-lat').value = lat.toFixed(6);
      $('#sm-lon').value = lon.toFixed(6);
      app.setPickMarker([lon, lat]);
      announce(`Place set to latitude ${lat.toFixed(5)}, longitude ${lon.toFixed(5)}.`);
    };
    $('#sm-pick').addEventListener('click', (e) => {
      if (e.currentTarget.getAttribute('aria-pressed') === 'true') app.stopPick();
      else app.startPick('Click the map at the place, or press Escape to stop.', smPoint, e.currentTarget);
    });
    $('#sm-centre').addEventListener('click', () => { const c = app.map.getCenter(); smPoint([c.lng, c.lat]); });

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

  /** The trusted adult is asked for green places only. */
  syncRating() {
    const r = $('input[name="sm-rating"]:checked');
    $('#sm-trusted-field').hidden = !(r && r.value === 'green');
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
    const layer = $('input[name="rec-layer"]:checked');
    if (!layer) problems.push(['#rec-layer-0', 'Choose what is being recorded.']);
    if (!categories.length) problems.push(['#rec-cat-0', 'Choose at least one harm category.']);
    for (const [sel, what] of [['#rec-familial', 'the familial context'], ['#rec-source', 'the source'], ['#rec-location-type', 'the location type']]) {
      mark($(sel), !$(sel).value);
      if (!$(sel).value) problems.push([sel, `Choose ${what}.`]);
    }
    const okDate = /^\d{4}-\d{2}(-\d{2})?$/.test(occurred);
    mark($('#rec-occurred'), !okDate);
    if (!okDate) problems.push(['#rec-occurred', 'Give when it happened as YYYY-MM or YYYY-MM-DD.']);
    const body = {
      subject, layer: layer ? layer.value : '', categories,
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
      for (const c of $$('input[name="rec-category"], input[name="rec-layer"]')) c.checked = false;
      for (const sel of ['#rec-familial', '#rec-source', '#rec-location-type']) $(sel).value = '';
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
    const active = items.filter((r) => !r.archived);
    const summary = `${items.length} ${items.length === 1 ? 'record' : 'records'} for this young person${items.length !== active.length ? `, ${items.length - active.length} archived` : ''}.`;
    fill(out,
      message ? h('p', { class: 'success', text: message }) : null,
      h('p', { text: summary }),
      items.length ? h('table', { class: 'data-table', id: 'subject-table' },
        h('caption', { class: 'visually-hidden', text: "The young person's recorded locations" }),
        h('thead', {}, h('tr', {}, ['When', 'What', 'Where', ''].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, items.map((r) => this.row(subject, r)))) : null);
    announce(message ? `${message} ${summary}` : summary);
    await this.contextual.show(subject, why);
  }

  /** One record: what it is (layer or safety rating), its harm types with their status, where, its history and its actions. */
  row(subject, r) {
    const tax = this.app.taxonomy;
    const archived = r.archived; // {reason, note, at, by} when archived
    const where = [r.location_type ? labelOf(tax.locationTypes, r.location_type) : null,
      r.postcode || `${r.lat.toFixed(4)}, ${r.lon.toFixed(4)}`,
      r.match !== 'unit' && r.match !== 'latlon' ? `(${humanise(r.match).toLowerCase()} level)` : null].filter(Boolean).join(', ');
    const what = r.safety ? `Safety map: ${labelOf(tax.safetyRatings, r.safety)}` : labelOf(tax.layers, r.layer);
    const facts = [r.safety && r.trusted_adult ? `Trusted adult: ${labelOf(tax.trustedAdults, r.trusted_adult).toLowerCase()}` : null,
      r.familial ? `Familial context: ${labelOf(tax.familial, r.familial).toLowerCase()}` : null,
      r.source ? `Source: ${labelOf(tax.sources, r.source).toLowerCase()}` : null].filter(Boolean).join('; ');
    const when = formatDate(r.occurred);
    const types = r.types.length ? h('ul', { class: 'types', 'aria-label': `Harm types of the record of ${when}` }, r.types.map((t) => {
      const label = labelOf(tax.categories, t.category);
      const status = labelOf(tax.typeStatuses, t.status);
      const ended = t.ended ? `${t.ended.reason !== 'corrected' ? `: ${labelOf(tax.archiveReasons, t.ended.reason)}` : ''}${t.ended.note ? `. ${t.ended.note}` : ''}` : '';
      return h('li', { class: `type type-${t.status}`, dataset: { category: t.category, status: t.status } },
        h('span', { text: `${label}, since ${formatDate(t.started)}: ${status}${ended}` }),
        !archived && t.status === 'active'
          ? h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `type-archive-${r.id}-${t.category}` }, 'aria-label': `Archive ${label} on the record of ${when}`, onclick: () => this.archiveType(subject, r, t) }, 'Archive this type')
          : null);
    })) : null;
    const history = h('details', { class: 'history' }, h('summary', { text: `History (${r.history.length})` }),
      h('ol', {}, r.history.map((e) => h('li', { text: this.eventText(e) }))));
    const actions = archived ? null : h('div', { class: 'actions' },
      r.types.length ? h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `harm-correct-${r.id}` }, 'aria-label': `Correct the categories of the record of ${when}`, onclick: () => this.correct(subject, r) }, 'Correct categories') : null,
      h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `harm-archive-${r.id}` }, 'aria-label': `Archive the record of ${when}`, onclick: () => this.archive(subject, r) }, 'Archive'));
    return h('tr', { dataset: { id: String(r.id) } },
      h('td', { text: when }),
      h('td', {},
        h('div', { text: what }),
        facts ? h('div', { class: 'note', text: facts }) : null,
        types,
        archived ? h('div', { class: 'note', text: `Archived: ${labelOf(tax.archiveReasons, archived.reason)}${archived.at ? `, ${formatTime(archived.at)}` : ''}${archived.note ? `. ${archived.note}` : ''}` }) : null,
        history),
      h('td', { text: where }),
      h('td', {}, actions));
  }

  /** A history event in words. */
  eventText(e) {
    const tax = this.app.taxonomy;
    const cat = e.category ? labelOf(tax.categories, e.category) : '';
    const reason = e.reason ? labelOf(tax.archiveReasons, e.reason) : '';
    const words = {
      recorded: 'Recorded',
      type_added: `${cat} added, since ${formatDate(e.started || '')}`,
      type_archived: `${cat} archived: ${reason}`,
      type_removed: `${cat} removed as recorded in error`,
      archived: `Record archived: ${reason}`,
    }[e.event] || humanise(e.event);
    return `${formatTime(e.at)}, ${e.by}: ${words}${e.note ? `. ${e.note}` : ''}`;
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
        await this.showSubject(subject, { message: 'The record was archived and will leave every aggregate from the next data release.' });
      },
    });
  }

  archiveType(subject, r, t) {
    const label = labelOf(this.app.taxonomy.categories, t.category);
    openDialog({
      title: `Archive ${label} on this record`,
      fields: [
        { name: 'reason', label: 'Reason', type: 'select', required: true, options: this.app.taxonomy.archiveReasons.map((a) => ({ value: a.code, label: a.label })) },
        { name: 'note', label: 'Note', type: 'textarea', required: true, hint: 'Why, for the record and its reviewers: no names.' },
      ],
      submitLabel: 'Archive this type',
      onSubmit: async (v) => {
        const after = await post(`/api/v1/harm-locations/${encodeURIComponent(r.id)}/types/${encodeURIComponent(t.category)}/archive`, { reason: v.reason, note: v.note });
        await this.showSubject(subject, { message: after.archived
          ? `${label} was the last active type: the record was archived.`
          : `${label} was archived; the record's other types stay, on the record and in the next data release.` });
      },
    });
  }

  correct(subject, r) {
    const tax = this.app.taxonomy;
    const activeTypes = r.types.filter((t) => t.status === 'active').map((t) => t.category);
    openDialog({
      title: 'Correct the harm categories',
      fields: [
        { name: 'remove', label: 'Remove a category recorded in error', type: 'select', options: activeTypes.map((c) => ({ value: c, label: labelOf(tax.categories, c) })) },
        { name: 'add', label: 'Add a category', type: 'select', options: tax.categories.filter((c) => !activeTypes.includes(c.code)).map((c) => ({ value: c.code, label: c.label })) },
        { name: 'started', label: 'The added category started (YYYY-MM or YYYY-MM-DD)', hint: 'Only when adding a category.' },
        { name: 'note', label: 'Why the correction', type: 'textarea', required: true },
      ],
      submitLabel: 'Correct',
      onSubmit: async (v) => {
        if (!v.add && !v.remove) throw new Error('Choose a category to remove, to add, or both.');
        const body = { note: v.note };
        if (v.remove) body.remove = [v.remove];
        if (v.add) body.add = [{ category: v.add, started: v.started }];
        await post(`/api/v1/harm-locations/${encodeURIComponent(r.id)}/categories`, body);
        await this.showSubject(subject, { message: 'The categories were corrected; the change is in the record\'s history and the audit log, and counts from the next data release.' });
      },
    });
  }

  async submitSafety() {
    const err = $('#safety-error');
    showError(err, '');
    const subject = $('#sm-subject').value.trim();
    const rating = $('input[name="sm-rating"]:checked');
    const mapped = $('#sm-mapped').value.trim();
    const postcode = $('#sm-postcode').value.trim();
    const problems = [];
    const mark = (el, bad) => el.setAttribute('aria-invalid', bad ? 'true' : 'false');
    mark($('#sm-subject'), !subject);
    if (!subject) problems.push(['#sm-subject', "Give the young person's case system id."]);
    if (!rating) problems.push(['#sm-rating-0', 'Choose red, amber or green.']);
    const green = rating && rating.value === 'green';
    if (green) {
      mark($('#sm-trusted'), !$('#sm-trusted').value);
      if (!$('#sm-trusted').value) problems.push(['#sm-trusted', 'Choose the kind of trusted adult there.']);
    }
    const okDate = /^\d{4}-\d{2}(-\d{2})?$/.test(mapped);
    mark($('#sm-mapped'), !okDate);
    if (!okDate) problems.push(['#sm-mapped', 'Give when it was mapped as YYYY-MM or YYYY-MM-DD.']);
    mark($('#sm-location-type'), !$('#sm-location-type').value);
    if (!$('#sm-location-type').value) problems.push(['#sm-location-type', 'Choose the location type.']);
    const latS = $('#sm-lat').value.trim(), lonS = $('#sm-lon').value.trim();
    const lat = Number(latS), lon = Number(lonS);
    const byPoint = !postcode && (latS || lonS);
    const badPoint = byPoint && (!latS || !lonS || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180);
    mark($('#sm-postcode'), !postcode && !byPoint);
    mark($('#sm-lat'), badPoint);
    if (!postcode && !byPoint) problems.push(['#sm-postcode', 'Give the postcode, or a point on the map.']);
    if (badPoint) problems.push(['#sm-lat', 'Give both latitude and longitude as numbers, or pick the point on the map.']);
    if (problems.length) {
      showError(err, problems.map((p) => p[1]).join(' '));
      const first = $(problems[0][0]);
      if (first) first.focus();
      return;
    }
    const body = { subject, rating: rating.value, mapped, location_type: $('#sm-location-type').value };
    if (byPoint) {
      body.lat = lat;
      body.lon = lon;
    } else body.postcode = postcode;
    if (green) body.trusted_adult = $('#sm-trusted').value;
    const button = $('#safety-form button[type=submit]');
    button.disabled = true;
    try {
      await post('/api/v1/safety-places', body);
      const done = `The ${labelOf(this.app.taxonomy.safetyRatings, body.rating).toLowerCase()} place was recorded. It counts on the map from the next data release; it is in this young person's list now.`;
      announce(done);
      for (const sel of ['#sm-postcode', '#sm-lat', '#sm-lon', '#sm-mapped', '#sm-trusted', '#sm-location-type']) $(sel).value = '';
      this.app.stopPick();
      this.app.setPickMarker(null);
      rating.checked = false;
      this.syncRating();
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
}
