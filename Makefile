# Two entry points for a fresh machine: `make run` (the main job) and `make test` (the suite).
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
# Without a display napari runs under a virtual X server (its canvas needs OpenGL).
XVFB := $(if $(DISPLAY),,xvfb-run -a -s "-screen 0 1600x1000x24")

.PHONY: run test lint bench screenshots docs docs-serve clean system

# Debian packages (venv, OpenGL, Qt's xcb libraries, Xvfb): installed as root, else the
# command that installs them is printed.
system:
	@bash scripts/system_deps.sh

$(PY): | system
	@echo "creating $(VENV) with $(PYTHON) ..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first, so pip keeps this CPU build instead of pulling a multi-GB CUDA one.
$(VENV)/.torch: | $(PY)
	@echo "installing $(TORCH) (a CPU build) ..."
	$(PY) -m pip install -q "$(TORCH)"
	touch $@

$(VENV)/.run: pyproject.toml $(VENV)/.torch
	@echo "installing napari-sleap-train with PyQt6 ..."
	$(PY) -m pip install -q -e ".[qt]"
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.torch
	@echo "installing napari-sleap-train with the test tools ..."
	$(PY) -m pip install -q -e ".[test]"
	touch $@

run: system $(VENV)/.run
	$(XVFB) $(PY) scripts/run_main_job.py $(if $(DISPLAY),,--headless)

test: system $(VENV)/.test
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(XVFB) $(PY) -m pytest -q

bench: $(VENV)/.test
	$(PY) benchmarks/bench_video.py

# The user's guide (MkDocs Material): built into site/ with every warning an error.
docs: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(VENV)/bin/mkdocs serve

screenshots: system $(VENV)/.test
	$(if $(DISPLAY),,xvfb-run -a -s "-screen 0 1920x1200x24") $(PY) scripts/screenshots.py --docs docs/images

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
