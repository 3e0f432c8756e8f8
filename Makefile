# Two entry points: `make serve` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup serve test lint typecheck services unit unit-minimal hub bench bench-read clean

setup: $(STAMP)

$(STAMP): pyproject.toml testhub/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "DEVON needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The test hub is its own distribution (not in DEVON's wheel); tests, examples and benchmarks use it.
	$(BIN)/python -m pip install --quiet -e testhub -e '.[test]'
	@# An editable install leaves our modules uncompiled, and where PYTHONDONTWRITEBYTECODE
	@# is set every `devon` command would compile them again (about 0.1 s of each start).
	$(BIN)/python -m compileall -q src testhub/src
	@touch $(STAMP)

serve: setup
	$(BIN)/devon serve $(if $(PORT),--port $(PORT))

lint: setup
	$(BIN)/ruff check src testhub tests bench scripts
	$(BIN)/ruff format --check src testhub tests bench scripts
	@# The boundaries between the packages: the contracts in pyproject.toml (ADR 0288).
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

hub: setup
	$(BIN)/python -m devon_testhub

unit: setup
	$(BIN)/pytest tests/unit -q

# The unit tests in an environment with only the core's dependencies and the test tools (needs
# the package index; tests/README.md). The suite checks the same offline, by collecting them.
MINIMAL ?= /tmp/devon-unit-minimal
unit-minimal:
	$(PYTHON) -m venv $(MINIMAL)/venv
	$(MINIMAL)/venv/bin/python -m pip install --quiet attrs cattrs pytest hypothesis
	mkdir -p $(MINIMAL)/path && ln -sfn $(CURDIR)/src/devon_core $(MINIMAL)/path/devon_core
	PYTHONPATH=$(MINIMAL)/path $(MINIMAL)/venv/bin/python -m pytest tests/unit -q -p no:cacheprovider

# The real parts the suite talks to: Debian's Chromium for the browser tests (installed when
# missing, as root) and the local PostgreSQL on 127.0.0.1:5432 (started when stopped).
services:
	bash .ci/ensure-services

test: lint typecheck services
	$(BIN)/pytest -q -n 2

# Every benchmark once, with modest sizes (each script takes flags to scale up; see
# docs/benchmarks.md). Loopback only; several minutes, about 8 GB written to /tmp and deleted.
bench: setup
	$(BIN)/python bench/bench_vault.py --models 1000 --total 10000
	$(BIN)/python bench/bench_vault_scale.py --sizes 1000,10000
	$(BIN)/python bench/bench_manifest.py --sizes 1000,10000 --import-sizes 1000
	$(BIN)/python bench/bench_http_load.py --models 10000 --duration 2
	$(BIN)/python bench/bench_http.py --size-mb 256 --requests 100
	$(BIN)/python bench/bench_search.py --rounds 1
	$(BIN)/python bench/bench_download.py --quick
	$(BIN)/python bench/bench_download_http.py --repos bench/big-512mb,bench/many-small
	$(BIN)/python bench/bench_bigfile.py --rounds 1 --memory-mb 1024
	$(BIN)/python bench/bench_hub_endpoint.py --size-mb 512 --rounds 3

# Issue 14's table, before (git ref BEFORE, default main) and after, with the ceiling, uvicorn
# and granian, 1 and 2 workers, plus 100,000-model figures. About 15 minutes on 2 cores.
BEFORE ?= main
bench-read: setup
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/bench_read_path.py --before $(BEFORE)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
