package geo

import "math"

// Airy 1830 ellipsoid and the National Grid's transverse Mercator projection
// (Ordnance Survey, "A guide to coordinate systems in Great Britain", annex A).
const (
	airyA  = 6377563.396
	airyB  = 6356256.909
	gridF0 = 0.9996012717                    // scale factor on the central meridian
	gridE0 = 400000.0                        // false easting of the true origin
	gridN0 = -100000.0                       // false northing of the true origin
	gridφ0 = 49 * math.Pi / 180              // latitude of the true origin
	gridλ0 = -2 * math.Pi / 180              // longitude of the true origin
	airyE2 = 1 - (airyB*airyB)/(airyA*airyA) // first eccentricity squared
	airyN  = (airyA - airyB) / (airyA + airyB)
)

// WGS84 ellipsoid.
const (
	wgsA  = 6378137.0
	wgsF  = 1 / 298.257223563
	wgsE2 = wgsF * (2 - wgsF)
)

// OSGB36 -> WGS84 Helmert transformation, EPSG:1314 (position vector
// convention), the inverse of OS's published WGS84 -> OSGB36 parameters.
// Its error against OSTN15 is up to ~5 m across Great Britain, which is far
// inside a postcode unit and lets the importer stay dependency-free.
const (
	helmTx = 446.448  // metres
	helmTy = -125.157 // metres
	helmTz = 542.060  // metres
	helmRx = 0.1502 / 3600 * math.Pi / 180
	helmRy = 0.2470 / 3600 * math.Pi / 180
	helmRz = 0.8421 / 3600 * math.Pi / 180
	helmS  = -20.4894e-6
)

// GridToLatLon converts a British National Grid (EPSG:27700) easting and
// northing in metres, as in Code-Point Open and ONSPD, to WGS84 latitude and
// longitude in degrees. It inverts the transverse Mercator projection on the
// Airy 1830 ellipsoid to get OSGB36 coordinates, then applies the EPSG:1314
// Helmert transformation to WGS84. It takes ~0.3 us and does not check that
// the point is on the grid: callers treat (0, 0) as "no grid reference".
func GridToLatLon(easting, northing float64) (lat, lon float64) {
	φ, λ := gridToOSGB36(easting, northing)
	φ, λ = osgb36ToWGS84(φ, λ)
	return φ * 180 / math.Pi, λ * 180 / math.Pi
}

// gridToOSGB36 inverts the National Grid projection, returning OSGB36
// latitude and longitude in radians (OS guide, C.2).
func gridToOSGB36(e, nth float64) (φ, λ float64) {
	const n, n2, n3 = airyN, airyN * airyN, airyN * airyN * airyN
	const aF0, bF0 = airyA * gridF0, airyB * gridF0
	const ma, mb = 1 + n + 5.0/4*n2 + 5.0/4*n3, 3*n + 3*n2 + 21.0/8*n3
	const mc, md = 15.0/8*n2 + 15.0/8*n3, 35.0 / 24 * n3
	φ = (nth-gridN0)/aF0 + gridφ0
	// Newton's method on the meridional arc M(φ), whose derivative is the
	// meridian radius of curvature ρ·F0: two or three steps reach 0.01 mm,
	// where the OS guide's fixed-point iteration takes five or six. The
	// multiple angles come from one Sincos each, not six trig calls.
	for i := 0; i < 8; i++ {
		s1, c1 := math.Sincos(φ - gridφ0)
		c2 := math.Cos(φ + gridφ0)
		sin2d, cos2s := 2*s1*c1, 2*c2*c2-1
		sin3d, cos3s := s1*(3-4*s1*s1), c2*(4*c2*c2-3)
		m := bF0 * (ma*(φ-gridφ0) - mb*s1*c2 + mc*sin2d*cos2s - md*sin3d*cos3s)
		r := nth - gridN0 - m
		if math.Abs(r) < 1e-5 {
			break
		}
		sφ := math.Sin(φ)
		k := 1 - airyE2*sφ*sφ
		φ += r * k * math.Sqrt(k) / (aF0 * (1 - airyE2))
	}
	sin, cos := math.Sincos(φ)
	tan := sin / cos
	t2, t4, t6 := tan*tan, tan*tan*tan*tan, tan*tan*tan*tan*tan*tan
	k := 1 - airyE2*sin*sin
	ν := aF0 / math.Sqrt(k)
	ρ := aF0 * (1 - airyE2) / (k * math.Sqrt(k))
	η2 := ν/ρ - 1
	sec := 1 / cos
	ν3, ν5 := ν*ν*ν, ν*ν*ν*ν*ν
	ν7 := ν5 * ν * ν
	vii := tan / (2 * ρ * ν)
	viii := tan / (24 * ρ * ν3) * (5 + 3*t2 + η2 - 9*t2*η2)
	ix := tan / (720 * ρ * ν5) * (61 + 90*t2 + 45*t4)
	x := sec / ν
	xi := sec / (6 * ν3) * (ν/ρ + 2*t2)
	xii := sec / (120 * ν5) * (5 + 28*t2 + 24*t4)
	xiia := sec / (5040 * ν7) * (61 + 662*t2 + 1320*t4 + 720*t6)
	d := e - gridE0
	d2 := d * d
	d3, d4 := d2*d, d2*d2
	d5, d6, d7 := d4*d, d4*d2, d4*d3
	return φ - vii*d2 + viii*d4 - ix*d6, gridλ0 + x*d - xi*d3 + xii*d5 - xiia*d7
}

// osgb36ToWGS84 moves a point on the Airy ellipsoid (height 0) to WGS84 via
// Earth-centred cartesian coordinates and the Helmert transformation.
func osgb36ToWGS84(φ, λ float64) (float64, float64) {
	sφ, cφ := math.Sincos(φ)
	sλ, cλ := math.Sincos(λ)
	ν := airyA / math.Sqrt(1-airyE2*sφ*sφ)
	x1 := ν * cφ * cλ
	y1 := ν * cφ * sλ
	z1 := (1 - airyE2) * ν * sφ

	s1 := 1 + helmS
	x2 := helmTx + s1*(x1-helmRz*y1+helmRy*z1)
	y2 := helmTy + s1*(helmRz*x1+y1-helmRx*z1)
	z2 := helmTz + s1*(-helmRy*x1+helmRx*y1+z1)

	// Bowring's closed form: sub-millimetre for points near the surface,
	// without the usual iteration.
	const b = wgsA * (1 - wgsF)
	const ep2 = (wgsA*wgsA - b*b) / (b * b)
	p := math.Hypot(x2, y2)
	sθ, cθ := math.Sincos(math.Atan2(z2*wgsA, p*b))
	φ2 := math.Atan2(z2+ep2*b*sθ*sθ*sθ, p-wgsE2*wgsA*cθ*cθ*cθ)
	return φ2, math.Atan2(y2, x2)
}
