// Normalises GET /api/v1/taxonomy (categories, location_types, context_kinds
// with their triangle sides, familial, sources, archive_reasons,
// intervention_statuses, partner_agencies) into the lists the UI's forms
// use. Retired categories are left out of the pickers. A built-in default
// (the DOMAIN.md lists) is used only for what the server leaves out.
import { humanise } from './dom.js';

const defaultLocationTypes = ['park', 'playground', 'stairwell', 'estate', 'street', 'bus_stop',
  'station', 'transport_route', 'shop', 'takeaway', 'shopping_centre', 'school', 'college', 'youth_club',
  'sports_facility', 'hotel', 'short_let', 'other'];
const defaultKinds = ['location', 'group', 'school'];
const defaultSides = {
  location: [
    ['needs', 'Young people in this context: strengths and needs'],
    ['guardianship', 'Guardianship capacity'],
    ['environment', 'Environment, resources and policy'],
  ],
  group: [
    ['needs', 'Group functioning'],
    ['guardianship', 'Guardianship capacity around the group'],
    ['environment', 'Environments where the group spends time'],
  ],
  school: [
    ['needs', 'Needs and functioning of students'],
    ['guardianship', 'Guardianship capacity of staff and school'],
    ['environment', "The school's environment, policies and culture"],
  ],
};

function item(x) {
  if (typeof x === 'string') return { code: x, label: humanise(x) };
  if (!x || typeof x !== 'object') return null;
  const code = x.code ?? x.id ?? x.value ?? x.name ?? x.side ?? x.kind;
  if (code === undefined || code === null) return null;
  const label = x.label ?? x.title ?? x.heading ?? x.description ?? (x.name !== code ? x.name : undefined) ?? humanise(code);
  return { ...x, code: String(code), label: String(label) };
}

function items(list) {
  if (!list) return [];
  if (!Array.isArray(list) && typeof list === 'object') {
    // {code: label} maps
    return Object.entries(list).map(([code, label]) => item(typeof label === 'string' ? { code, label } : { code, ...label })).filter(Boolean);
  }
  return list.map(item).filter(Boolean);
}

export function normaliseTaxonomy(t) {
  t = t || {};
  const categories = items(t.categories ?? t.harm_categories ?? t.harm_types)
    .filter((c) => !c.retired && !c.archived && c.active !== false)
    .map((c) => ({ ...c, census: c.census_code ?? c.census ?? '' }));
  const locationTypes = items(t.location_types ?? t.locationTypes);
  const kinds = items(t.context_kinds ?? t.kinds ?? t.contextKinds);
  const sides = {};
  const rawSides = t.triangle_sides ?? t.sides ?? t.triangles;
  if (rawSides && typeof rawSides === 'object' && !Array.isArray(rawSides)) {
    for (const [kind, list] of Object.entries(rawSides)) sides[kind] = items(list);
  } else if (Array.isArray(rawSides)) {
    for (const s of rawSides) {
      const kind = s.kind ?? 'location';
      (sides[kind] ||= []).push(item(s));
    }
  }
  // Kinds may carry their sides inline.
  for (const k of kinds) {
    if (Array.isArray(k.sides) && !sides[k.code]) sides[k.code] = items(k.sides);
  }
  for (const [kind, list] of Object.entries(defaultSides)) {
    if (!sides[kind] || sides[kind].length === 0) sides[kind] = list.map(([code, label]) => ({ code, label }));
  }
  const orDefault = (list, fallback) => (list.length ? list : fallback.map(([code, label]) => ({ code, label })));
  return {
    familial: orDefault(items(t.familial), [['extra', 'Extra-familial'], ['intra', 'Intra-familial'], ['both', 'Both'], ['unknown', 'Unknown']]),
    sources: orDefault(items(t.sources), [['referral', 'Referral'], ['assessment', 'Assessment'], ['safety_map', 'Safety map'], ['partner_information', 'Partner information'], ['other', 'Other']]),
    archiveReasons: orDefault(items(t.archive_reasons), [['no_longer_an_issue', 'No longer an issue'], ['never_an_issue', 'Never an issue']]),
    interventionStatuses: orDefault(items(t.intervention_statuses), [['planned', 'Planned'], ['in_progress', 'In progress'], ['done', 'Done'], ['dropped', 'Dropped']]),
    partnerAgencies: items(t.partner_agencies),
    categories,
    locationTypes: locationTypes.length ? locationTypes : defaultLocationTypes.map(item),
    kinds: kinds.length ? kinds : defaultKinds.map(item),
    sides,
  };
}

export function labelOf(list, code) {
  const x = list.find((i) => i.code === code);
  return x ? x.label : humanise(code);
}
