// The JSON API client. Every cookie-authenticated write carries the CSRF
// token the server gave at sign-in; errors arrive as
// {"error":{"code","message"}} and become ApiError with the server's message,
// which the UI shows to the user as it is.

import { watchFields } from './fieldlog.js';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

let csrfToken = '';
let onUnauthorized = null;

export function setCsrfToken(t) { csrfToken = t || ''; }

/** Called when a request that needed a session got 401 (the session ended). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

const safe = new Set(['GET', 'HEAD']);

/**
 * One API call. whole: the body is handed on as it is (GeoJSON for the map),
 * so the browser tests do not track its fields.
 */
export async function api(method, path, body, { quiet401 = false, whole = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!safe.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const message = e.message || `The server answered ${res.status} ${res.statusText}.`;
    const err = new ApiError(res.status, e.code || `http_${res.status}`, withRequestId(message, e.request_id, res.status), e.details);
    if (res.status === 401 && !quiet401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return whole ? data : watchFields(data, method, path);
}

function withRequestId(message, id, status) {
  return status >= 500 && id && !message.includes(id) ? `${message} (request ${id})` : message;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/** Build "path?k=v&..." leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
