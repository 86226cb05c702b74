// Package contexts is the safeguarding domain: context records (locations,
// groups, schools), harm locations on pseudonymous young people's records,
// the harm taxonomy, assessments under the context-triangle headings,
// interventions, links, closure and reopening, chronology, and the users and
// audit trail that every change is attributed to. Domain types, inputs and
// their validation are plain Go with no storage; the PostGIS store that
// implements them lives in the postgres sub-package.
package contexts
