//go:build tools

// Package tools pins the module versions of the project's dependencies
// before the code that uses them lands, so parallel work shares one go.sum.
package tools

import (
	_ "github.com/alexedwards/argon2id"
	_ "github.com/gorilla/mux"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/paulmach/orb/encoding/mvt"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/uber/h3-go/v4"
	_ "golang.org/x/term"
)
