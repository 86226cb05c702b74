// Search near a postcode (or sector, or district), a typed "lat,lon", the
// map centre or a map click:
// the map shows the search ring and the side panel lists the context
// records found, nearest first, with their distance. The list is the
// accessible equivalent of the symbols on the map.
import { get, withQuery } from './api.js';
import { h, fill, $, announce, showError, formatDistance, formatDate } from './dom.js';
import { labelOf } from './taxonomy.js';
import { circlePolygon, pointFeature, zoomForRadius } from './mapview.js';
import { nameOf, statusOf } from './contextpanel.js';

const latLonRe = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;

export class Search {
  constructor(app) {
    this.app = app;
    this.form = $('#search-form');
    this.list = $('#search-results');
    this.summary = $('#search-summary');
    this.error = $('#search-error');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.run($('#search-q').value);
    });
    $('#search-centre').addEventListener('click', () => {
      const c = app.map.getCenter();
      this.near([c.lng, c.lat], 'the map centre', { fly: false });
    });
  }

  get radius() { return Number($('#search-radius').value) || 1000; }

  async run(q) {
    q = (q || '').trim();
    showError(this.error, '');
    if (!q) {
      showError(this.error, 'Type a postcode, or a latitude and longitude such as 51.545,-0.055.');
      $('#search-q').focus();
      return;
    }
    const m = latLonRe.exec(q);
    if (m) {
      const lat = Number(m[1]), lon = Number(m[2]);
      if (Math.abs(lat) > 90 || Math.abs(lon) > 180) {
        showError(this.error, 'That latitude or longitude is out of range.');
        return;
      }
      await this.near([lon, lat], `${lat.toFixed(5)}, ${lon.toFixed(5)}`, { fly: true });
      return;
    }
    // A postcode, sector ("E8 3") or district ("E8"): the server geocodes it
    // from its own directory and says where the search was centred. Words
    // that are no postcode ("Market Street") search the records by name.
    await this.near(q, q.toUpperCase(), { fly: true, orName: q });
  }

  /** Context records whose name reads like q, from the workspace's list. */
  async byName(q) {
    const app = this.app;
    let data;
    try {
      data = await get(withQuery('/api/v1/contexts', { q, status: app.contextStatus() }));
    } catch (err) {
      showError(this.error, err.message);
      return;
    }
    const items = data.contexts;
    const msg = items.length
      ? `${items.length} context ${items.length === 1 ? 'record' : 'records'} named like "${q}".`
      : `No context record is named like "${q}", and it is not a postcode.`;
    this.render(items, null, msg);
  }

  /** Search around [lon, lat] or a postcode; label names the place in messages. */
  async near(where, label, { fly = false, orName = '' } = {}) {
    const app = this.app;
    const radius = this.radius;
    showError(this.error, '');
    const near = typeof where === 'string' ? where : `${where[1].toFixed(6)},${where[0].toFixed(6)}`;
    if (Array.isArray(where)) this.showRing(where, radius, fly);
    fill(this.summary, `Searching within ${formatDistance(radius)} of ${label}\u2026`);
    let data;
    try {
      data = await get(withQuery('/api/v1/contexts', { near, radius_m: radius, status: app.contextStatus() }));
    } catch (err) {
      fill(this.summary, '');
      if (orName && err.code === 'postcode_malformed') {
        await this.byName(orName);
        return;
      }
      showError(this.error, err.message);
      announce(`Search failed: ${err.message}`);
      return;
    }
    // For a postcode, where it is: its point, sector and district outlines.
    // Asked only once the server placed the search, so words that are no
    // postcode ("Market Street") never reach the places route.
    const place = typeof where === 'string'
      ? await get(`/api/v1/places/${encodeURIComponent(where)}`).catch(() => null) : null;
    this.showPlace(place);
    if (!Array.isArray(where)) this.showRing([data.lon, data.lat], radius, fly, place ? place.postcode : label);
    const items = data.contexts; // nearest first, as the server sorts them
    this.render(items, radius, label, place);
  }

  /** Highlight the searched postcode's sector and district outlines (none: clear them). */
  showPlace(place) {
    const map = this.app.map;
    const code = (o) => ['==', ['get', 'code'], (o && o.code) || ''];
    map.setFilter('sector-selected', code(place && place.sector));
    map.setFilter('district-selected', code(place && place.district));
  }

  showRing(lonLat, radius, fly, label) {
    const map = this.app.map;
    map.getSource('search').setData({ type: 'FeatureCollection', features: [circlePolygon(lonLat, radius), pointFeature(lonLat, label ? { label } : {})] });
    if (fly) {
      map.flyTo({ center: lonLat, zoom: zoomForRadius(map, radius, lonLat[1]), essential: true, duration: matchMedia('(prefers-reduced-motion: reduce)').matches ? 0 : 1200 });
    }
  }

  /** radius null: label is the whole message (a search by name); place: the searched postcode's outlines. */
  render(items, radius, label, place) {
    const app = this.app;
    const tax = app.taxonomy;
    let msg = radius === null ? label : items.length
      ? `${items.length} context ${items.length === 1 ? 'record' : 'records'} within ${formatDistance(radius)} of ${label}, nearest first.`
      : `No context records within ${formatDistance(radius)} of ${label}.`;
    if (place) msg = `${placeSentence(place)} ${msg}`;
    fill(this.summary, msg);
    fill(this.list, items.map((c) => {
      const status = statusOf(c);
      const kind = c.kind;
      const meta = [formatDistance(c.distance_m), labelOf(tax.kinds, kind),
        c.location_type ? labelOf(tax.locationTypes, c.location_type) : null,
        c.review_date ? `review ${formatDate(c.review_date)}${c.review === 'overdue' ? ' (overdue)' : c.review === 'due' ? ' (due soon)' : ''}` : 'no review date']
        .filter(Boolean).join(' \u00b7 ');
      return h('li', {},
        h('button', {
          type: 'button', class: 'result-btn', dataset: { contextId: String(c.id) },
          onclick: (e) => { app.detail.returnFocus = e.currentTarget; app.openContext(c); },
        },
        h('span', { text: nameOf(c) }),
        h('span', { class: `status-badge status-${status}`, text: status === 'closed' ? 'Closed' : 'Open' }),
        h('span', { class: 'meta', text: meta })));
    }));
    announce(msg);
  }
}

/** Where a searched postcode is, in words: "E8 3AA is in postcode sector E8 3, district E8 (outlined on the map)." */
export function placeSentence(place) {
  const parts = [];
  if (place.sector && place.sector.code !== place.postcode) parts.push(`postcode sector ${place.sector.code}`);
  if (place.district && place.district.code !== place.postcode) parts.push(`district ${place.district.code}`);
  if (!parts.length) return `${place.postcode} is outlined on the map.`;
  return `${place.postcode} is in ${parts.join(', ')} (outlined on the map).`;
}
