package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/tiles"
)

// The heat exports: a CSV whose first line is its header and a GeoJSON of
// hexagons, for the same cells, with their description (filter, period,
// policy, release, caveats) in a separate JSON document, so spreadsheets
// and GIS tools open the data directly and the caveats still travel with
// it (the CSV and GeoJSON answers link to it). Every export is audited
// before a byte is sent (PRIVACY.md rule 11).

const (
	exportCSVPath  = "/exports/heat.csv"
	exportJSONPath = "/exports/heat.geojson"
	exportMetaPath = "/exports/heat-metadata.json"
)

func (s *Server) exportRoutes(api *mux.Router) {
	params := append([]Param{Q("res", tiles.ResList()+"; omit for all three"),
		Q("bbox", "min_lon,min_lat,max_lon,max_lat: only the "+tiles.BBoxRule)}, filterParams...)
	s.route(api, Op{Method: "GET", Path: exportCSVPath, Tag: "heat",
		Summary: "CSV of published cells, first line the header (" + exportColumnNames(",", true) + "); " +
			"its description is " + exportMetaPath + " with the same parameters (Link rel=describedby); audit-logged",
		Params: params, Produces: "text/csv", Errors: []int{400}}, withTaxonomyHint(s.exportHeatCSV))
	s.route(api, Op{Method: "GET", Path: exportJSONPath, Tag: "heat",
		Summary: "GeoJSON (RFC 7946) FeatureCollection of published cells: each a hexagon Polygon (counter-clockwise exterior ring) " +
			"with properties " + exportColumnNames(", ", false) + "; audit-logged",
		Params: params, Produces: "application/geo+json", Errors: []int{400}}, withTaxonomyHint(s.exportHeatGeoJSON))
	s.route(api, Op{Method: "GET", Path: exportMetaPath, Tag: "heat",
		Summary: "What the CSV and GeoJSON exports with the same parameters hold: filter, months, resolutions, bbox and its rule, " +
			"cell count, policy, release and caveats; audit-logged",
		Params: params, Errors: []int{400}, Response: tiles.ExportMeta{}}, withTaxonomyHint(s.exportHeatMeta))
}

// exportRequest reads an export's parameters.
func exportRequest(q url.Values) (tiles.ExportRequest, error) {
	res, bbox, err := cellArea(q, false)
	if err != nil {
		return tiles.ExportRequest{}, err
	}
	return tiles.ExportRequest{Res: res, Filter: filterOf(q), BBox: bbox}, nil
}

// auditExport writes the audit entry of one export, naming its release.
func (s *Server) auditExport(r *http.Request, action string, meta tiles.ExportMeta) error {
	q := r.URL.Query()
	return s.audit.Audit(r.Context(), actor(r), action, fmt.Sprintf("release:%d", meta.Release.ID), "",
		map[string]any{"layer": q.Get("layer"), "category": q.Get("category"), "period": q.Get("period"), "res": q.Get("res"),
			"bbox": q.Get("bbox"), "cells": meta.Cells})
}

// writeExport runs one export into memory (so a failure is a clean error,
// never half a file), audits it, and sends it as a download.
func (s *Server) writeExport(w http.ResponseWriter, r *http.Request, action, contentType, ext string,
	export func(ctx context.Context, w io.Writer, req tiles.ExportRequest) (tiles.ExportMeta, error)) error {
	req, err := exportRequest(r.URL.Query())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	meta, err := export(r.Context(), &buf, req)
	if err != nil {
		return err
	}
	if err := s.auditExport(r, action, meta); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ctxmap-heat-release-%d.%s"`, meta.Release.ID, ext))
	h.Set("Cache-Control", "no-store")
	h.Set("Link", fmt.Sprintf(`<%s?%s>; rel="describedby"; type="application/json"`, apiPrefix+exportMetaPath, r.URL.RawQuery))
	setReleaseHeaders(h, meta.Release)
	_, err = w.Write(buf.Bytes())
	return err
}

// exportHeatCSV handles GET /api/v1/exports/heat.csv.
func (s *Server) exportHeatCSV(w http.ResponseWriter, r *http.Request) error {
	return s.writeExport(w, r, "export.heat_csv", "text/csv; charset=utf-8", "csv", s.heat.ExportCSV)
}

// exportHeatGeoJSON handles GET /api/v1/exports/heat.geojson.
func (s *Server) exportHeatGeoJSON(w http.ResponseWriter, r *http.Request) error {
	return s.writeExport(w, r, "export.heat_geojson", "application/geo+json", "geojson", s.heat.ExportGeoJSON)
}

// exportHeatMeta handles GET /api/v1/exports/heat-metadata.json.
func (s *Server) exportHeatMeta(w http.ResponseWriter, r *http.Request) error {
	req, err := exportRequest(r.URL.Query())
	if err != nil {
		return err
	}
	meta, err := s.heat.ExportMetadata(r.Context(), req)
	if err != nil {
		return err
	}
	if err := s.auditExport(r, "export.heat_metadata", meta); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, meta)
	return nil
}

// exportColumnNames lists tiles.ExportColumns for the routes' summaries,
// with lat and lon only for the CSV (a GeoJSON feature has its geometry).
func exportColumnNames(sep string, withLatLon bool) string {
	var names []string
	for _, c := range tiles.ExportColumns {
		if withLatLon || (c.Name != "lat" && c.Name != "lon") {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, sep)
}

// setReleaseHeaders names the release a download's values come from in its
// response headers, as its rows and its metadata do, so a file saved
// without its metadata can still be traced to a release by whoever fetched
// it: the id, the data time and the months covered.
func setReleaseHeaders(h http.Header, rel tiles.ReleaseRef) {
	h.Set("Ctxmap-Release", strconv.FormatInt(rel.ID, 10))
	h.Set("Ctxmap-Release-Data-Time", rel.DataTime)
	h.Set("Ctxmap-Release-Months", rel.Months())
}
