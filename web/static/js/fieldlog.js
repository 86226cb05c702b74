// Test support for "trust your own API": when the page has a
// window.ctxmapReportField function (the browser tests expose one before any
// module loads), every JSON response is wrapped so each field the UI reads is
// reported as {method, path, field}, e.g. field "contexts[].display_name".
// The tests check every reported field against the response schema of its
// route in /api/v1/openapi.json. Without the hook responses pass through
// untouched, so production pays nothing.

const objectKeys = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Wrap data so reads are reported, when a test asked for it. */
export function watchFields(data, method, url) {
  const report = globalThis.ctxmapReportField;
  if (typeof report !== 'function' || data === null || typeof data !== 'object') return data;
  const path = new URL(url, location.href).pathname;
  const seen = new Set();
  const note = (field) => {
    if (seen.has(field)) return;
    seen.add(field);
    report({ method, path, field });
  };
  return wrap(data, '', note);
}

function wrap(value, at, note) {
  if (value === null || typeof value !== 'object') return value;
  const isArray = Array.isArray(value);
  return new Proxy(value, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || key === 'then' || key === 'toJSON') return v;
      if (isArray) return /^\d+$/.test(key) ? wrap(v, `${at}[]`, note) : v;
      if (objectKeys.has(key) && !Object.hasOwn(target, key)) return v;
      const field = at ? `${at}.${key}` : key;
      note(field);
      return wrap(v, field, note);
    },
  });
}
