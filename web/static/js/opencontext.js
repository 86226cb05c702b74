// Opening a context record (context leads): the form's kind and location
// type lists come from the taxonomy; the point comes from a postcode, a
// click on the map or the map centre (on the map page). A group (an online
// group, an association) needs no place. Before anything is written, the
// server lists near-duplicates (POST /api/v1/contexts/similar: the same
// location type within 100 m, or a name that reads alike); they are offered
// to open instead, and the lead may still open the new record explicitly.
// A true duplicate answers 409 with details.existing_id, offered as a button
// to open that record instead. The map page and the workspace share it.
import { post } from './api.js';
import { nameOf } from './contextpanel.js';
import { h, fill, $, announce, showError, choices, formatDistance, formatDate } from './dom.js';
import { labelOf } from './taxonomy.js';

export class OpenContext {
  constructor(app) {
    this.app = app;
    const tax = app.taxonomy;
    // Nothing is chosen for the lead: kind and location type start empty.
    fill($('#oc-kind'), choices(tax.kinds));
    fill($('#oc-location-type'), choices(tax.locationTypes));
    const sync = () => { $('#oc-location-type-field').hidden = $('#oc-kind').value !== 'location'; };
    $('#oc-kind').addEventListener('change', sync);
    sync();
    const setPoint = ([lon, lat]) => {
      $('#oc-lat').value = lat.toFixed(6);
      $('#oc-lon').value = lon.toFixed(6);
      app.setPickMarker([lon, lat]);
      announce(`Point set to latitude ${lat.toFixed(5)}, longitude ${lon.toFixed(5)}.`);
    };
    if (app.map) {
      $('#oc-pick').addEventListener('click', (e) => {
        if (e.currentTarget.getAttribute('aria-pressed') === 'true') app.stopPick();
        else app.startPick('Click the map at the place, or press Escape to stop.', setPoint, e.currentTarget);
      });
      $('#oc-centre').addEventListener('click', () => { const c = app.map.getCenter(); setPoint([c.lng, c.lat]); });
    }
    $('#open-context-form').addEventListener('submit', (e) => { e.preventDefault(); this.openNewContext(); });
  }

  async openNewContext({ checked = false } = {}) {
    const err = $('#open-context-error');
    const conflict = $('#open-context-conflict');
    showError(err, '');
    fill(conflict);
    const kind = $('#oc-kind').value;
    if (!kind) {
      showError(err, 'Choose the kind of context: a location, a group or a school.');
      $('#oc-kind').focus();
      return;
    }
    if (kind === 'location' && !$('#oc-location-type').value) {
      showError(err, 'Choose the location type.');
      $('#oc-location-type').focus();
      return;
    }
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
    // A group may have no place at all (an online group, an association).
    if (!postcode && !latS && kind !== 'group') {
      showError(err, kind === 'location' ? 'Give a postcode or a point on the map.' : 'Give the school\'s postcode or a point where it is.');
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
      const app = this.app;
      if (!checked) {
        const sim = await post('/api/v1/contexts/similar', body);
        if (sim.similar.length) {
          this.offerSimilar(sim);
          return;
        }
      }
      const created = await post('/api/v1/contexts', body);
      for (const sel of ['#oc-name', '#oc-postcode', '#oc-lat', '#oc-lon', '#oc-description', '#oc-review']) $(sel).value = '';
      if (app.setPickMarker) app.setPickMarker(null);
      app.refreshContexts();
      announce(`Opened ${nameOf(created)}.`);
      app.detail.returnFocus = $('#open-context-form button[type=submit]');
      app.openContext(created);
    } catch (e) {
      showError(err, e.message);
      const id = e.details.existing_id;
      if (e.status === 409 && id !== undefined) {
        const closed = e.code === 'context_closed_exists';
        fill(conflict, h('p', {}, closed ? 'A closed record exists for this place. ' : 'An open record already exists for this place. ',
          h('button', { type: 'button', class: 'btn btn-small', onclick: (ev) => { this.app.detail.returnFocus = ev.currentTarget; this.app.detail.open(id); } },
            closed ? 'Open it to reopen it' : 'Open the existing record')));
      }
    } finally {
      button.disabled = false;
    }
  }

  /** The records the new one may duplicate, each to open; or open the new one anyway. */
  offerSimilar(sim) {
    const tax = this.app.taxonomy;
    const n = sim.similar.length;
    const open = (id) => (ev) => { this.app.detail.returnFocus = ev.currentTarget; this.app.detail.open(id); };
    fill($('#open-context-conflict'), h('div', { class: 'similar', id: 'open-context-similar', role: 'alert' },
      h('p', { text: `${n === 1 ? 'A record' : `${n} records`} may already be "${sim.display_name}". Open ${n === 1 ? 'it' : 'one of them'} instead, or open a new record if it is a different place, group or school.` }),
      h('ul', { class: 'results' }, sim.similar.map((c) => h('li', {},
        h('button', { type: 'button', class: 'result-btn', dataset: { contextId: String(c.id) }, onclick: open(c.id) },
          h('span', { text: c.display_name }),
          h('span', { class: `status-badge status-${c.status}`, text: c.status === 'closed' ? 'Closed' : 'Open' }),
          h('span', {
            class: 'meta',
            text: [c.nearby ? `same type, ${formatDistance(c.distance_m)} away` : null,
              !c.nearby && c.distance_m !== undefined ? `${formatDistance(c.distance_m)} away` : null,
              c.similar_name ? 'similar name' : null,
              c.location_type ? labelOf(tax.locationTypes, c.location_type) : labelOf(tax.kinds, c.kind),
              c.review_date ? `review ${formatDate(c.review_date)}` : null].filter(Boolean).join(' \u00b7 '),
          }))))),
      h('button', { type: 'button', class: 'btn', id: 'open-context-anyway', onclick: () => this.openNewContext({ checked: true }) },
        'Open a new record anyway')));
    announce(`${n} possible duplicate ${n === 1 ? 'record' : 'records'} found. Open one, or open a new record anyway.`);
    $('#open-context-similar button').focus();
  }
}
