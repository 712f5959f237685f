# Two commands for a fresh machine (see README):
#   make run    create the environment, generate demo data when no database exists, start the dashboard in demo
#               mode (CLINIC_DEMO=1: no sign-in, everyone admin; served only on a database the demo generator made)
#   make test   install test dependencies (and Debian's chromium when missing), run every test
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
DB      ?= data/clinic.duckdb
PORT    ?= 8501
SUDO    := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test install install-test chromium demo bench docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=900 update -qq && \
	  $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium chromium-driver; }

demo: $(VENV)/.installed
	$(PY) -m pipelines demo --db $(DB)

run: $(VENV)/.installed
	@test -f $(DB) || $(PY) -m pipelines demo --db $(DB)
	CLINIC_DEMO=1 CLINIC_DB=$(DB) $(PY) -m streamlit run streamlit_app.py --server.headless true --server.port $(PORT)

test: $(VENV)/.installed-test chromium
	$(PY) -m pytest -n 2 --dist loadfile

docs: $(VENV)/.installed
	$(PY) -m pipelines docs

clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal data/*.work.* data/*.snapshots test-artifacts

# 10k / 100k / 1M side by side with DuckDB; `make bench BENCH_ARGS=--with-10m` adds ten million treatments, and
# `make bench BENCH_ARGS=--add-10m` measures only those and adds them to the last run's report
bench: $(VENV)/.installed-test
	$(PY) tests/benchmarks/bench.py $(BENCH_ARGS)
