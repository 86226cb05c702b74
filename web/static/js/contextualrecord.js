// A young person's contextual record beyond locations (issue 13): the
// extra-familial referral and outcome markers with their history (a
// correction keeps the old entry, marked corrected), relocations in response
// to extra-familial harm (withdrawn with a reason when entered in error, and
// kept), and the contextual factors an assessment found with
// the plan actions that address them; a factor no action addresses is
// flagged, so a reviewer sees at once whether the plan attends to context.
// It is read with the same purpose as the young person's locations (one
// audited read each) and every list comes from the taxonomy.
import { get, post, patch, withQuery } from './api.js';
import { h, fill, announce, formatDate, formatTime } from './dom.js';
import { labelOf } from './taxonomy.js';
import { openDialog } from './dialog.js';

const options = (list) => list.map((t) => ({ value: t.code, label: t.label }));

/** Today as YYYY-MM-DD in the browser's calendar, the default of date fields. */
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export class ContextualRecord {
  constructor(app, out) {
    this.app = app;
    this.out = out;
    this.subject = null;
    this.why = null;
  }

  /** Read and show subject's contextual record for the purpose why. */
  async show(subject, why, { message } = {}) {
    this.subject = subject;
    this.why = why;
    let rec;
    try {
      rec = await get(withQuery(`/api/v1/subjects/${encodeURIComponent(subject)}/contextual-record`, why));
    } catch (e) {
      fill(this.out, h('p', { class: 'error', role: 'alert', text: e.message }));
      return;
    }
    const tax = this.app.taxonomy;
    fill(this.out,
      message ? h('p', { class: 'success', id: 'ctxrec-message', text: message }) : null,
      h('section', { id: 'ctxrec-markers', 'aria-labelledby': 'ctxrec-markers-h' },
        h('h3', { id: 'ctxrec-markers-h', text: 'Referral and outcome markers' }),
        this.markers(rec.markers, tax),
        h('button', { type: 'button', class: 'btn btn-small', id: 'ctxrec-add-marker', onclick: () => this.addMarker() }, 'Add a marker')),
      h('section', { id: 'ctxrec-relocations', 'aria-labelledby': 'ctxrec-relocations-h' },
        h('h3', { id: 'ctxrec-relocations-h', text: 'Relocations in response to extra-familial harm' }),
        rec.relocations.length
          ? h('ul', { class: 'plain-list', id: 'ctxrec-relocation-list' }, rec.relocations.map((r) => h('li', { class: r.withdrawn ? 'withdrawn' : null },
            `${formatDate(r.date)}: ${labelOf(tax.relocationKinds, r.kind)}${r.note ? `. ${r.note}` : ''}`,
            r.withdrawn ? h('span', { class: 'note', text: ` Withdrawn ${formatTime(r.withdrawn.at)} by ${r.withdrawn.by}: ${r.withdrawn.reason}` })
              : [' ', h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `relocation-withdraw-${r.id}` },
                'aria-label': `Withdraw the relocation of ${formatDate(r.date)}`, onclick: () => this.withdraw('relocations', r.id, 'relocation') }, 'Withdraw')])))
          : h('p', { class: 'note', text: 'No relocation recorded.' }),
        h('button', { type: 'button', class: 'btn btn-small', id: 'ctxrec-add-relocation', onclick: () => this.addRelocation() }, 'Record a relocation')),
      h('section', { id: 'ctxrec-factors', 'aria-labelledby': 'ctxrec-factors-h' },
        h('h3', { id: 'ctxrec-factors-h', text: 'Contextual factors and the plan' }),
        h('p', { class: rec.unaddressed ? 'warning' : 'note', id: 'ctxrec-unaddressed',
          text: rec.factors.length ? (rec.unaddressed
            ? `${rec.unaddressed} of ${rec.factors.length} contextual ${rec.factors.length === 1 ? 'factor has' : 'factors have'} no plan action addressing ${rec.unaddressed === 1 ? 'it' : 'them'}.`
            : 'Every contextual factor has a plan action.') : 'No contextual factor recorded.' }),
        rec.factors.map((f) => this.factor(f, tax)),
        h('button', { type: 'button', class: 'btn btn-small', id: 'ctxrec-add-factor', onclick: () => this.addFactor() }, 'Add a contextual factor')));
    if (message) announce(message);
  }

  markers(list, tax) {
    if (!list.length) return h('p', { class: 'note', text: 'No marker recorded.' });
    return h('table', { class: 'data-table', id: 'ctxrec-marker-table' },
      h('caption', { class: 'visually-hidden', text: 'Markers, corrected entries included' }),
      h('thead', {}, h('tr', {}, ['Date', 'Marker', 'Familial context', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, list.map((m) => h('tr', { class: m.corrected ? 'corrected' : null },
        h('td', { text: formatDate(m.date) }),
        h('td', { text: labelOf(tax.markerKinds, m.kind) }),
        h('td', {},
          h('div', { text: labelOf(tax.markerValues, m.familial) }),
          m.note ? h('div', { class: 'note', text: m.note }) : null,
          m.corrected ? h('div', { class: 'note', text: `Corrected ${formatTime(m.corrected.at)} by ${m.corrected.by}: ${m.corrected.reason}` }) : null),
        h('td', {}, m.corrected ? null : h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `marker-correct-${m.id}` },
          'aria-label': `Correct the ${labelOf(tax.markerKinds, m.kind).toLowerCase()} marker of ${formatDate(m.date)}`, onclick: () => this.correct(m) }, 'Correct'))))));
  }

  factor(f, tax) {
    const where = f.context_id != null ? `Context record: ${f.context_name || `no. ${f.context_id}`}`
      : f.context_erased ? 'Context record (since erased)'
        : `${labelOf(tax.locationTypes, f.location_type)}, ${labelOf(tax.factorAreaKinds, f.area_kind).toLowerCase()} ${f.area_name || f.area}`;
    if (f.withdrawn) {
      return h('article', { class: 'card factor withdrawn', dataset: { factor: f.id } },
        h('h4', { text: f.description }),
        h('p', { class: 'note', text: `${where}. Identified ${formatDate(f.identified_on)}. Withdrawn ${formatTime(f.withdrawn.at)} by ${f.withdrawn.by}: ${f.withdrawn.reason}` }));
    }
    return h('article', { class: `card factor${f.addressed ? '' : ' factor-unaddressed'}`, dataset: { factor: f.id } },
      h('h4', { text: f.description }),
      h('p', { class: 'note', text: `${where}. Identified ${formatDate(f.identified_on)}.` }),
      f.addressed ? null : h('p', { class: 'warning', text: 'Not addressed: no plan action attends to this factor.' }),
      f.actions.length ? h('ul', { class: 'plain-list' }, f.actions.map((a) => h('li', {},
        `${a.action} (${labelOf(tax.partnerAgencies, a.partner_agency)}): ${labelOf(tax.interventionStatuses, a.status).toLowerCase()}`
          + `${a.due_date ? `, due ${formatDate(a.due_date)}` : ''}${a.done_date ? `, done ${formatDate(a.done_date)}` : ''} `,
        h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `action-${a.id}` }, 'aria-label': `Progress the action ${a.action}`,
          onclick: () => this.progress(f, a) }, 'Progress')))) : null,
      h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `factor-action-${f.id}` }, 'aria-label': `Add a plan action for ${f.description}`,
        onclick: () => this.addAction(f) }, 'Add a plan action'), ' ',
      h('button', { type: 'button', class: 'btn btn-small', dataset: { focusKey: `factor-withdraw-${f.id}` }, 'aria-label': `Withdraw the factor ${f.description}`,
        onclick: () => this.withdraw('factors', f.id, 'factor') }, 'Withdraw'));
  }

  /** Withdraw an entry entered in error (what: relocations or factors), with a reason. */
  withdraw(what, id, noun) {
    openDialog({
      title: `Withdraw the ${noun}`,
      fields: [{ name: 'reason', label: 'Why it was entered in error', type: 'textarea', required: true,
        hint: 'It stays in the history with this reason and leaves the partnership rates from the next data release.' }],
      submitLabel: 'Withdraw',
      onSubmit: async (v) => {
        await post(`/api/v1/${what}/${encodeURIComponent(id)}/withdraw`, { reason: v.reason });
        await this.after(`The ${noun} was withdrawn; it stays in the history.`);
      },
    });
  }

  after(message) { return this.show(this.subject, this.why, { message }); }

  addMarker() {
    const tax = this.app.taxonomy;
    openDialog({
      title: 'Add a referral or outcome marker',
      fields: [
        { name: 'kind', label: 'Marker', type: 'select', required: true, options: options(tax.markerKinds) },
        { name: 'familial', label: 'Familial context', type: 'select', required: true, options: options(tax.markerValues) },
        { name: 'date', label: 'Date', type: 'date', required: true, value: today() },
        { name: 'note', label: 'Note', type: 'textarea', hint: 'Optional; no names or ids.' },
      ],
      submitLabel: 'Add the marker',
      onSubmit: async (v) => {
        await post('/api/v1/markers', { subject: this.subject, kind: v.kind, familial: v.familial, date: v.date, note: v.note });
        await this.after('The marker was added. It counts in the partnership rates from the next data release.');
      },
    });
  }

  correct(m) {
    const tax = this.app.taxonomy;
    openDialog({
      title: `Correct the ${labelOf(tax.markerKinds, m.kind).toLowerCase()} marker`,
      fields: [
        { name: 'familial', label: 'Familial context', type: 'select', required: true, options: options(tax.markerValues), value: m.familial },
        { name: 'date', label: 'Date', type: 'date', required: true, value: m.date },
        { name: 'note', label: 'Note', type: 'textarea', value: m.note },
        { name: 'reason', label: 'Reason for the correction', type: 'textarea', required: true, hint: 'Kept with the old entry and in the audit log.' },
      ],
      submitLabel: 'Correct',
      onSubmit: async (v) => {
        await post(`/api/v1/markers/${encodeURIComponent(m.id)}/correct`, v);
        await this.after('The marker was corrected; the old entry stays in the history.');
      },
    });
  }

  addRelocation() {
    const tax = this.app.taxonomy;
    openDialog({
      title: 'Record a relocation',
      fields: [
        { name: 'kind', label: 'Relocation', type: 'select', required: true, options: options(tax.relocationKinds) },
        { name: 'date', label: 'Date', type: 'date', required: true, value: today() },
        { name: 'note', label: 'Note', type: 'textarea', hint: 'Optional; no names, ids or addresses.' },
      ],
      submitLabel: 'Record the relocation',
      onSubmit: async (v) => {
        await post('/api/v1/relocations', { subject: this.subject, kind: v.kind, date: v.date, note: v.note });
        await this.after('The relocation was recorded.');
      },
    });
  }

  addFactor() {
    const tax = this.app.taxonomy;
    openDialog({
      title: 'Add a contextual factor from an assessment',
      fields: [
        { name: 'description', label: 'Factor', type: 'textarea', required: true, hint: 'What in the context undermines safety; thematic, no names.' },
        { name: 'identified_on', label: 'Identified on', type: 'date', required: true, value: today() },
        { name: 'context_id', label: 'Context record id', hint: 'Either a context record, or a location type and an area below.' },
        { name: 'location_type', label: 'Location type', type: 'select', value: '', options: [{ value: '', label: '(a context record instead)' }, ...options(tax.locationTypes)] },
        { name: 'area_kind', label: 'Area', type: 'select', options: options(tax.factorAreaKinds) },
        { name: 'area', label: 'Postcode district or ward', hint: 'A district such as E8, or a ward of the partnership boundary.' },
      ],
      submitLabel: 'Add the factor',
      onSubmit: async (v) => {
        const body = { subject: this.subject, identified_on: v.identified_on, description: v.description };
        if (v.context_id) body.context_id = Number(v.context_id);
        else Object.assign(body, { location_type: v.location_type, area_kind: v.area_kind, area: v.area });
        await post('/api/v1/factors', body);
        await this.after('The contextual factor was added. Add a plan action that addresses it.');
      },
    });
  }

  addAction(f) {
    const tax = this.app.taxonomy;
    openDialog({
      title: 'Add a plan action',
      fields: [
        { name: 'action', label: 'Action', type: 'textarea', required: true },
        { name: 'partner_agency', label: 'Partner agency', type: 'select', required: true, options: options(tax.partnerAgencies) },
        { name: 'status', label: 'Status', type: 'select', required: true, options: options(tax.interventionStatuses) },
        { name: 'due_date', label: 'Due date', type: 'date' },
      ],
      submitLabel: 'Add the action',
      onSubmit: async (v) => {
        await post(`/api/v1/factors/${encodeURIComponent(f.id)}/actions`, { action: v.action, partner_agency: v.partner_agency, status: v.status, due_date: v.due_date });
        await this.after('The plan action was added.');
      },
    });
  }

  progress(f, a) {
    const tax = this.app.taxonomy;
    openDialog({
      title: 'Progress a plan action',
      fields: [
        { name: 'status', label: 'Status', type: 'select', required: true, options: options(tax.interventionStatuses), value: a.status },
        { name: 'done_date', label: 'Done on', type: 'date', value: a.done_date || '' },
      ],
      submitLabel: 'Save',
      onSubmit: async (v) => {
        await patch(`/api/v1/factors/${encodeURIComponent(f.id)}/actions/${encodeURIComponent(a.id)}`, { status: v.status, done_date: v.done_date });
        await this.after('The plan action was updated.');
      },
    });
  }
}
