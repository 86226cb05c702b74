// Small DOM builders. Everything the UI renders goes through h(), which only
// ever sets text (never innerHTML), so server data cannot inject markup.

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': 'x'}, 'text', child)
 * Attributes: class, text, dataset (object), on<event> (function),
 * boolean true sets the attribute, false/null/undefined leaves it out.
 */
export function h(tag, attrs, ...children) {
  const el = tag === 'svg' || svgTags.has(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const svgTags = new Set(['g', 'rect', 'line', 'path', 'text', 'title', 'desc', 'polygon', 'circle', 'polyline']);

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace all children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Show a message in an element with role=alert (or hide it when empty). */
export function showError(el, message) {
  el.textContent = message || '';
  el.hidden = !message;
}

let announceTimer;
/** Say something to screen readers through the polite live region. */
export function announce(message) {
  const el = document.getElementById('announce');
  if (!el) return;
  // Clearing first makes a repeated message be read again.
  el.textContent = '';
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => { el.textContent = message; }, 60);
}

/** Format metres as "120 m" or "1.2 km". */
export function formatDistance(m) {
  if (m === null || m === undefined || Number.isNaN(Number(m))) return '';
  m = Number(m);
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(m < 10000 ? 1 : 0).replace(/\.0$/, '')} km`;
}

/** Format an ISO time as a short local date and time. */
export function formatTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/** Format an ISO date (or month) as written, day precision at most. */
export function formatDate(s) {
  if (!s) return '';
  const m = /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(String(s));
  if (!m) return String(s);
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, m[3] ? +m[3] : 1));
  return d.toLocaleDateString('en-GB', m[3] ? { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' } : { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** Turn a code like "child_sexual_exploitation" into words. */
export function humanise(code) {
  if (!code) return '';
  const s = String(code).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Options for a select of a controlled list ([{code, label}]) that starts
 * on an empty choice: no form may choose a value silently for its user.
 */
export function choices(list, blank = 'Choose…') {
  return [h('option', { value: '', text: blank }), ...list.map((t) => h('option', { value: t.code, text: t.label }))];
}
