# sgdlab task runner. The first use creates .venv and installs the project into it.
# Run `make help` for the list of targets.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUILDDIR ?= _build
DOCSDIR ?= docs
CONFDIR ?= .
# A warning is an error, but report them all before stopping.
SPHINXOPTS ?= -W --keep-going
SPHINXBUILD = $(PY) -m sphinx -c $(CONFDIR) $(SPHINXOPTS)

export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

# The builds and tests run two processes at a time on two cores (pytest's workers, the
# gallery's, the readers' downloads): one OpenMP thread each, or their threads spin waiting
# for each other. The CPU variants set their own thread count; `make bench` keeps torch's.
html html-noplot doctest pytest site-test test: export OMP_NUM_THREADS ?= 1

.DEFAULT_GOAL := help
.PHONY: help setup html html-noplot doctest test pytest livehtml clean snapshots site-test screenshots inventories gpu-check bench

help: ## List the targets with what each does
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

# Where torch comes from. Empty (the default): the default index, like any `pip install torch`;
# on Linux that is the CUDA build and its nvidia-* wheels. TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (what the hosted builds set): PyTorch's CPU-only build of the same pinned version. Only torch
# is looked up there (--index-url with --no-deps; `torch==2.13.0` in constraints.txt admits
# `2.13.0+cpu`); the second install finds it installed and takes everything else from the
# default index at the pinned versions. --extra-index-url would instead offer every package
# from both indexes and get the CPU build only because `2.13.0+cpu` sorts above `2.13.0`.
# An existing $(VENV) keeps its torch: remove $(VENV) to switch.
TORCH_INDEX ?=

# Reinstall only when the project's metadata or the pinned versions change.
$(STAMP): pyproject.toml constraints.txt
	@echo "==> setting up $(VENV) (Python packages pinned in constraints.txt$(if $(TORCH_INDEX),; torch from $(TORCH_INDEX)))"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet --no-deps --index-url $(TORCH_INDEX) -c constraints.txt torch)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[docs,test]"
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install sgdlab with its docs and test extras

html: $(STAMP) ## Build the site into _build/html, running the gallery examples that changed (or all, if src/ did)
	@echo "==> building the site (gallery examples re-run when they or src/sgdlab change)"
	$(SPHINXBUILD) -b html $(DOCSDIR) $(BUILDDIR)/html
	@echo "==> open $(BUILDDIR)/html/index.html"

html-noplot: $(STAMP) ## Build the site without running the gallery examples (fast)
	$(SPHINXBUILD) -D plot_gallery=0 -b html $(DOCSDIR) $(BUILDDIR)/html-noplot

# CPU_VARIANTS=default-1thread (names from `python tools/cpu_variants.py`, comma-separated) runs fewer.
# Two variants run at once, each on its own mirror of the docs (its own gallery output).
doctest: $(STAMP) ## Run the {doctest} blocks of the pages under every variant (CPU kernels, threads, rounding noise)
	@echo "==> running the doctests of the pages under each variant"
	$(PY) tools/cpu_variants.py $(if $(CPU_VARIANTS),--only $(CPU_VARIANTS)) --parallel 2 \
		--docs $(DOCSDIR) --mirrors $(abspath $(BUILDDIR))/doctest-sources -- \
		$(SPHINXBUILD) -q -D plot_gallery=0 -b doctest \
		-d $(abspath $(BUILDDIR))/doctest/{variant}/.doctrees {docs} $(abspath $(BUILDDIR))/doctest/{variant}

# Two pytest workers, one per core, each taking whole files (pytest-xdist); the files marked
# long_running start first (tests/conftest.py). PYTEST_WORKERS=0 runs in one process. The site
# tests run in one process: the downloads and the browser each keep both cores busy.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

pytest: $(STAMP) ## Run the unit and docstring tests, each gallery script against its snapshot, and the build guards
	@echo "==> running pytest (unit tests, docstring examples, examples, build guards)"
	$(PY) -m pytest $(PYTEST_PARALLEL)

test: $(STAMP) ## Run everything: pytest, the page doctests, the full html build and the site tests
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory doctest
	$(MAKE) --no-print-directory html
	$(MAKE) --no-print-directory site-test
	@echo "==> all checks passed"

# The readers' virtual environments (one per set of packages a downloaded script names) are kept
# in $(VENV)/readers between runs: like .venv, `make clean` keeps them, and a change of
# constraints.txt or of sgdlab's requirements makes new ones.
site-test: $(STAMP) ## Test the built site in a browser: every page, link, image and download (after `make html`)
	@echo "==> testing the built site in $(BUILDDIR)/html"
	SGDLAB_SITE_DIR=$(abspath $(BUILDDIR))/html SGDLAB_READER_VENVS=$(abspath $(VENV))/readers \
		$(PY) -m pytest tests/site

screenshots: $(STAMP) ## Save full-page screenshots (1280 px: home, article, guide, gallery; 1280 and 390 px: home, troubleshooting, two guide pages) to _build/screenshots
	SGDLAB_SITE_DIR=$(abspath $(BUILDDIR))/html $(PY) -m pytest -q tests/site/test_site_browser.py tests/site/test_site_phone.py -k screenshots
	@echo "==> look at $(BUILDDIR)/screenshots/*.png"

inventories: $(STAMP) ## Rewrite docs/_inventories, the offline intersphinx inventories (PyTorch, Python, ...)
	$(PY) tools/make_inventories.py

livehtml: $(STAMP) ## Rebuild the site on every change and serve it on http://127.0.0.1:8000
	$(PY) -m sphinx_autobuild -c $(CONFDIR) $(DOCSDIR) $(BUILDDIR)/html \
		--watch src --watch examples --ignore "*/auto_examples/*" --port 8000

clean: ## Remove the build output and the generated gallery pages (keeps .venv)
	rm -rf $(BUILDDIR) $(DOCSDIR)/auto_examples $(DOCSDIR)/sg_execution_times.rst

snapshots: $(STAMP) ## Re-record what each gallery script prints (review the diff!)
	SGDLAB_UPDATE_SNAPSHOTS=1 $(PY) -m pytest -q tests/test_examples.py

# No venv bootstrap here: a GPU machine needs only torch, numpy, matplotlib, pytest and hypothesis.
# The project's .venv is used when there is one, else $(PYTHON).
GPU_PYTHON = $(if $(wildcard $(PY)),$(PY),$(PYTHON))
gpu-check: ## Run the tests and every gallery script with CUDA hidden and with CUDA, compare the outputs
	PYTHONPATH=$(CURDIR)/src$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) tools/gpu_check.py

bench: $(STAMP) ## Time the site's builds, the SGD step's roofline and its model-shaped lists into bench/results/ (BENCH_SITE_TEST=1 adds make test; BENCH_ARGS=--threads=1 on a busy machine)
	$(PY) tools/bench.py $(if $(filter 1,$(BENCH_SITE_TEST)),--site-test) $(BENCH_ARGS)
