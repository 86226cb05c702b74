package postgres

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// TestTaxonomyChangesAreSerialised is issue 11 finding 3: ten admins adding
// ten different categories at once all succeed, each as its own taxonomy
// version, where a lock on the newest version row let seven of them clash on
// the version's primary key (500). Two admins adding the same code at once
// still get one success and one 409.
func TestTaxonomyChangesAreSerialised(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	start := must[*contexts.Taxonomy](t)(s.Taxonomy(ctx)).Version

	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			_, errs[i] = s.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: fmt.Sprintf("race_%d", i), Label: fmt.Sprintf("Race %d", i)})
		}()
	}
	close(ready)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("AddCategory race_%d: %v", i, err)
		}
	}
	tax := must[*contexts.Taxonomy](t)(s.Taxonomy(ctx))
	if tax.Version != start+n {
		t.Fatalf("taxonomy version %d after %d additions from %d", tax.Version, n, start)
	}
	var added []int
	for _, c := range tax.Categories {
		if len(c.Code) > 5 && c.Code[:5] == "race_" {
			added = append(added, c.AddedVersion)
		}
	}
	sort.Ints(added)
	if len(added) != n {
		t.Fatalf("%d race categories stored, want %d", len(added), n)
	}
	for i, v := range added {
		if v != start+1+i {
			t.Fatalf("added versions %v, want %d..%d, each once", added, start+1, start+n)
		}
	}

	// The same code twice at once: one 201, one 409, never a 500.
	errs = errs[:2]
	ready = make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			_, errs[i] = s.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "race_twin", Label: "Twin"})
		}()
	}
	close(ready)
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case ctxmap.KindOf(err) == ctxmap.KindConflict:
			wantCode(t, err, ctxmap.KindConflict, "category_exists")
			conflicts++
		default:
			t.Errorf("same code twice: %v", err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Fatalf("same code twice: %d ok, %d conflicts", ok, conflicts)
	}
	if v := must[*contexts.Taxonomy](t)(s.Taxonomy(ctx)).Version; v != start+n+1 {
		t.Fatalf("version %d after the twin, want %d (a refused addition makes no version)", v, start+n+1)
	}
}
