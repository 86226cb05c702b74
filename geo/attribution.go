package geo

// PostcodeAttribution is the notice the OS, Royal Mail and ONS licences of
// the postcode data require wherever data derived from it is shown. Every
// geocode, and so every heat cell, derives from that data, so the map
// config, TileJSON and exports all quote this one text.
const PostcodeAttribution = "Contains OS data © Crown copyright and database right; " +
	"Contains Royal Mail data © Royal Mail copyright and database right; " +
	"Contains National Statistics data © Crown copyright and database right."
