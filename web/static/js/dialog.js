// One modal form for the small edits (close, reopen, notes, interventions,
// links, archive). The native <dialog> traps focus and closes on Escape;
// focus returns to the button that opened it.
import { h, fill, showError, $ } from './dom.js';

let current = null;

/**
 * fields: [{name, label, type: text|textarea|select|date|month|number, options:[{value,label}],
 *           required, value, hint}]
 * onSubmit(values) may throw an Error whose message is shown in the dialog;
 * onCancel() runs when the dialog closes without a successful submit.
 */
export function openDialog({ title, fields, submitLabel = 'Save', onSubmit, onCancel }) {
  const dlg = $('#dialog');
  const form = $('#dialog-form');
  const opener = document.activeElement;
  $('#dialog-title').textContent = title;
  $('#dialog-ok').textContent = submitLabel;
  showError($('#dialog-error'), '');
  fill($('#dialog-fields'), fields.map((f) => field(f)));
  // Where focus goes if the opener is re-rendered away by the save.
  const region = opener && opener.closest ? opener.closest('#detail, #sidebar') : null;
  current = { onSubmit, onCancel, fields, opener, region, done: false };
  dlg.showModal();
  const first = dlg.querySelector('#dialog-fields input, #dialog-fields select, #dialog-fields textarea');
  if (first) first.focus();
}

function field(f) {
  const id = `dlg-${f.name}`;
  let control;
  if (f.type === 'textarea') control = h('textarea', { id, name: f.name, rows: 3, required: !!f.required, 'aria-describedby': f.hint ? `${id}-hint` : null });
  else if (f.type === 'select') {
    // No silent default: unless the field brings its current value, the
    // select starts on an empty choice, which a required field refuses.
    const blank = f.value === undefined || f.value === null
      ? h('option', { value: '', text: f.required ? 'Choose…' : '(none)' }) : null;
    control = h('select', { id, name: f.name, required: !!f.required }, blank,
      (f.options || []).map((o) => h('option', { value: o.value, text: o.label })));
  } else control = h('input', { id, name: f.name, type: f.type || 'text', required: !!f.required, autocomplete: 'off', 'aria-describedby': f.hint ? `${id}-hint` : null });
  if (f.value !== undefined && f.value !== null) control.value = f.value;
  return h('div', { class: 'field' },
    h('label', { for: id, text: f.label + (f.required ? ' (required)' : '') }),
    control,
    f.hint ? h('p', { class: 'hint', id: `${id}-hint`, text: f.hint }) : null);
}

function values() {
  const out = {};
  for (const f of current.fields) {
    const el = document.getElementById(`dlg-${f.name}`);
    out[f.name] = el.value.trim();
  }
  return out;
}

/** The dialog's markup, for a page that does not carry it (admin.html). */
function ensureDialog() {
  if ($('#dialog')) return;
  document.body.append(h('dialog', { id: 'dialog', 'aria-labelledby': 'dialog-title' },
    h('form', { id: 'dialog-form', method: 'dialog', novalidate: true },
      h('h2', { id: 'dialog-title' }),
      h('div', { id: 'dialog-fields' }),
      h('p', { id: 'dialog-error', class: 'error', role: 'alert', hidden: true }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', id: 'dialog-ok', value: 'ok' }, 'Save'),
        h('button', { type: 'button', class: 'btn', id: 'dialog-cancel' }, 'Cancel')))));
}

export function setupDialog() {
  ensureDialog();
  const dlg = $('#dialog');
  const form = $('#dialog-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current) return;
    const v = values();
    for (const f of current.fields) {
      const el = document.getElementById(`dlg-${f.name}`);
      const missing = f.required && !v[f.name];
      el.setAttribute('aria-invalid', missing ? 'true' : 'false');
      if (missing) {
        showError($('#dialog-error'), `${f.label} is required.`);
        el.focus();
        return;
      }
    }
    const ok = $('#dialog-ok');
    ok.disabled = true;
    try {
      await current.onSubmit(v);
      current.done = true;
      close();
    } catch (err) {
      showError($('#dialog-error'), err.message);
    } finally {
      ok.disabled = false;
    }
  });
  $('#dialog-cancel').addEventListener('click', close);
  dlg.addEventListener('close', () => {
    const { opener, region, onCancel, done } = current || {};
    current = null;
    if (!done && onCancel) onCancel();
    if (!opener) return;
    if (document.contains(opener)) { opener.focus(); return; }
    // The panel re-rendered after the save: focus the new copy of the button,
    // or else the panel it was in.
    const key = opener.dataset && opener.dataset.focusKey;
    const again = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
    else if (region && !region.hidden) region.focus();
  });
}

function close() {
  const dlg = $('#dialog');
  if (dlg.open) dlg.close();
}
