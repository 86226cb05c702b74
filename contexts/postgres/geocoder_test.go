package postgres

import (
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo/postcodes"
)

// The import sends the directory batches of contexts.GeocodeBatch
// postcodes; more than the directory takes at once would be refused.
func TestGeocodeBatchFitsTheDirectory(t *testing.T) {
	if contexts.GeocodeBatch != postcodes.MaxBatch {
		t.Fatalf("contexts.GeocodeBatch %d, postcodes.MaxBatch %d", contexts.GeocodeBatch, postcodes.MaxBatch)
	}
}
