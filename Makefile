# Every install step lives here: CI runs on a clean clone with only the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test test-fast lint typecheck install clean bench bench-latency bench-replicas bench-signing bench-scale system-packages

$(STAMP): pyproject.toml dev/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]" -e ./dev
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

# Debian packages the real-component tests drive: Chromium (passkeys through a real browser),
# Prometheus (promtool and a real scraping server) and PostgreSQL (replicas on one ledger).
# Checked by command, so a machine that has them needs neither root nor the network.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium prometheus:/usr/bin/promtool postgresql:/usr/bin/pg_ctlcluster
system-packages:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
	  pkg=$${entry%%:*}; bin=$${entry#*:}; [ -x "$$bin" ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

install: $(STAMP) node_modules/.installed system-packages

dev: install
	$(BIN)/session-studio dev

# Lint and strict types are part of the test: CI runs only `make test`.
test: install
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest -n 2 --dist loadfile -q -p no:cacheprovider

# The suite without `e2e`: no test here starts a process (tests/conftest.py refuses one), so it
# runs in under a minute. A quick check while working; `make test` stays what CI runs.
test-fast: install
	$(BIN)/pytest -m "not e2e" -n 2 --dist loadfile -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(MAKE) typecheck

# Every design-card folder is a source root holding its part of `session_studio` (see
# pyproject.toml, [tool.mypy] mypy_path): mypy reads the tree as it is installed.
ROOTS := session_studio policy proxy keystore store admin_ui sdk dev
typecheck: install
	$(BIN)/mypy $(ROOTS)

# Every issue-13 figure in one run, written to bench/results/performance.md (~15 min); wrk is
# the load generator (Debian package, installed here when missing).
bench: install
	@[ -x /usr/bin/wrk ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk)
	$(BIN)/python bench/suite.py

# Latency of single sends and reads with web3.py, and the signing primitives (~2 min).
bench-latency: install
	$(BIN)/python bench/send_latency.py

# Throughput of 1-3 PostgreSQL replicas vs one SQLite serve (~8 min; needs PostgreSQL's server).
bench-replicas: install
	$(BIN)/python bench/replicas.py

# Decide + reserve + sign, no HTTP, no node, on SQLite and PostgreSQL, with a py-spy profile;
# writes bench/results/signing_path.md (~1 min; needs PostgreSQL's server).
bench-signing: install
	$(BIN)/python bench/signing_path.py --profile --write

# Send latency, listing and RSS of one SQLite serve at 10 / 100k / 1M ledger entries (~15 min).
bench-scale: install
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) node_modules .studio-dev
