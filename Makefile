# Parley: `make run` serves a demo tenant on http://localhost:8080 with a
# sandbox WhatsApp integration; `make test` runs every check and test against
# a real Postgres and a real browser. Both install what they need on
# Debian/Ubuntu (as root, or through sudo).

SHELL := /bin/bash
GO    ?= go
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_FOUND = $(shell command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && echo yes)

.PHONY: run build test check unit fault fault-short bench generate postgres-bin chromium-bin mailpit-bin clean

# Mailpit, the local mail server with a web inbox that `make run` and the
# tests start (internal/mailpit), is built from its Go module into the cache.
MAILPIT_VERSION := v1.33.1
# The same path as os.UserCacheDir, where `parley dev` and the tests look.
MAILPIT := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/parley/mailpit-$(MAILPIT_VERSION)/mailpit

run: build mailpit-bin
	@[ -n "$$DATABASE_URL" ] || $(MAKE) --no-print-directory postgres-bin
	PARLEY_MAILPIT=$(MAILPIT) ./bin/parley dev

build:
	$(GO) build -o bin/parley ./cmd/parley

generate:
	$(GO) tool templ generate

# Everything CI runs.
test: postgres-bin chromium-bin mailpit-bin check unit fault-short

check:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool templ generate >/dev/null 2>&1
	@if [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then \
		echo "templ: generated files are out of date; run 'make generate' and commit:"; \
		git status --porcelain -- '*_templ.go'; exit 1; fi

# Unit, integration and browser tests. Without DATABASE_URL one private
# Postgres cluster serves the whole run; each test gets its own database.
unit: build
	@set -euo pipefail; \
	if [ -n "$${DATABASE_URL:-}" ]; then \
		PARLEY_MAILPIT=$(MAILPIT) $(GO) test -race -count=1 -timeout 15m ./...; \
	else \
		dir=$$(mktemp -d /tmp/parley-test-XXXXXX); \
		url=$$(./bin/parley postgres start $$dir/pg); \
		trap "./bin/parley postgres stop $$dir/pg >/dev/null; rm -rf $$dir" EXIT; \
		DATABASE_URL=$$url PARLEY_MAILPIT=$(MAILPIT) $(GO) test -race -count=1 -timeout 15m ./...; \
	fi

# The fault and abuse suite (fault/): its own Postgres, two real parley
# replicas, the simulators; prints a markdown table and fails when anything
# acknowledged is lost or sent twice. FAULT passes flags, e.g.
# FAULT='-run R3,R5 -duration 1m'. `make test` runs its short version.
fault: build postgres-bin
	$(GO) run ./fault -parley bin/parley $(FAULT)

fault-short: build postgres-bin
	$(GO) run ./fault -short -parley bin/parley

bench: build
	@set -euo pipefail; \
	dir=$$(mktemp -d /tmp/parley-bench-XXXXXX); \
	url=$$(./bin/parley postgres start $$dir/pg); \
	trap "./bin/parley postgres stop $$dir/pg >/dev/null; rm -rf $$dir" EXIT; \
	DATABASE_URL=$$url $(GO) run ./bench $(BENCH)

postgres-bin:
ifeq ($(PG_FOUND),yes)
	@true
else
	@if command -v apt-get >/dev/null; then \
		echo "PostgreSQL binaries not found: installing Debian's postgresql package…"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q postgresql; \
	else \
		echo "PostgreSQL 15+ binaries (initdb, pg_ctl) not found. Install PostgreSQL, or set DATABASE_URL to a database you run."; exit 1; \
	fi
endif

chromium-bin:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then \
		if command -v apt-get >/dev/null; then \
			echo "Chromium not found (browser tests need it): installing Debian's chromium package…"; \
			$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
		else \
			echo "Chromium not found: install chromium for the browser tests."; exit 1; \
		fi; \
	fi

mailpit-bin:
	@[ -x $(MAILPIT) ] || { echo "Building Mailpit $(MAILPIT_VERSION) into $(dir $(MAILPIT)) …"; \
		GOBIN=$(dir $(MAILPIT)) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION); }

clean:
	rm -rf bin
