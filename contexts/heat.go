package contexts

import "github.com/ctxmap/ctxmap/tiles"

// HeatQuery and Observation are the tiles package's inputs, which the store
// answers. They are aliases while the store lives in this package, so the
// aggregation core owns its types without importing the domain.
type (
	HeatQuery   = tiles.Query
	Observation = tiles.Observation
)
