// Package tiles turns harm locations into anonymised outputs: H3 heat
// tiles (MVT), published cells as JSON, monthly trends and CSV exports,
// all under the disclosure-control policy of PRIVACY.md, plus the context
// records' point tiles.
//
// Everything a viewer can see is computed from one Published set per
// layer, category and period, built by Policy.Publish from the distinct
// (young person, cell) observations a Source returns: distinct subjects
// per cell at resolutions 6-8, a threshold k on the true count, cell-key
// perturbation from a fixed zero-mean table, rounding to 5, and top-down
// secondary suppression so that a published parent minus its published
// children is never between 1 and k-1. No output reads raw observations,
// so none can reveal more than the tiles.
//
// Service caches published sets and encoded tiles keyed by a data
// generation; Invalidate (called when the database notifies a write or an
// archive) moves to a new generation so the next request recomputes. The
// same request always returns the same bytes. The package knows nothing of
// HTTP or of its routes: it takes typed values (maptile.Tile, ctxmap.Layer),
// the web layer passes in the tile URL template for TileJSON, maps its
// *ctxmap.Error values to statuses and serves Tile bytes. It imports neither
// contexts nor a database driver: observations come through Source and
// category codes through Categories, both declared here.
//
// docs/PRIVACY.md describes the policy as implemented and its threat model.
package tiles
