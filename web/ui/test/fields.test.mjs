// "Trust your own API": every field the map UI read from an API response
// during the other browser tests (recorded by web/static/js/fieldlog.js
// through lib.mjs's hook) must be in the response schema of its route in
// /api/v1/openapi.json, which web/openapi.go derives from the Go types the
// handlers write. A field the UI guesses (a second spelling, a field no
// handler sends) fails here. It runs after the flows, which do the reading.
import { fieldReads, assert, baseURL } from './lib.mjs';

// Routes the flows must have read from, or the check would prove little.
const mustCover = ['POST /api/v1/session', 'GET /api/v1/config', 'GET /api/v1/taxonomy', 'GET /api/v1/contexts',
  'GET /api/v1/contexts/{id}', 'GET /api/v1/contexts/{id}/chronology', 'GET /api/v1/subjects/{subject}/harm-locations',
  'GET /api/v1/trends', 'GET /api/v1/reports', 'GET /api/v1/reports/reviews', 'GET /api/v1/hotspots',
  'GET /api/v1/before-after', 'GET /api/v1/boundary/wards', 'GET /api/v1/audit', 'GET /api/v1/admin/catalogue', 'GET /api/v1/users',
  'POST /api/v1/users', 'GET /api/v1/reviews/overdue', 'GET /api/v1/admin/retention',
  'GET /api/v1/subjects/{subject}/contextual-record', 'GET /api/v1/record-rates'];

/** The schema a reference (or a nullable allOf wrapper of one) stands for, in doc's components. */
function resolve(doc, s) {
  for (let i = 0; i < 20 && s; i++) {
    if (s.$ref) {
      const name = s.$ref.replace('#/components/schemas/', '');
      s = doc && doc.components && doc.components.schemas[name];
      if (!s) throw new Error(`unresolved reference ${name}`);
    } else if (s.allOf && s.allOf.length === 1 && !s.type && !s.properties) {
      s = s.allOf[0];
    } else {
      return s;
    }
  }
  return s;
}

/** Whether a field path like "contexts[].display_name" is described by schema (references resolved in doc). */
export function described(schema, field, doc) {
  let s = schema;
  for (const part of field.split('.')) {
    const m = /^([^[]*)((?:\[\])*)$/.exec(part);
    const steps = [...(m[1] ? [m[1]] : []), ...Array(m[2].length / 2).fill('[]')];
    for (const step of steps) {
      s = resolve(doc, s);
      if (!s.type && !s.properties && !s.items && !s.additionalProperties) return true; // any JSON value
      if (step === '[]') {
        if (s.type !== 'array') return false;
        s = s.items || {};
      } else if (s.properties && Object.hasOwn(s.properties, step)) {
        s = s.properties[step];
      } else if (s.additionalProperties) {
        s = s.additionalProperties === true ? {} : s.additionalProperties;
      } else {
        return false;
      }
    }
  }
  return true;
}

/** The document's route for a request path: the most literal template that matches. */
function routeFor(doc, method, path) {
  const m = method.toLowerCase();
  const candidates = Object.keys(doc.paths)
    .filter((p) => doc.paths[p][m] && new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => b.replace(/\{[^}]+\}/g, '').length - a.replace(/\{[^}]+\}/g, '').length);
  return candidates[0];
}

function successSchema(op) {
  for (const [status, r] of Object.entries(op.responses)) {
    if (/^2/.test(status) && r.content && r.content['application/json']) return r.content['application/json'].schema;
  }
  return undefined;
}

export const fieldTests = [{
  name: 'api: every response field the UI reads is in the OpenAPI document',
  fn: async () => {
    assert(fieldReads.size > 0, 'no field reads were recorded: the flows did not run, or fieldlog.js is not wired');
    const doc = await (await fetch(`${baseURL}/api/v1/openapi.json`)).json();
    const problems = [];
    const covered = new Set();
    for (const { method, path, field } of fieldReads.values()) {
      const route = routeFor(doc, method, path);
      if (!route) { problems.push(`${method} ${path}: no such route in the document`); continue; }
      covered.add(`${method} ${route}`);
      const schema = successSchema(doc.paths[route][method.toLowerCase()]);
      if (!schema) problems.push(`${method} ${route}: no response schema in the document, but the UI reads ${field}`);
      else if (!described(schema, field, doc)) problems.push(`${method} ${route}: the UI reads "${field}", which the document does not list`);
    }
    assert(problems.length === 0, `fields the UI reads that the API does not document:\n     ${[...new Set(problems)].join('\n     ')}`);
    const missing = mustCover.filter((r) => !covered.has(r));
    assert(missing.length === 0, `the flows read nothing from ${missing.join(', ')}: the check covers too little`);
  },
}];

// The checker itself must be able to fail.
assert(!described({ type: 'object', properties: { a: { type: 'string' } } }, 'b'), 'described() accepts an unknown field');
assert(!described({ type: 'object', properties: { l: { type: 'array', items: { type: 'object', properties: {} } } } }, 'l[].x'), 'described() accepts an unknown item field');
assert(described({ type: 'object', properties: { m: { type: 'object', additionalProperties: { type: 'string' } } } }, 'm.any'), 'described() refuses a map key');
{
  const doc = { components: { schemas: { A: { type: 'object', properties: { x: { type: 'string' } } } } } };
  const ref = { type: 'object', properties: { a: { allOf: [{ $ref: '#/components/schemas/A' }], nullable: true }, l: { type: 'array', items: { $ref: '#/components/schemas/A' } } } };
  assert(described(ref, 'a.x', doc) && described(ref, 'l[].x', doc), 'described() does not follow references');
  assert(!described(ref, 'a.y', doc) && !described(ref, 'l[].y', doc), 'described() accepts an unknown field behind a reference');
}
