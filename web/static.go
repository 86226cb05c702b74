package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gorilla/mux"
)

// static holds the map UI. web/static/vendor (MapLibre from npm) is copied
// in by `make ui` before the build and is not in git.
//
//go:embed static
var static embed.FS

func (s *Server) staticRoutes(r *mux.Router) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	files := http.FileServerFS(sub)
	s.staticRoute = r.PathPrefix("/").Methods("GET", "HEAD").Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, err := fs.Stat(sub, trimSlash(req.URL.Path)); err != nil && req.URL.Path != "/" {
			// Not a file either: log it as unmatched, since a mistyped
			// path may hold a young person's id. A route may still take
			// the path with another method (a GET of a POST route): 405.
			info(req.Context()).route = "unmatched"
			s.methodNotAllowed(w, req)
			return
		}
		w.Header().Set("Content-Security-Policy", s.csp())
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, req)
	}))
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	if p == "" {
		return "."
	}
	return p
}
