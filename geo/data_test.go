package geo

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the path of rel inside the shared reference data
// (../shared/data from the repository root, or $CTXMAP_SHARED_DATA). When it
// is missing the test skips locally but fails under CI=true, so the
// acceptance tests can never pass by not running.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	root := os.Getenv("CTXMAP_SHARED_DATA")
	if root == "" {
		root = filepath.Join("..", "..", "shared", "data")
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("shared data %s missing and CI=%s: %v", p, ci, err)
		}
		t.Skipf("shared data %s missing: %v", p, err)
	}
	return p
}
