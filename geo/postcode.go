package geo

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ctxmap/ctxmap"
)

// Precision says how much of a postcode a Postcode holds, and therefore how
// precisely it can place a point: a whole unit ("E8 3AA") is a handful of
// addresses, a sector ("E8 3") a neighbourhood, a district ("E8") a town
// quarter. Practitioners often only know part of a postcode, so partial input
// is a first-class result rather than an error.
type Precision uint8

// The precisions, finest first. The zero value means "no postcode".
const (
	PrecisionUnit     Precision = iota + 1 // a full postcode, "E8 3AA"
	PrecisionSector                        // outcode plus the inward digit, "E8 3"
	PrecisionDistrict                      // an outcode alone, "E8"
)

// Approximate radii in metres within which a point placed at each level
// usually lies. Measured on Code-Point Open (GB, 1.74 M units): half of all
// units lie within 741 m of their sector's mean position and 62% within
// 1,000 m; half within 1,517 m of their district's and 85% within 4,000 m. A
// unit's own point is within its few dozen addresses, ~50 m.
const (
	UnitPrecisionM     = 50
	SectorPrecisionM   = 1000
	DistrictPrecisionM = 4000
)

// String names the precision as the API spells match levels.
func (p Precision) String() string { return string(p.Match()) }

// Metres is the approximate radius a point at this precision stands for; 0
// for the zero Precision.
func (p Precision) Metres() int {
	switch p {
	case PrecisionUnit:
		return UnitPrecisionM
	case PrecisionSector:
		return SectorPrecisionM
	case PrecisionDistrict:
		return DistrictPrecisionM
	}
	return 0
}

// Postcode is a parsed, normalised UK postcode, sector or outcode. Every
// string field is a slice of the one normalised string, so a parse costs a
// single allocation. Fields that the precision does not reach are empty: an
// outcode has no Sector, Inward or Unit.
type Postcode struct {
	// Precision says whether this is a unit, sector or district.
	Precision Precision
	// Area is the leading letters: "E", "SW" (or "GIR" for GIR 0AA).
	Area string
	// Outcode is the part before the space: "E8", "SW1A".
	Outcode string
	// District is the outcode without a sub-district letter: "SW1" for
	// "SW1A", equal to Outcode otherwise. Directories aggregate by it.
	District string
	// SubDistrict is the outcode when it ends in a letter ("SW1A", "EC1A"),
	// empty otherwise.
	SubDistrict string
	// Sector is the outcode, a space and the inward digit: "E8 3".
	Sector string
	// Inward is the part after the space: "3AA".
	Inward string
	// Unit is the two final letters: "AA".
	Unit string

	s string
}

// String returns the normalised form: "E8 3AA", "E8 3" or "E8". It is the
// key the postcode directory is stored under.
func (p Postcode) String() string { return p.s }

// maxPostcodeInput bounds the work (and the echo in an error message) for
// hostile input; real postcodes with generous spacing are far shorter.
const maxPostcodeInput = 64

// ParsePostcode normalises and strictly validates a UK postcode, sector or
// outcode typed by a person: it trims and upper-cases, ignores where (or
// whether) the space was typed, and fixes the letter O / digit 0 and letter
// I / digit 1 confusions by position. Validation follows the Royal Mail
// format rules (which letters may stand in which position, and the unit
// letters never use C, I, K, M, O or V) and the real list of postcode areas,
// so "MA1 1AA" is rejected rather than looked up. "GIR 0AA" is accepted.
//
// Input with a space before a single final character ("E8 3") is read as a
// sector; input of two to four characters as an outcode ("E8", "SW1A"). The
// error is a *ctxmap.Error of kind KindUnprocessable with code
// "postcode_malformed".
func ParsePostcode(s string) (Postcode, error) {
	if p, ok := parsePostcode(s, true); ok {
		return p, nil
	}
	shown := s
	if len(shown) > 40 {
		shown = shown[:40] + "..."
	}
	return Postcode{}, ctxmap.Errorf(ctxmap.KindUnprocessable, "postcode_malformed",
		"%q is not a UK postcode (like \"E8 3AA\"), postcode sector (\"E8 3\") or outcode (\"E8\")", shown).
		WithDetail("postcode", shown)
}

// parsePostcode is ParsePostcode without the error value. With strictAreas
// false it checks only the format rules, which is what the published test
// vectors (with placeholder areas like "AA9A 9AA") were written against.
func parsePostcode(s string, strictAreas bool) (Postcode, bool) {
	if len(s) > maxPostcodeInput {
		return Postcode{}, false
	}
	// Compact the input: upper-case alphanumerics only, remembering where the
	// last internal gap was (it separates a sector's digit from its outcode).
	var b [7]byte
	n, gap := 0, -1
	pendingGap := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			pendingGap = n > 0
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9'):
		case c >= utf8.RuneSelf:
			// Text pasted from documents and case systems brings
			// non-breaking and zero-width spaces; treat them as spaces.
			r, size := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) && r != '\u200b' && r != '\ufeff' {
				return Postcode{}, false
			}
			i += size - 1
			pendingGap = n > 0
			continue
		default:
			return Postcode{}, false
		}
		if n == len(b) {
			return Postcode{}, false
		}
		if pendingGap {
			gap, pendingGap = n, false
		}
		b[n] = c
		n++
	}
	if n < 2 {
		return Postcode{}, false
	}
	if n >= 5 {
		if p, ok := parseUnit(b[:n], strictAreas); ok {
			return p, true
		}
	}
	if gap == n-1 {
		if p, ok := parseSector(b[:n], strictAreas); ok {
			return p, true
		}
		return parseDistrict(b[:n], strictAreas)
	}
	if p, ok := parseDistrict(b[:n], strictAreas); ok {
		return p, true
	}
	return parseSector(b[:n], strictAreas)
}

// parseUnit reads b (compact, upper-case) as outcode + inward code.
func parseUnit(b []byte, strictAreas bool) (Postcode, bool) {
	in := b[len(b)-3:]
	d, ok := digit(in[0])
	if !ok || !unitLetter(in[1]) || !unitLetter(in[2]) {
		return Postcode{}, false
	}
	var buf [8]byte
	if len(b) == 6 && b[0] == 'G' && b[1] == 'I' && b[2] == 'R' && d == '0' && in[1] == 'A' && in[2] == 'A' {
		s := "GIR 0AA"
		return Postcode{Precision: PrecisionUnit, Area: s[:3], Outcode: s[:3], District: s[:3],
			Sector: s[:5], Inward: s[4:], Unit: s[5:], s: s}, true
	}
	ol, areaLen, sub, ok := parseOutcode(b[:len(b)-3], buf[:], strictAreas)
	if !ok {
		return Postcode{}, false
	}
	buf[ol] = ' '
	buf[ol+1] = d
	buf[ol+2] = in[1]
	buf[ol+3] = in[2]
	return makePostcode(string(buf[:ol+4]), PrecisionUnit, ol, areaLen, sub), true
}

// parseSector reads b as outcode + inward digit.
func parseSector(b []byte, strictAreas bool) (Postcode, bool) {
	if len(b) < 3 {
		return Postcode{}, false
	}
	d, ok := digit(b[len(b)-1])
	if !ok {
		return Postcode{}, false
	}
	var buf [8]byte
	ol, areaLen, sub, ok := parseOutcode(b[:len(b)-1], buf[:], strictAreas)
	if !ok {
		return Postcode{}, false
	}
	buf[ol] = ' '
	buf[ol+1] = d
	return makePostcode(string(buf[:ol+2]), PrecisionSector, ol, areaLen, sub), true
}

// parseDistrict reads b as an outcode alone.
func parseDistrict(b []byte, strictAreas bool) (Postcode, bool) {
	var buf [8]byte
	ol, areaLen, sub, ok := parseOutcode(b, buf[:], strictAreas)
	if !ok {
		return Postcode{}, false
	}
	return makePostcode(string(buf[:ol]), PrecisionDistrict, ol, areaLen, sub), true
}

func makePostcode(s string, prec Precision, ol, areaLen int, sub bool) Postcode {
	p := Postcode{Precision: prec, Area: s[:areaLen], Outcode: s[:ol], District: s[:ol], s: s}
	if sub {
		p.SubDistrict = s[:ol]
		p.District = s[:ol-1]
	}
	if prec != PrecisionDistrict {
		p.Sector = s[:ol+2]
	}
	if prec == PrecisionUnit {
		p.Inward = s[ol+1:]
		p.Unit = s[ol+2:]
	}
	return p
}

// outcodePatterns are the six outcode shapes: L a letter, D a digit.
var outcodePatterns = [...]string{"LD", "LDD", "LDL", "LLD", "LLDD", "LLDL"}

// parseOutcode writes the outcode in b, with O/0 and I/1 fixed, to dst and
// returns its length, the length of its area and whether it ends in a
// sub-district letter. Where several shapes fit after fixing, the one needing
// the fewest fixes wins, so valid input is never changed.
func parseOutcode(b, dst []byte, strictAreas bool) (n, areaLen int, sub, ok bool) {
	if len(b) < 2 || len(b) > 4 {
		return 0, 0, false, false
	}
	best, bestFixes := -1, 99
	var cand, bestOut [4]byte
	for pi, pat := range outcodePatterns {
		if len(pat) != len(b) {
			continue
		}
		fixes := 0
		fit := true
		for i := 0; i < len(b) && fit; i++ {
			c := b[i]
			var fixed byte
			if fixed, fit = asClass(c, pat[i]); fit && fixed != c {
				c, fixes = fixed, fixes+1
			}
			cand[i] = c
		}
		if !fit || fixes >= bestFixes || !outcodeRules(cand[:len(b)], pat, strictAreas) {
			continue
		}
		best, bestFixes, bestOut = pi, fixes, cand
	}
	if best < 0 {
		return 0, 0, false, false
	}
	pat := outcodePatterns[best]
	copy(dst, bestOut[:len(b)])
	areaLen = 1
	if pat[1] == 'L' {
		areaLen = 2
	}
	return len(b), areaLen, pat[len(pat)-1] == 'L', true
}

// outcodeRules applies Royal Mail's letter rules to a candidate outcode of
// shape pat and, when strict, requires a real postcode area.
func outcodeRules(o []byte, pat string, strictAreas bool) bool {
	// First position: never Q, V or X.
	if o[0] == 'Q' || o[0] == 'V' || o[0] == 'X' {
		return false
	}
	areaLen := 1
	if pat[1] == 'L' {
		areaLen = 2
		// Second position: never I, J or Z.
		if o[1] == 'I' || o[1] == 'J' || o[1] == 'Z' {
			return false
		}
	}
	switch pat {
	case "LDL": // A9A: only A B C D E F G H J K P S T U W
		if !inSet(o[2], "ABCDEFGHJKPSTUW") {
			return false
		}
	case "LLDL": // AA9A: only A B E H M N P R V W X Y
		if !inSet(o[3], "ABEHMNPRVWXY") {
			return false
		}
	}
	if !strictAreas {
		return true
	}
	if areaLen == 1 {
		return isArea(o[0], 0)
	}
	return isArea(o[0], o[1])
}

// postcodeAreas lists every postcode area in use: the 120 of Great Britain
// (one file each in Code-Point Open), Northern Ireland (BT), the Crown
// dependencies (GY, JE, IM) and the non-geographic BF (BFPO) and BX.
const postcodeAreas = "AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW " +
	"DA DD DE DG DH DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX " +
	"IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW " +
	"OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY " +
	"TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE"

// areaBits is postcodeAreas as a lookup table, built once and never
// written: bit 26 of areaBits[a] marks the one-letter area a, bit k the
// two-letter area a + ('A'+k).
var areaBits = func() (t [26]uint32) {
	for _, a := range strings.Fields(postcodeAreas) {
		if len(a) == 1 {
			t[a[0]-'A'] |= 1 << 26
		} else {
			t[a[0]-'A'] |= 1 << (a[1] - 'A')
		}
	}
	return t
}()

// isArea reports whether the letters a (and b, 0 for a one-letter area) are
// a real postcode area.
func isArea(a, b byte) bool {
	if a < 'A' || a > 'Z' {
		return false
	}
	if b == 0 {
		return areaBits[a-'A']&(1<<26) != 0
	}
	return 'A' <= b && b <= 'Z' && areaBits[a-'A']&(1<<(b-'A')) != 0
}

// digit returns c as a digit, reading the letters O and I as 0 and 1.
func digit(c byte) (byte, bool) { return asClass(c, 'D') }

// asClass returns c read as the class a postcode position wants ('L' a
// letter, 'D' a digit): the one home of the O/0 and I/1 rule, which reads
// the letters O and I as 0 and 1 where a digit is wanted and the digits 0
// and 1 as O and I where a letter is.
func asClass(c, class byte) (byte, bool) {
	lo, hi, confused, meant := byte('0'), byte('9'), "OI", "01"
	if class == 'L' {
		lo, hi, confused, meant = 'A', 'Z', "01", "OI"
	}
	if lo <= c && c <= hi {
		return c, true
	}
	if i := strings.IndexByte(confused, c); i >= 0 {
		return meant[i], true
	}
	return 0, false
}

// unitLetter reports whether c may be one of the last two letters: Royal
// Mail never uses C, I, K, M, O or V there, because they look like other
// letters or digits when handwritten.
func unitLetter(c byte) bool {
	return 'A' <= c && c <= 'Z' && !inSet(c, "CIKMOV")
}

func inSet(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}
