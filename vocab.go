package ctxmap

// Layer is one of the two kinds of place a harm location records, and so one
// of the two heat layers published (PRODUCT.md: harm happened / feels
// unsafe). It lives here, beside the error kinds, because the domain
// (contexts), the aggregation (tiles) and the API (web) all speak it and none
// of them may import another just for a word.
type Layer string

// The layers. Safe is safety mapping's green places (a trusted adult is
// there), published for partnerships building guardianship; its records
// carry no harm category.
const (
	LayerHarm   Layer = "harm"
	LayerUnsafe Layer = "unsafe"
	LayerSafe   Layer = "safe"
)

// Layers lists every layer in display order.
func Layers() []Layer { return []Layer{LayerHarm, LayerUnsafe, LayerSafe} }

// Valid reports whether l is one of the layers.
func (l Layer) Valid() bool { return l == LayerHarm || l == LayerUnsafe || l == LayerSafe }

// Categorised reports whether the layer can be filtered by harm category (or
// the extra-familial figure). A safe place has no harm category, so the safe
// layer is published for all places only: a category filter on it would be
// an empty set that only looks like information.
func (l Layer) Categorised() bool { return l != LayerSafe }

// ExtraFamilial is the heat filter code of the overarching extra-familial
// harm figure (DOMAIN.md): records with any category the taxonomy flags as
// extra-familial. It is one filter, like a category, never a combination a
// viewer builds (PRIVACY.md rule 5), so it can never clash with a category
// code: the taxonomy refuses it as one.
const ExtraFamilial = "extra_familial"

// AllCategories is the heat filter word for every category at once, the same
// as giving no category; the taxonomy refuses it as a code too.
const AllCategories = "all"

// ReservedCategory reports whether code is a filter word that can never be a
// harm category's code.
func ReservedCategory(code string) bool { return code == ExtraFamilial || code == AllCategories }
