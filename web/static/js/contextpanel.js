// The context record panel: name, kind, status, notes under the triangle
// sides, interventions and their status, how many young people are linked
// and which teams work with them (never who), and the chronology. Context
// leads open, edit, close, reopen and add notes and interventions here;
// practitioners link one of their young people. Every action's result is
// announced, and errors show the server's message.
import { api, get, post, patch, withQuery } from './api.js';
import { h, fill, $, announce, formatTime, formatDate, humanise } from './dom.js';
import { labelOf } from './taxonomy.js';
import { openDialog } from './dialog.js';
import { renderBeforeAfter } from './beforeafter.js';
import { monthLabel } from './heat.js';

export class ContextPanel {
  constructor(app) {
    this.app = app;
    this.el = $('#detail');
    this.body = $('#detail-body');
    this.id = null;
    $('#detail-close').addEventListener('click', () => this.close());
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !$('#dialog').open) this.close();
    });
  }

  async open(id, { focus = true } = {}) {
    this.id = String(id);
    this.el.hidden = false;
    this.app.map && this.app.map.resize();
    this.app.setView({ context: this.id });
    this.app.highlightContext(this.id);
    fill(this.body, h('p', { class: 'note', text: 'Loading the record\u2026' }));
    $('#detail-title').textContent = 'Context record';
    if (focus) this.el.focus();
    await this.load();
  }

  close() {
    const wasOpen = !this.el.hidden;
    this.el.hidden = true;
    this.id = null;
    this.app.setView({ context: '' });
    this.app.highlightContext('');
    this.app.map && this.app.map.resize();
    if (wasOpen) {
      announce('Record panel closed.');
      const back = this.returnFocus && document.contains(this.returnFocus) ? this.returnFocus : $('#map canvas');
      if (back) back.focus();
    }
  }

  async load() {
    const id = this.id;
    const base = `/api/v1/contexts/${encodeURIComponent(id)}`;
    const [rec, links, chron, mine] = await Promise.allSettled([get(base), get(`${base}/links/summary`), get(`${base}/chronology`),
      this.app.can('link') ? get(`${base}/links`) : Promise.resolve(null)]);
    this.teamLinks = mine.status === 'fulfilled' && mine.value ? mine.value.links : [];
    // The record embeds its link summary too; the dedicated route is the contract.
    if (id !== this.id) return; // another record was opened meanwhile
    if (rec.status === 'rejected') {
      fill(this.body, h('p', { class: 'error', role: 'alert', text: rec.reason.message }));
      announce(`The record could not be loaded: ${rec.reason.message}`);
      return;
    }
    const c = rec.value;
    this.record = c;
    this.render(c, links, chron); // each a Promise.allSettled result: {status, value | reason}
    // Opened from a notification or a shared link: bring the record into view.
    const map = this.app.map;
    if (map && c.lat !== undefined && c.lon !== undefined && !map.getBounds().contains([c.lon, c.lat])) {
      map.easeTo({ center: [c.lon, c.lat], duration: 0 });
    }
    announce(`Opened ${nameOf(c)}, ${statusOf(c)}.`);
  }

  render(c, links, chron) {
    const app = this.app;
    const tax = app.taxonomy;
    const kind = c.kind;
    const status = statusOf(c);
    $('#detail-title').textContent = nameOf(c);
    const sides = tax.sides[kind];

    const facts = h('dl', { class: 'kv' },
      h('dt', { text: 'Status' }), h('dd', {}, h('span', { class: `status-badge status-${status}`, text: status === 'closed' ? 'Closed' : 'Open' })),
      h('dt', { text: 'Kind' }), h('dd', { text: labelOf(tax.kinds, kind) }),
      c.location_type ? [h('dt', { text: 'Location type' }), h('dd', { text: labelOf(tax.locationTypes, c.location_type) })] : null,
      c.name && c.name !== nameOf(c) ? [h('dt', { text: 'Name' }), h('dd', { text: c.name })] : null,
      c.postcode ? [h('dt', { text: 'Postcode' }), h('dd', { text: c.postcode })] : null,
      [h('dt', { text: 'Opened' }), h('dd', { text: [formatTime(c.created_at), c.created_by ? `by ${c.created_by}` : ''].filter(Boolean).join(' ') })],
      c.team ? [h('dt', { text: 'Owning team' }), h('dd', { text: c.team })] : null,
      c.closed_at ? [h('dt', { text: 'Closed' }), h('dd', { text: formatTime(c.closed_at) })] : null,
      c.review_date ? [h('dt', { text: 'Review due' }), h('dd', { text: formatDate(c.review_date) })] : null,
      h('dt', { text: 'Record id' }), h('dd', { text: String(c.id) }));

    const actions = h('div', { class: 'actions' });
    if (app.can('manage')) {
      actions.append(
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.edit(c), dataset: { focusKey: 'ctx-edit' } }, 'Edit'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.addNote(c, sides), dataset: { focusKey: 'ctx-note' } }, 'Add an assessment note'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.addIntervention(c, sides), dataset: { focusKey: 'ctx-intervention' } }, 'Add an intervention'),
        status === 'closed'
          ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.reopen(c), dataset: { focusKey: 'ctx-close-reopen' } }, 'Reopen')
          : h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.closeRecord(c, sides), dataset: { focusKey: 'ctx-close-reopen' } }, 'Close the context'));
    }
    if (app.can('link') && status !== 'closed') {
      actions.append(h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.link(c), dataset: { focusKey: 'ctx-link' } }, 'Link a young person'));
    }
    if (app.can('record')) {
      actions.append(h('button', { type: 'button', class: 'btn btn-small', onclick: () => app.recordForContext(c) }, 'Record a location here'));
    }
    actions.append(h('button', { type: 'button', class: 'btn btn-small', onclick: () => app.flyToContext(c) }, 'Show on the map'));

    const description = c.description;
    const notes = c.assessments;
    const triangle = h('section', { 'aria-labelledby': 'detail-triangle' },
      h('h3', { id: 'detail-triangle', text: 'Assessment under the triangle' }),
      sides.map((s) => {
        const mine = notes.filter((n) => n.side === s.code);
        return h('div', {},
          h('h4', { text: s.label }),
          mine.length
            ? h('ul', { class: 'notes' }, mine.map((n) => h('li', {},
              h('div', { text: n.note }),
              h('div', { class: 'meta', text: [n.created_by, formatTime(n.created_at)].filter(Boolean).join(', ') }))))
            : h('p', { class: 'note', text: 'No notes yet.' }));
      }),
      closureEvidence(c, sides));

    const ivs = c.interventions;
    const interventions = h('section', { 'aria-labelledby': 'detail-interventions' },
      h('h3', { id: 'detail-interventions', text: `Interventions (${ivs.length})` }),
      ivs.length
        ? h('table', { class: 'data-table' },
          h('caption', { class: 'visually-hidden', text: 'Interventions with partner, triangle side, status and dates' }),
          h('thead', {}, h('tr', {}, ['Action', 'Partner', 'Status', 'Due', 'Done', ''].map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, ivs.map((iv) => h('tr', {},
            h('td', {}, iv.action, iv.side ? h('div', { class: 'note', text: labelOf(sides, iv.side) }) : null),
            h('td', { text: labelOf(tax.partnerAgencies, iv.partner_agency) }),
            h('td', { text: labelOf(tax.interventionStatuses, iv.status) }),
            h('td', { text: formatDate(iv.due_date) }),
            h('td', { text: formatDate(iv.done_date) }),
            h('td', {}, app.can('manage')
              ? h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `ctx-iv-${iv.id}` }, onclick: () => this.updateIntervention(c, iv), 'aria-label': `Update the status of ${iv.action}` }, 'Update')
              : null)))))
        : h('p', { class: 'note', text: 'No interventions recorded.' }));

    const linked = h('section', { 'aria-labelledby': 'detail-links' },
      h('h3', { id: 'detail-links', text: 'Young people linked' }),
      linksSummary(links),
      app.can('link') ? this.renderTeamLinks() : null);

    const events = chron.status === 'fulfilled' ? chron.value.events : [];
    const chronology = h('section', { 'aria-labelledby': 'detail-chronology' },
      h('h3', { id: 'detail-chronology', text: 'Chronology' }),
      chron.status === 'rejected' ? h('p', { class: 'note', text: chron.reason.message })
        : events.length ? h('ol', { class: 'chronology' }, events.map((e) => h('li', {},
          h('span', { text: describeEvent(e) }),
          h('div', { class: 'meta', text: [e.actor, e.team, eventTime(e.at)].filter(Boolean).join(', ') }))))
          : h('p', { class: 'note', text: 'No changes recorded yet.' }));

    fill(this.body, facts, description ? h('p', { text: description }) : null, actions,
      h('p', { class: 'note', text: 'A context record is thematic: it never names the young people linked to it.' }),
      triangle, interventions, app.can('trend') ? this.beforeAfterSection(c) : null, linked, chronology);
  }

  /**
   * Before and after the first intervention: the published values of the
   * place's hexagon and its neighbours, as a chart and a table.
   */
  beforeAfterSection(c) {
    const section = h('section', { 'aria-labelledby': 'detail-before-after' },
      h('h3', { id: 'detail-before-after', text: 'Before and after' }));
    if (c.lat === undefined || c.lon === undefined) {
      section.append(h('p', { class: 'note', text: 'This record has no place on the map, so there is no area to compare.' }));
      return section;
    }
    if (!c.interventions.length) {
      section.append(h('p', { class: 'note', text: 'No intervention is recorded yet: before and after compares the months around the first one.' }));
      return section;
    }
    const out = h('div', { id: 'detail-ba-body', 'aria-live': 'polite' });
    const select = h('select', { id: 'ba-window', onchange: () => this.loadBeforeAfter(c, out, Number(select.value)) },
      [3, 6, 12].map((n) => h('option', { value: String(n), text: `${n} months` })));
    select.value = '6';
    section.append(h('label', { for: 'ba-window', text: 'Months before and after: ' }), select, out);
    this.loadBeforeAfter(c, out, 6);
    return section;
  }

  async loadBeforeAfter(c, out, months) {
    const id = this.id;
    fill(out, h('p', { class: 'note', text: 'Loading the published values\u2026' }));
    try {
      const data = await get(withQuery('/api/v1/before-after', { context: c.id, window: months }));
      if (id !== this.id) return;
      fill(out, renderBeforeAfter(data, {
        title: `Young people harmed near ${nameOf(c)}, ${data.window} months before and after ${monthLabel(data.month)}`,
        csvId: 'detail-ba-csv',
      }));
    } catch (e) {
      if (id === this.id) fill(out, h('p', { class: 'note', text: e.message }));
    }
  }

  /** A practitioner's own team's links (ids and dates only) with Unlink. */
  renderTeamLinks() {
    const mine = this.teamLinks || [];
    if (!mine.length) return h('p', { class: 'note', text: 'Your team has no young person linked here.' });
    return h('div', {},
      h('p', { text: `Your team's links (${mine.length}):` }),
      h('ul', { class: 'notes' }, mine.map((l) => h('li', {},
        `Linked ${formatTime(l.linked_at)} `,
        h('button', {
          type: 'button', class: 'btn btn-small', dataset: { focusKey: `ctx-unlink-${l.id}` },
          'aria-label': `Unlink the young person linked ${formatTime(l.linked_at)}`, onclick: () => this.unlink(l),
        }, 'Unlink')))));
  }

  unlink(l) {
    openDialog({
      title: 'Unlink a young person from this context',
      fields: [{ name: 'reason', label: 'Why the link no longer applies', type: 'textarea', required: true }],
      submitLabel: 'Unlink',
      onSubmit: async (v) => {
        await api('DELETE', `/api/v1/contexts/${encodeURIComponent(this.id)}/links/${encodeURIComponent(l.id)}`, { reason: v.reason });
        await this.refresh('The young person was unlinked. The context stays open for others.');
      },
    });
  }

  async refresh(message) {
    announce(message);
    this.app.refreshContexts();
    await this.load();
  }

  edit(c) {
    // The server lets the name, description and review date change; kind,
    // type and place are the record's identity (open a new record instead).
    const fields = [
      { name: 'name', label: 'Name (building, organisation, group or school)', value: c.name || '' },
      { name: 'description', label: 'Description (thematic: no child\'s details)', type: 'textarea', value: c.description },
      { name: 'review_date', label: 'Review date', type: 'date', value: (c.review_date || '').slice(0, 10) },
    ];
    openDialog({
      title: `Edit ${nameOf(c)}`, fields, submitLabel: 'Save the changes',
      onSubmit: async (v) => {
        const body = {};
        for (const f of fields) if (v[f.name] !== String(f.value ?? '')) body[f.name] = v[f.name];
        if (Object.keys(body).length === 0) return;
        await patch(`/api/v1/contexts/${encodeURIComponent(this.id)}`, body);
        await this.refresh('The record was updated.');
      },
    });
  }

  addNote(c, sides) {
    openDialog({
      title: `Assessment note for ${nameOf(c)}`,
      fields: [
        { name: 'side', label: 'Triangle side', type: 'select', required: true, options: sides.map((s) => ({ value: s.code, label: s.label })) },
        { name: 'note', label: 'Note (thematic: no child\'s details)', type: 'textarea', required: true },
      ],
      submitLabel: 'Add the note',
      onSubmit: async (v) => {
        await post(`/api/v1/contexts/${encodeURIComponent(this.id)}/assessments`, { side: v.side, note: v.note });
        await this.refresh('The assessment note was added.');
      },
    });
  }

  addIntervention(c, sides) {
    openDialog({
      title: `Intervention for ${nameOf(c)}`,
      fields: [
        { name: 'action', label: 'Action', required: true },
        this.app.taxonomy.partnerAgencies.length
          ? { name: 'partner', label: 'Partner agency', type: 'select', required: true, options: this.app.taxonomy.partnerAgencies.map((p) => ({ value: p.code, label: p.label })) }
          : { name: 'partner', label: 'Partner agency', required: true, hint: 'For example police, housing, transport, licensing, school, youth service, a local business.' },
        { name: 'side', label: 'Triangle side it addresses', type: 'select', required: true, options: sides.map((s) => ({ value: s.code, label: s.label })) },
        { name: 'status', label: 'Status', type: 'select', required: true, options: this.statusOptions() },
        { name: 'due_date', label: 'Due date', type: 'date' },
      ],
      submitLabel: 'Add the intervention',
      onSubmit: async (v) => {
        const body = { action: v.action, partner_agency: v.partner, side: v.side, status: v.status };
        if (v.due_date) body.due_date = v.due_date;
        await post(`/api/v1/contexts/${encodeURIComponent(this.id)}/interventions`, body);
        await this.refresh('The intervention was added.');
      },
    });
  }

  updateIntervention(c, iv) {
    openDialog({
      title: `Update: ${iv.action}`,
      fields: [
        { name: 'status', label: 'Status', type: 'select', value: iv.status, options: this.statusOptions() },
        { name: 'done_date', label: 'Done on', type: 'date', value: (iv.done_date || '').slice(0, 10), hint: 'Leave empty unless the action is done.' },
      ],
      submitLabel: 'Save',
      onSubmit: async (v) => {
        const body = { status: v.status };
        if (v.done_date) body.done_date = v.done_date;
        await patch(`/api/v1/contexts/${encodeURIComponent(this.id)}/interventions/${encodeURIComponent(iv.id)}`, body);
        await this.refresh('The intervention was updated.');
      },
    });
  }

  statusOptions() {
    return this.app.taxonomy.interventionStatuses.map((s) => ({ value: s.code, label: s.label }));
  }

  closeRecord(c, sides) {
    openDialog({
      title: `Close ${nameOf(c)}`,
      fields: [
        // Closing needs evidence that safety increased under every side (DOMAIN.md).
        ...sides.map((s) => ({ name: `ev_${s.code}`, label: `Evidence of change: ${s.label}`, type: 'textarea', required: true })),
        { name: 'reason', label: 'Summary: why safety has increased', type: 'textarea', required: true },
      ],
      submitLabel: 'Close the context',
      onSubmit: async (v) => {
        const evidence = {};
        for (const s of sides) if (v[`ev_${s.code}`]) evidence[s.code] = v[`ev_${s.code}`];
        await post(`/api/v1/contexts/${encodeURIComponent(this.id)}/close`, { evidence, reason: v.reason });
        await this.refresh('The context was closed. Its chronology is kept.');
      },
    });
  }

  reopen(c) {
    openDialog({
      title: `Reopen ${nameOf(c)}`,
      fields: [{ name: 'reason', label: 'Why the context is being reopened', type: 'textarea', required: true }],
      submitLabel: 'Reopen',
      onSubmit: async (v) => {
        await post(`/api/v1/contexts/${encodeURIComponent(this.id)}/reopen`, { reason: v.reason });
        await this.refresh('The context was reopened.');
      },
    });
  }

  link(c) {
    openDialog({
      title: `Link a young person to ${nameOf(c)}`,
      fields: [
        { name: 'subject', label: "Young person's case system id", required: true, hint: 'Stored only as a keyed hash. Other practitioners see only how many young people are linked, and which teams.' },
        { name: 'reason', label: 'Why they are linked', type: 'textarea', required: true },
      ],
      submitLabel: 'Link',
      onSubmit: async (v) => {
        await post(`/api/v1/contexts/${encodeURIComponent(this.id)}/links`, { subject: v.subject, reason: v.reason });
        await this.refresh('The young person was linked to the context. You will be told when the context changes.');
      },
    });
  }
}

/** The name a record goes by: the server writes display_name for every record. */
export function nameOf(c) { return c.display_name; }
export function statusOf(c) { return c.status; }

function closureEvidence(c, sides) {
  // closures: every close (and its reopening) in order; show each one's evidence.
  const closures = c.closures;
  if (!closures.length) return null;
  return h('div', {}, h('h4', { text: 'Closures' }),
    h('ul', { class: 'notes' }, closures.map((cl) => {
      const entries = Object.entries(cl.evidence);
      return h('li', {},
        h('div', { class: 'meta', text: [`Closed ${formatTime(cl.closed_at)}`, cl.closed_by].filter(Boolean).join(' by ') }),
        cl.reason ? h('div', { text: cl.reason }) : null,
        entries.map(([side, text]) => h('div', {}, h('strong', { text: `${labelOf(sides, side)}: ` }), text)),
        cl.reopened_at ? h('div', { class: 'meta', text: `Reopened ${formatTime(cl.reopened_at)}${cl.reopened_by ? ` by ${cl.reopened_by}` : ''}${cl.reopen_reason ? `: ${cl.reopen_reason}` : ''}` }) : null);
    })));
}

// A count of young people as the server shows it to this role: exact, or
// below the disclosure threshold for everyone but practitioners only
// {count: null, fewer_than: k} (PRIVACY.md rule 14), or for a total that
// holds a hidden team count {count: null, at_least: n}.
export function countWords(c) {
  if (c.count !== null) return String(c.count);
  return c.at_least ? `at least ${c.at_least}` : `fewer than ${c.fewer_than}`;
}

function linksSummary(links) {
  if (links.status === 'rejected') return h('p', { class: 'note', text: links.reason.message });
  const total = links.value.young_people;
  const byTeam = links.value.by_team;
  const n = total.count;
  const line = n !== null
    ? `${n} young ${n === 1 ? 'person is' : 'people are'} linked to this context.`
    : `${total.at_least ? 'At least ' + total.at_least : 'Fewer than ' + total.fewer_than} young people are linked to this context.`;
  return h('div', {},
    h('p', { text: line }),
    byTeam.length
      ? [h('p', { text: 'Teams working with them:' }),
        h('ul', {}, byTeam.map((t) => h('li', { text: `${t.team}: ${countWords(t.young_people)}` })))]
      : h('p', { class: 'note', text: 'No team works with a linked young person yet.' }));
}

// When a chronology event happened: link events reach roles other than
// practitioners as a month only ("2026-11").
function eventTime(at) {
  return /^\d{4}-\d{2}$/.test(at) ? formatDate(at) : formatTime(at);
}

function describeEvent(e) {
  return e.summary || humanise(e.event);
}
