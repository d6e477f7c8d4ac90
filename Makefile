# Two entry points (see README): `make analyze` runs the main job, `make test` runs the tests.
# Both set up a virtual environment in .venv first (idempotent).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= reluscope-report

.PHONY: setup analyze test chromium docs bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch from this machine's disk (CPU build); pinned for tests
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

setup: $(VENV)/.installed

# Debian's chromium + chromedriver for the headless-browser test of the HTML report
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

analyze: setup
	$(VENV)/bin/reluscope analyze -o $(OUT)

test: setup chromium
	$(PY) -m pytest -n 2 -q

docs: setup
	$(VENV)/bin/mkdocs build --strict
