package geo_test

import (
	"fmt"

	"github.com/ctxmap/ctxmap/geo"
)

func ExampleParsePostcode() {
	p, _ := geo.ParsePostcode(" sw1a oaa") // lower case, no space fix needed, O typed for 0
	fmt.Println(p, p.Precision, p.Sector, p.District, p.SubDistrict)

	s, _ := geo.ParsePostcode("E8 3")
	fmt.Println(s, s.Precision, s.Precision.Metres())

	_, err := geo.ParsePostcode("MA1 1AA")
	fmt.Println(err)
	// Output:
	// SW1A 0AA unit SW1A 0 SW1 SW1A
	// E8 3 sector 1000
	// postcode_malformed: "MA1 1AA" is not a UK postcode (like "E8 3AA"), postcode sector ("E8 3") or outcode ("E8")
}

func ExampleGridToLatLon() {
	// Code-Point Open's row for E8 3AA (Hackney).
	lat, lon := geo.GridToLatLon(534173, 184486)
	fmt.Printf("%.5f %.5f\n", lat, lon)
	// Output:
	// 51.54333 -0.06656
}

func ExampleCellsFor() {
	cells := geo.CellsFor(51.5426, -0.0629)
	for _, c := range cells {
		fmt.Println(c.Resolution(), c)
	}
	fmt.Println(geo.ResForZoom(11))
	// Output:
	// 6 86194e69fffffff
	// 7 87194e69affffff
	// 8 88194e69a7fffff
	// 7
}
