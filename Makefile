# ctxmap: two commands matter.
#   make run    set up everything (PostGIS, UI packages), migrate, load demo data once, serve the map
#   make test   the same set-up, then every check and test (Go unit + PostGIS integration + browser);
#               scripts/tools.sh installs the test tools (GDAL's ogrinfo) on a fresh machine
# DATABASE_URL, when set, points everything at an existing PostGIS instead of the private cluster.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN := bin/ctxmap
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Packages with concurrency run under the race detector; the rest run plain
# so the full postcode-directory tests stay fast.
RACE_PKGS := ./web/... ./tiles/... ./cmd/... ./migrations/... ./contexts/...
PLAIN_PKGS := ./geo/...
# Real UK reference data (postcodes, boundaries) for tests and the demo: beside the checkout as
# ../shared/data, or wherever CTXMAP_SHARED_DATA points. It is imported, never copied into the repo.
CTXMAP_SHARED_DATA ?= $(firstword $(wildcard $(CURDIR)/../shared/data) $(CURDIR)/../shared/data)
export CTXMAP_SHARED_DATA
POSTCODE_DATA ?= $(CTXMAP_SHARED_DATA)/codepoint-open/CSV
BOUNDARY ?= $(CTXMAP_SHARED_DATA)/boundaries/london/ward/E09000012.geojson
PG_ENV = if [ -z "$${DATABASE_URL:-}" ]; then bash scripts/pg.sh start; eval "$$(bash scripts/pg.sh env)"; \
	else export CTXMAP_DATABASE_URL_SET=1 CTXMAP_TEST_DATABASE_URL="$${CTXMAP_TEST_DATABASE_URL:-$$DATABASE_URL}"; fi

.PHONY: run test build ui pg pg-stop check lint unit browser bench clean

run: build
	@$(PG_ENV); \
	bash scripts/secret.sh >/dev/null; \
	if [ -z "$${CTXMAP_SECRET:-}" ]; then export CTXMAP_SECRET_FILE="$(CURDIR)/.data/secret"; fi; \
	$(BIN) migrate up; \
	$(BIN) seed-demo; \
	if [ -d "$(POSTCODE_DATA)" ]; then $(BIN) import postcodes --if-empty --format codepoint "$(POSTCODE_DATA)"; \
	else echo "no postcode directory at $(POSTCODE_DATA): postcode search needs ctxmap import postcodes (see README)"; fi; \
	if [ -f "$(BOUNDARY)" ]; then $(BIN) import boundary --if-empty --name "Hackney wards" "$(BOUNDARY)"; fi; \
	listen="$${CTXMAP_LISTEN:-127.0.0.1:8080}"; \
	echo; echo "ctxmap: open http://$${listen/127.0.0.1/localhost} and sign in with a demo login above (stop with Ctrl-C)"; \
	serve_url="$${DATABASE_URL}"; if [ -z "$${CTXMAP_DATABASE_URL_SET:-}" ]; then serve_url="$$(bash scripts/pg.sh runtime-url)"; fi; \
	exec $(BIN) serve --listen "$$listen" --log-format text --database-url "$$serve_url"

build: ui
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/ctxmap

# The map's front-end packages come from npm with a lockfile; MapLibre's
# files are copied into web/static/vendor so the binary embeds them.
ui:
	@bash scripts/ui.sh

pg:
	@bash scripts/pg.sh start && bash scripts/pg.sh env

pg-stop:
	@bash scripts/pg.sh stop

# make test leaves the machine as it found it: a private cluster it had to
# start is stopped again at the end, pass or fail.
test:
	@started=0; if [ -z "$${DATABASE_URL:-}" ] && ! bash scripts/pg.sh running; then started=1; fi; \
	trap 'if [ $$started = 1 ]; then bash scripts/pg.sh stop >/dev/null; fi' EXIT; \
	$(MAKE) --no-print-directory ui check unit browser

check:
	@echo "== gofmt"; out="$$(gofmt -l cmd geo contexts tiles web migrations *.go)"; if [ -n "$$out" ]; then echo "not gofmt'd: $$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet ./...
	@echo "== staticcheck"; $(GO) run $(STATICCHECK) ./...

unit:
	@bash scripts/tools.sh
	@$(PG_ENV); export CI="$${CI:-true}"; \
	echo "== go test -race $(RACE_PKGS)"; $(GO) test -race -count=1 $(RACE_PKGS); \
	echo "== go test $(PLAIN_PKGS)"; $(GO) test -count=1 $(PLAIN_PKGS)

browser: build
	@$(PG_ENV); export CI="$${CI:-true}"; CTXMAP_BIN=$(BIN) bash scripts/browser-test.sh

bench:
	@$(PG_ENV); $(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
