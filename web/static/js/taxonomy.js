// Reads GET /api/v1/taxonomy (contexts.Taxonomy: categories, location_types,
// context_kinds with their triangle sides, familial, layers, sources,
// archive_reasons, intervention_statuses, partner_agencies, safety_ratings,
// trusted_adults, type_statuses, read_purposes, and the contextual record's
// marker_kinds, marker_values, relocation_kinds, factor_area_kinds) into the lists
// the UI's forms use, by the field names the server writes. Retired
// categories are left out of the pickers. Every list comes from the server:
// the UI holds no copy of a code.
import { humanise } from './dom.js';

export function normaliseTaxonomy(t) {
  const sides = {};
  for (const k of t.context_kinds) sides[k.code] = k.sides;
  return {
    familial: t.familial,
    layers: t.layers,
    sources: t.sources,
    archiveReasons: t.archive_reasons,
    interventionStatuses: t.intervention_statuses,
    partnerAgencies: t.partner_agencies,
    safetyRatings: t.safety_ratings,
    trustedAdults: t.trusted_adults,
    typeStatuses: t.type_statuses,
    readPurposes: { list: t.read_purposes, noteFor: t.purpose_note_for, noteMax: t.purpose_note_max },
    categories: t.categories.filter((c) => !c.retired),
    locationTypes: t.location_types,
    kinds: t.context_kinds,
    sides,
    markerKinds: t.marker_kinds,
    markerValues: t.marker_values,
    relocationKinds: t.relocation_kinds,
    factorAreaKinds: t.factor_area_kinds,
  };
}

export function labelOf(list, code) {
  const x = list.find((i) => i.code === code);
  return x ? x.label : humanise(code);
}
