# Two commands do all setup: `make book` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: book test lint unit notebooks build-check serve lab bench clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

## Build the website into _build/html (executes every chapter; warnings are errors).
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

## Run every check: lint, unit tests, every notebook under nbval, and the book build.
test: lint unit notebooks build-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) tests

notebooks: $(STAMP)
	@nbs="$$($(BIN)/python tests/toc.py)"; \
	if [ -z "$$nbs" ]; then echo "no notebooks in _toc.yml yet"; else \
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -n $(JOBS) --nbval-lax --nbval-current-env \
		-o testpaths= $$nbs; fi

build-check: book

## Serve the built site on http://localhost:8000
serve:
	$(PYTHON) -m http.server --directory _build/html 8000

## Open the chapters in JupyterLab.
lab: $(STAMP)
	$(BIN)/jupyter lab book

## Benchmarks: writes benchmarks/REPORT.md (numbers only; never part of the tests).
## The PyTorch comparison runs when torch is installed in .venv (pip install torch==2.13.0).
bench: $(STAMP)
	$(BIN)/python benchmarks/report.py --all --torch

clean:
	rm -rf _build
