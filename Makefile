# Two commands set everything up on a fresh machine with Python >= 3.10:
#   make demo   - the main job on the embedded Shakespeare corpus
#   make test   - every notebook's tests, pytest, and the notebook/package hygiene checks
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch, installed first where no CUDA GPU is present (a bare `torch`
# requirement would pull a multi-GB CUDA build). Override e.g. CPU_TORCH='torch==2.5.1'.
CPU_TORCH ?= torch==2.13.0
NBDEV_PINS := 'nbdev>=2.4,<3' 'fastcore>=1.12.3,<2' 'execnb>=0.1.12,<0.2' 'ghapi<2'
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
# Parallel notebook workers for nbdev_test, one math thread each (N workers x N threads on N cores
# oversubscribes the CPU and makes small training steps many times slower)
N_WORKERS ?= 2
TEST_THREADS ?= 1

.PHONY: demo test test-slow test-docs browser install lab docs docs-serve export clean-nbs bench help

help:
	@echo "make demo  - set up .venv and run the main job on the embedded Shakespeare corpus"
	@echo "make test  - set up .venv and run all tests (notebooks, pytest, hygiene checks)"
	@echo "make test-slow - also run the long cells flagged 'slow'"
	@echo "make lab   - JupyterLab on nbs/"
	@echo "make docs  - build the docs site: Quarto's where it is installed, else an offline preview in _preview/"
	@echo "make docs-serve - build the preview and serve it on http://127.0.0.1:8000/"
	@echo "make test-docs  - install Chromium (Debian) and open every page of the site in it"
	@echo "make bench - re-run the benchmarks in benchmarks/"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python settings.ini setup.py
	@if $(BIN)/python -c 'import torch' 2>/dev/null; then \
	  echo "torch already installed: $$($(BIN)/python -c 'import torch; print(torch.__version__)')"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "CUDA GPU found: installing the default (CUDA) torch"; $(BIN)/python -m pip install -q torch; \
	else \
	  echo "no CUDA GPU: installing the CPU build $(CPU_TORCH)"; $(BIN)/python -m pip install -q "$(CPU_TORCH)"; \
	fi
	$(BIN)/python -m pip install -q $(NBDEV_PINS)
	$(BIN)/python -m pip install -q -e '.[dev]' $(NBDEV_PINS)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/llm-from-scratch demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_hygiene.py
	OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) $(BIN)/nbdev_test --n_workers $(N_WORKERS) --timing
	$(BIN)/python -m pytest -q tests

test-slow: $(STAMP)
	OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) $(BIN)/nbdev_test --n_workers $(N_WORKERS) --timing --flags slow

export: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_readme

lab: $(STAMP)
	$(BIN)/jupyter lab nbs

docs: $(STAMP)
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; \
	else echo "Quarto is not installed: building the offline preview of the site in _preview/ (the published site is built"; \
	     echo "by .github/workflows/deploy.yaml with Quarto; install it from https://quarto.org to build it here)"; \
	     $(BIN)/python tools/docs_site.py --out _preview; fi

docs-serve: $(STAMP)
	$(BIN)/python tools/docs_site.py --out _preview --serve --port $${PORT:-8000}

# A browser for the page tests: Debian's chromium and chromedriver (as root, or with passwordless sudo)
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then echo "chromium: $$(chromium --version)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); echo "installing chromium and chromium-driver with apt-get"; \
	  $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	else echo "install Chromium and ChromeDriver (Debian: chromium, chromium-driver) to run the page tests"; exit 1; fi

test-docs: $(STAMP) browser
	$(BIN)/python -m pytest -q tests/test_docs_site.py

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done
