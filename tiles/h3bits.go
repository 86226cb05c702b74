package tiles

import "github.com/uber/h3-go/v4"

// The H3 index layout (https://h3geo.org/docs/core-library/h3Indexing):
// bit 63 reserved, bits 59-62 mode, 56-58 reserved, 52-55 resolution,
// 45-51 base cell, then fifteen 3-bit digits, digit 1 highest. Digits
// below the resolution are 7. Working on the bits directly keeps
// aggregation of a million observations free of cgo calls (h3-go's Parent
// and IsValid cost a cgo crossing each).
const (
	h3ModeShift = 59
	h3ResShift  = 52
	h3BaseShift = 45
	h3ModeCell  = 1
	h3MaxRes    = 15
)

// pentagonBaseCells are the base cells whose descendants may not use
// digit 1 (the deleted K axis) as their first non-zero digit.
var pentagonBaseCells = [122]bool{4: true, 14: true, 24: true, 38: true, 49: true, 58: true,
	63: true, 72: true, 83: true, 97: true, 107: true, 117: true}

// cellRes returns the resolution field of c without validating it.
func cellRes(c h3.Cell) int { return int(uint64(c)>>h3ResShift) & 0xF }

// parentAt returns the ancestor of c at resolution r (r <= cellRes(c)):
// the same bits with the resolution field set to r and digits r+1..15 set
// to 7. It agrees with h3's cellToParent for valid cells (tested).
func parentAt(c h3.Cell, r int) h3.Cell {
	u := uint64(c)
	u &^= 0xF << h3ResShift
	u |= uint64(r) << h3ResShift
	u |= (uint64(1) << (3 * (h3MaxRes - r))) - 1
	return h3.Cell(u)
}

// validCell reports whether c is a well-formed H3 cell index, checking the
// same rules as h3's isValidCell, in pure Go.
func validCell(c h3.Cell) bool {
	u := uint64(c)
	if u>>63 != 0 || (u>>h3ModeShift)&0xF != h3ModeCell || (u>>56)&0x7 != 0 {
		return false
	}
	res := int(u>>h3ResShift) & 0xF
	base := int(u>>h3BaseShift) & 0x7F
	if base >= 122 {
		return false
	}
	firstNonZero := 0
	for i := 1; i <= h3MaxRes; i++ {
		d := (u >> (3 * (h3MaxRes - i))) & 0x7
		if i > res {
			if d != 7 {
				return false
			}
			continue
		}
		if d == 7 {
			return false
		}
		if firstNonZero == 0 && d != 0 {
			firstNonZero = int(d)
		}
	}
	if pentagonBaseCells[base] && firstNonZero == 1 {
		return false
	}
	return true
}

// ParseCell parses an H3 cell id as shown in tiles, JSON and CSV (lower-case
// hexadecimal) and checks that it is a published resolution, so that every
// user-supplied cell is refused in one place with a clear message.
func ParseCell(s string) (h3.Cell, error) {
	if len(s) == 0 || len(s) > 16 {
		return 0, errInvalid("cell_invalid", "%q is not an H3 cell id (expected 15 hexadecimal digits, e.g. 88195da49bfffff)", trunc(s))
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			return 0, errInvalid("cell_invalid", "%q is not an H3 cell id (expected 15 hexadecimal digits, e.g. 88195da49bfffff)", trunc(s))
		}
	}
	c := h3.Cell(h3.IndexFromString(s))
	if !validCell(c) {
		return 0, errInvalid("cell_invalid", "%q is not a valid H3 cell id", trunc(s))
	}
	if r := cellRes(c); r < MinRes || r > MaxRes {
		return 0, errInvalid("cell_resolution", "cell %s has resolution %d; heat data is published at resolutions %d to %d only", c, r, MinRes, MaxRes)
	}
	return c, nil
}
