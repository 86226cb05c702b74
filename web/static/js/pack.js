// The MACE panel pack (pack.html?id=N): a printable summary of one context
// record for a multi-agency child exploitation panel. It holds the record's
// facts and review date, the assessment notes under the triangle sides, the
// interventions with their outcomes, any closures, how many young people
// are linked by team (as the server shows them to this role: under
// PRIVACY.md rule 14 "fewer than k" for everyone but practitioners) and the
// chronology in words. It reads only the thematic routes: never a team's
// own links, so no link label, reason or young person is in it.
import { get, ApiError } from './api.js';
import { $, h, fill, showError, announce, formatDate, formatTime } from './dom.js';
import { normaliseTaxonomy, labelOf } from './taxonomy.js';
import { interventionTable, linksSummary, closureEvidence, eventTime, nameOf } from './contextpanel.js';

async function boot() {
  const id = new URLSearchParams(location.search).get('id') || '';
  if (!/^\d+$/.test(id)) return fail('Open the pack from a context record: the address needs ?id= and the record id.');
  let me;
  try {
    me = await get('/api/v1/me', { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      const box = $('#pack-error');
      fill(box, 'Sign in on the map first, then open the pack again. ', h('a', { href: '/', text: 'Go to the map' }));
      box.hidden = false;
      $('#pack-loading').hidden = true;
      return;
    }
    return fail(e.message);
  }
  const base = `/api/v1/contexts/${encodeURIComponent(id)}`;
  let c, tax, chron, links;
  try {
    [c, tax, chron, links] = await Promise.all([get(base), get('/api/v1/taxonomy'), get(`${base}/chronology`), get(`${base}/links/summary`)]);
  } catch (e) {
    return fail(e.message);
  }
  tax = normaliseTaxonomy(tax);
  render(c, tax, chron.events, links, me.user);
  $('#pack-print').disabled = false;
  $('#pack-print').addEventListener('click', () => window.print());
  document.title = `MACE panel pack: ${nameOf(c)}`;
  document.body.dataset.ready = 'true';
  announce(`The panel pack for ${nameOf(c)} is ready to print.`);
}

function fail(message) {
  $('#pack-loading').hidden = true;
  showError($('#pack-error'), message);
}

function section(id, title, ...body) {
  return h('section', { id, 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h`, text: title }), ...body);
}

function render(c, tax, events, links, user) {
  const sides = tax.sides[c.kind];
  const openIvs = c.interventions.filter((iv) => iv.status === 'planned' || iv.status === 'in_progress').length;
  const facts = h('dl', { class: 'kv' },
    h('dt', { text: 'Kind' }), h('dd', { text: labelOf(tax.kinds, c.kind) }),
    c.location_type ? [h('dt', { text: 'Location type' }), h('dd', { text: labelOf(tax.locationTypes, c.location_type) })] : null,
    c.postcode ? [h('dt', { text: 'Postcode' }), h('dd', { text: c.postcode })] : null,
    h('dt', { text: 'Status' }), h('dd', { text: c.status === 'closed' ? `Closed ${formatTime(c.closed_at)}` : 'Open' }),
    h('dt', { text: 'Owning team' }), h('dd', { text: c.team }),
    h('dt', { text: 'Opened' }), h('dd', { text: `${formatTime(c.created_at)} by ${c.created_by}` }),
    h('dt', { text: 'Review date' }), h('dd', { text: c.review_date ? formatDate(c.review_date) : 'None set' }),
    h('dt', { text: 'Interventions' }), h('dd', { text: `${c.interventions.length} in all, ${openIvs} planned or in progress` }),
    h('dt', { text: 'Record id' }), h('dd', { text: String(c.id) }));

  const triangle = section('pack-triangle', 'Assessment under the triangle',
    sides.map((s) => {
      const notes = c.assessments.filter((n) => n.side === s.code);
      return h('div', {}, h('h3', { text: s.label }),
        notes.length
          ? h('ul', { class: 'notes' }, notes.map((n) => h('li', {}, h('div', { text: n.note }),
            h('div', { class: 'meta', text: `${n.created_by}, ${formatTime(n.created_at)}` }))))
          : h('p', { class: 'note', text: 'No notes.' }));
    }));

  const interventions = section('pack-interventions', `Interventions (${c.interventions.length})`,
    c.interventions.length ? interventionTable(c.interventions, tax, sides) : h('p', { class: 'note', text: 'No interventions recorded.' }));

  const closures = closureEvidence(c, sides);

  const linked = section('pack-links', 'Young people linked, by team',
    h('p', { class: 'note', text: 'Counts only, never who. Below the disclosure threshold a count shows as "fewer than" for every role but practitioners (PRIVACY.md rule 14).' }),
    linksSummary({ status: 'fulfilled', value: links }));

  const chronology = section('pack-chronology', `Chronology (${events.length} changes)`,
    events.length
      ? h('ol', { class: 'chronology' }, events.map((e) => h('li', {},
        h('span', { text: e.summary }),
        h('div', { class: 'meta', text: [e.actor, e.team, eventTime(e.at)].filter(Boolean).join(', ') }))))
      : h('p', { class: 'note', text: 'No changes recorded.' }));

  fill($('#pack'),
    h('header', { class: 'pack-head' },
      h('p', { class: 'meta', text: 'MACE panel pack: a Level 2 context record' }),
      h('h1', { text: nameOf(c) }),
      h('p', { class: 'notice', text: `Thematic record: it holds no child's details and never says which young people are linked. Printed ${formatTime(new Date().toISOString())} by ${user.name}${user.team ? ` (${user.team})` : ''}. Share only with the panel.` })),
    section('pack-summary', 'The record', facts, c.description ? h('p', { text: c.description }) : null),
    triangle,
    interventions,
    closures ? section('pack-closures', 'Closures', closures) : null,
    linked,
    chronology);
}

boot();
