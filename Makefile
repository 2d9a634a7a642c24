# Two commands do all setup: `make book` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
# The browser tests mostly wait (page loads, idle callbacks, players' animations), so
# make test-site runs twice as many workers as cores; Lighthouse's performance runs still
# have the machine to themselves (tests/site/conftest.py).
# (JOBS=auto or another word of pytest-xdist's is passed on as it is.)
SITE_JOBS ?= $(shell case '$(JOBS)' in (''|*[!0-9]*) echo '$(JOBS)';; (*) echo $$(($(JOBS) * 2));; esac)
# The site serves its own JavaScript (MathJax, RequireJS, the widgets HTML manager):
# npm installs it from package-lock.json and scripts/vendor_site_assets.py copies it here.
NPM ?= npm
ASSETS := _build/site-assets
ASSETS_STAMP := $(ASSETS)/.copied
# The browser the site tests drive (Debian's package; `make test-site` installs it if missing).
CHROMIUM ?= chromium
export CHROMIUM
# One BLAS thread per process: the course's matrices are small, and with two threads on a
# busy 2-core machine (parallel test workers, the book build) products run several times slower.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
# The kernels that run the chapters read scripts/ipython_kernel_config.py (figures drawn
# at twice their size) from an IPython folder of their own under _build/.
IPYTHON_CONFIG := _build/ipython/profile_default/ipython_kernel_config.py
export IPYTHONDIR := $(CURDIR)/_build/ipython

.PHONY: book learner test lint unit notebooks robustness build-check serve lab bench clean \
	site-assets test-site test-compat linkcheck

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || sh scripts/need.sh --python $(PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@sh scripts/need.sh node nodejs npm
	@sh scripts/need.sh $(NPM) nodejs npm
	$(NPM) ci --no-audit --no-fund --ignore-scripts

$(ASSETS_STAMP): node_modules/.package-lock.json scripts/vendor_site_assets.py $(STAMP)
	$(BIN)/python scripts/vendor_site_assets.py node_modules $(ASSETS)
	touch $@

$(IPYTHON_CONFIG): scripts/ipython_kernel_config.py
	mkdir -p $(dir $@)
	cp $< $@

## The JavaScript the site serves itself, from npm (no CDN at read time).
site-assets: $(ASSETS_STAMP)

## The learner edition (learner/): what Binder, Colab and the download button open.
learner: $(STAMP)
	$(BIN)/python scripts/learner_edition.py

## Build the website into _build/html (warnings are errors): `jupyter-book build`, with
## the chapters read and executed $(JOBS) at a time. Right after `make notebooks` on the
## same tree it takes the chapters' outputs from that run instead of executing them.
book: $(STAMP) $(ASSETS_STAMP) $(IPYTHON_CONFIG) learner
	$(BIN)/python scripts/build_book.py --jobs $(JOBS) . -W -n --keep-going

## Run every check: lint, unit tests, every notebook under nbval (on this machine's numerics
## and on other ones), the book build, the site in a real browser, and the Colab and Binder
## checks. The other Pythons and arm64 run in the GitHub workflow.
test: lint unit notebooks robustness build-check test-site test-compat
# A fresh make test must stay within 15 minutes on 2 cores, so within it the robustness
# check runs the first variant of tests/numerics.py and Lighthouse audits three pages
# (see tests/site/test_site_audit.py); `make robustness` and `make test-site` on their
# own run every variant and audit every page.
test: VARIANTS = first
test: LIGHTHOUSE_PAGES = sample

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The autograder's sandbox (bubblewrap) where it can be installed; its tests skip without it.
unit: $(STAMP)
	-@sh scripts/need.sh bwrap bubblewrap
	env -u LRCOURSE_PERTURB -u LRCOURSE_PERTURB_SEED $(BIN)/python -m pytest -q -n $(JOBS) tests --ignore=tests/site --ignore=tests/compat

## Every chapter under nbval. The notebooks are stored without outputs; the numbers their
## `# NBVAL_CHECK_OUTPUT` cells must print live in cell metadata and are put back into
## copies under _build/nbval first (tests/nbval_expected.py). One notebook per worker.
## `make notebooks CHAPTER=05` runs the chapters whose folder starts with 05 only.
## A run of every chapter in _build/nbval keeps their outputs for the book build, which
## then does not run them again (scripts/reuse_outputs.py). The kernels draw figures
## with the inline backend and a cell may take 120 s, as in the build.
KEEP_OUTPUTS := -p scripts.reuse_outputs --keep-outputs
CHAPTER ?=
NBVAL_DIR ?= _build/nbval$(if $(CHAPTER),-$(CHAPTER))
notebooks: $(STAMP) $(IPYTHON_CONFIG)
	@case "$(NBVAL_DIR)" in _build/?*) ;; *) echo "NBVAL_DIR must be a folder under _build/ (it is emptied first)" >&2; exit 2;; esac
	@$(BIN)/python tests/numerics.py describe
	@rm -rf $(NBVAL_DIR); \
	nbs="$$($(BIN)/python tests/nbval_expected.py prepare $(NBVAL_DIR) | tr ' ' '\n' | grep -F -e '/book/$(CHAPTER)' | tr '\n' ' ')"; \
	[ -n "$$nbs" ] || { echo "no notebooks to run: _toc.yml lists none, or prepare failed" >&2; exit 1; }; \
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=120 -p no:cacheprovider -o testpaths= $(if $(filter _build/nbval,$(NBVAL_DIR)),$(KEEP_OUTPUTS)) $$nbs

## The same checked outputs under other numerics (tests/numerics.py lists them for this
## machine): seeded starts moved by a relative 1e-12, lower numpy SIMD levels, other
## OpenBLAS kernels. An outcome the text relies on must not change with the CPU.
## VARIANTS=first runs the first variant only (what make test does).
VARIANTS ?= all
robustness: $(STAMP)
	@names="$$($(BIN)/python tests/numerics.py names)" && [ -n "$$names" ] || \
		{ echo "tests/numerics.py names listed no variant" >&2; exit 1; }; \
	case "$(VARIANTS)" in all) ;; first) names="$$(echo "$$names" | head -n 1)";; \
		*) echo "VARIANTS must be all or first, got $(VARIANTS)" >&2; exit 2;; esac; \
	for v in $$names; do \
		vars="$$($(BIN)/python tests/numerics.py env $$v)" || exit 1; \
		echo "notebooks under $$v: $$vars"; \
		env $$vars $(MAKE) --no-print-directory notebooks NBVAL_DIR=_build/nbval-$$v || exit 1; \
	done

build-check: book

## The built site in headless Chromium, every request off localhost blocked: no console
## errors, math typeset, images, launch buttons, the players; axe-core on every page and
## Lighthouse (mobile preset) on every page (LIGHTHOUSE_PAGES=sample: three pages, as in
## make test, where axe checks chapter 1's index in dark mode and at 360 px, and
## make test-site every page), with their budgets. Screenshots and audit.md: tests/artifacts/site/
## The checks that only read a page share one visit of it, so the tests of one page run
## together on one worker (tests/site/conftest.py).
LIGHTHOUSE_PAGES ?= all
test-site: build-check
	@sh scripts/need.sh $(CHROMIUM) chromium
	LRCOURSE_LIGHTHOUSE=$(LIGHTHOUSE_PAGES) $(BIN)/python -m pytest -q -n $(SITE_JOBS) tests/site

## Colab (ipywidgets 7.7.1 on Python 3.12, through each chapter's bootstrap cell) and Binder
## (requirements.txt on Python 3.10), side by side on the workers. A missing Python is
## skipped with a message (LRCOURSE_COMPAT_REQUIRE=1: fails). Slow the first time; Colab's
## venv and pip's downloads are cached (see tests/compat/compat.py).
test-compat: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) tests/compat --ignore=tests/compat/test_python_versions.py

## The package's unit tests under the other Pythons it declares (3.10, 3.12, 3.13; each
## skipped when not installed, or LRCOURSE_PYTHON_VERSIONS="3.10 3.13" to name them).
## Not part of make test: the workflow runs one version per job.
.PHONY: test-python-versions
test-python-versions: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) tests/compat/test_python_versions.py

## Check the external links (needs internet): reports broken links, never fails.
linkcheck: $(STAMP) $(ASSETS_STAMP)
	-$(BIN)/python scripts/linkcheck.py

## Serve the built site on http://localhost:8000
serve:
	$(PYTHON) -m http.server --directory _build/html 8000

## Open the chapters in JupyterLab: the learner edition (edit the book's own notebooks
## under book/, then `make learner`).
lab: $(STAMP) $(IPYTHON_CONFIG) learner
	$(BIN)/jupyter lab --config=scripts/jupyter_server_config.py learner/book

## Benchmarks: writes benchmarks/REPORT.md (numbers only; never part of the tests).
## The PyTorch comparison runs when torch is installed in .venv (pip install torch==2.13.0).
bench: $(STAMP)
	$(BIN)/python benchmarks/report.py --all --torch

clean:
	rm -rf _build
