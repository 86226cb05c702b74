package contexts

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Free text is stored as people mean it, not as they happened to type it:
// compatibility characters are folded (NFKC: full-width "０７７００" becomes
// "07700", "ﬁ" becomes "fi") and characters nobody can see are refused, so
// what the personal-data screening reads is what is stored and what the
// next reader sees. Without this, full-width digits, a zero-width space in a
// phone number or a bidi override carry a phone number, a date of birth or
// an id past a screening that reads ASCII.

// CheckText normalises free text (NFKC), trims it, refuses invisible format
// characters (Unicode category Cf: zero-width spaces and joiners, bidi
// controls, soft hyphens...) and control characters other than tab and line
// breaks, and enforces a length limit in characters.
func CheckText(field, v string, max int, required bool) (string, error) {
	if !utf8.ValidString(v) {
		return "", InvalidField(field, "invalid_text", "%s is not valid UTF-8 text", field)
	}
	v = strings.TrimSpace(norm.NFKC.String(v))
	if v == "" {
		if required {
			return "", MissingField(field)
		}
		return "", nil
	}
	for i, r := range v {
		switch {
		case unicode.Is(unicode.Cf, r):
			return "", InvalidField(field, "invisible_character",
				"%s contains an invisible formatting character (U+%04X) at character %d; remove it and type the text plainly",
				field, r, utf8.RuneCountInString(v[:i])+1).WithDetail("character", fmt.Sprintf("U+%04X", r))
		case unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t':
			return "", InvalidField(field, "control_character",
				"%s contains a control character (U+%04X) at character %d; remove it",
				field, r, utf8.RuneCountInString(v[:i])+1).WithDetail("character", fmt.Sprintf("U+%04X", r))
		}
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", Unprocessable(field, "too_long", "%s is %d characters; the limit is %d", field, n, max).WithDetail("limit", max)
	}
	return v, nil
}

// screeningForm is the text the personal-data screening reads: NFKC, with
// every format character dropped and every decimal digit of any script
// ("٠٧٧٠٠", "०७७००") read as its ASCII digit. It is a second lock behind
// CheckText, for text that reached the screening some other way, and it
// is never stored.
func screeningForm(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		case unicode.Is(unicode.Cf, r):
		case unicode.IsDigit(r):
			b.WriteByte('0' + digitValue(r))
		case unicode.Is(unicode.Pd, r):
			b.WriteByte('-') // hyphens and dashes of every kind: "P‐1234", "P–1234"
		default:
			if l, ok := lookalikes[r]; ok {
				b.WriteByte(l)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// lookalikes maps the Cyrillic and Greek capitals and small letters that
// look like Latin ones (the usual confusables) to those Latin letters, so an
// id typed with one of them ("РЈ-1234" in Cyrillic) still matches. NFKC does
// not do this: they are different letters, not compatibility forms.
var lookalikes = map[rune]byte{
	'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T', 'Х': 'X',
	'У': 'Y', 'Ј': 'J', 'Ѕ': 'S', 'І': 'I', 'Ԁ': 'D',
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'һ': 'h',
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N', 'Ο': 'O', 'Ρ': 'P',
	'Τ': 'T', 'Υ': 'Y', 'Χ': 'X', 'ο': 'o', 'ν': 'v', 'κ': 'k',
}

// digitValue is the value of a decimal digit (category Nd). Unicode encodes
// every script's decimal digits as contiguous runs of ten from 0 to 9 (a
// stability guarantee), and unicode.Nd's ranges start at a zero, so the
// value is the offset in its range modulo ten.
func digitValue(r rune) byte {
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	return 0
}
