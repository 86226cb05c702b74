package geo

import "github.com/uber/h3-go/v4"

// The H3 index layout (https://h3geo.org/docs/core-library/h3Indexing):
// bit 63 reserved, bits 59-62 mode, 56-58 reserved, 52-55 resolution,
// 45-51 base cell, then fifteen 3-bit digits, digit 1 highest. Digits
// below the resolution are 7. Working on the bits directly keeps indexing
// and aggregating a million observations free of cgo calls (h3-go's Parent
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

// CellRes returns the resolution field of c without validating it (h3-go's
// Resolution is a cgo call).
func CellRes(c h3.Cell) int { return int(uint64(c)>>h3ResShift) & 0xF }

// Parent is h3.Cell.Parent without the cgo call: the ancestor of c at
// resolution r (r <= CellRes(c)) is the same index with the resolution
// field set to r and digits r+1..15 set to 7 ("unused"). It agrees with
// h3's cellToParent for valid cells (tested).
func Parent(c h3.Cell, r int) h3.Cell {
	u := uint64(c)
	u &^= 0xF << h3ResShift
	u |= uint64(r) << h3ResShift
	u |= (uint64(1) << (3 * (h3MaxRes - r))) - 1
	return h3.Cell(u)
}

// ValidCell reports whether c is a well-formed H3 cell index, checking the
// same rules as h3's isValidCell, in pure Go.
func ValidCell(c h3.Cell) bool {
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
