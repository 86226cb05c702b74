// Package migrations holds the schema history as numbered SQL files in goose
// format, embedded so the binary alone can migrate a database.
package migrations

import "embed"

// FS holds every migration, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
