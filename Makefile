# Every install step lives here: CI runs on a clean clone with only the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

install: $(STAMP) node_modules/.installed

dev: install
	$(BIN)/session-studio dev

# Lint and strict types are part of the test: CI runs only `make test`.
test: install
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest -n 2 --dist loadfile -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(MAKE) typecheck

# mypy cannot follow the build's folder mapping (policy/ -> session_studio.policy), so it
# checks a tree of symlinks laid out the way the installed package is.
typecheck: install
	rm -rf .typecheck && mkdir -p .typecheck/session_studio
	cp -rs $(CURDIR)/session_studio/. .typecheck/session_studio/
	for pkg in policy proxy keystore store admin_ui; do ln -s $(CURDIR)/$$pkg .typecheck/session_studio/$$pkg; done
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml -p session_studio

bench: install
	$(BIN)/python bench/send_latency.py

clean:
	rm -rf $(VENV) node_modules .typecheck .studio-dev
