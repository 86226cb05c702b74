// Package geo is ctxmap's deterministic geography: UK postcode parsing and
// normalisation, British National Grid to WGS84 conversion, H3 cells as orb
// geometry, and the zoom-to-resolution rule the heat tiles use.
//
// Nothing here does I/O or keeps global state, so every function is cheap to
// test exhaustively against the real reference data and safe to call from any
// goroutine. Stored things (the imported postcode directory) live in
// sub-packages such as geo/postcodes.
package geo
