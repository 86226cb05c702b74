// Opening a context record (context leads): the form's kind and location
// type lists come from the taxonomy; the point comes from a postcode, a
// click on the map or the map centre. A duplicate answers 409 with
// details.existing_id, offered as a button to open that record instead.
import { post } from './api.js';
import { nameOf } from './contextpanel.js';
import { h, fill, $, announce, showError, choices } from './dom.js';

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
    $('#oc-pick').addEventListener('click', (e) => {
      if (e.currentTarget.getAttribute('aria-pressed') === 'true') app.stopPick();
      else app.startPick('Click the map at the place, or press Escape to stop.', setPoint, e.currentTarget);
    });
    $('#oc-centre').addEventListener('click', () => { const c = app.map.getCenter(); setPoint([c.lng, c.lat]); });
    $('#open-context-form').addEventListener('submit', (e) => { e.preventDefault(); this.openNewContext(); });
  }

  async openNewContext() {
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
      const app = this.app;
      const created = await post('/api/v1/contexts', body);
      for (const sel of ['#oc-name', '#oc-postcode', '#oc-lat', '#oc-lon', '#oc-description', '#oc-review']) $(sel).value = '';
      app.setPickMarker(null);
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
}
