# Two commands: `make run` starts the whole system locally; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test setup browser lint unit workflow integration browser-tests conformance bench clean

$(VENV)/.installed: requirements-dev.txt constraints.txt functions/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

setup: $(VENV)/.installed

# Playwright cannot download its own browser here: the tests drive Debian's chromium.
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# SFN_ENDPOINT=http://127.0.0.1:8083 uses Step Functions Local (Docker) instead of the
# embedded engine: see docs/local-runtime.md.
run: setup
	$(PY) -m local --port $(PORT) $(if $(SFN_ENDPOINT),--stepfunctions-endpoint $(SFN_ENDPOINT))

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/statelint statemachine/*.asl.json

test: setup browser lint
	$(PY) -m pytest -q

unit workflow integration: setup
	$(PY) -m pytest -q tests/$@

browser-tests: setup browser
	$(PY) -m pytest -q tests/browser

# Cases recorded on real AWS (../shared/conformance), run against the local engine.
conformance: setup
	$(PY) -m local.conformance ../shared/conformance

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache
