package web

import "github.com/gorilla/mux"

// recordRoutes registers the records API (harm locations, contexts).
func (s *Server) recordRoutes(api *mux.Router) {}
