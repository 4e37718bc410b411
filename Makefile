# Two commands on a fresh machine with python3 and make:
#   make run    start example_app on 127.0.0.1:5000 (creates .venv and installs from this
#               repository); another port: make run PORT=5050
#   make test   lint, type-check and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MIN_VENV := .venv-minimum
# The other Python versions setup.cfg claims; `make test` runs on $(PYTHON) (3.11).
PYTHON_VERSIONS ?= 3.12 3.13

.PHONY: install run test test-minimum test-versions lint typecheck bench fuzz docs clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,example]'
	touch $(STAMP)

install: $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 5000

run: $(STAMP)
	$(BIN)/python -m example_app --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check flask_okta_hooks example_app tests benchmarks
	$(BIN)/ruff format --check flask_okta_hooks example_app tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy flask_okta_hooks example_app

test: lint typecheck
	$(BIN)/pytest

# The test suite against the oldest supported Flask, Werkzeug, marshmallow and orjson.
test-minimum:
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install --quiet --disable-pip-version-check \
		-c .ci/minimum-versions.txt -e '.[test,example]'
	$(MIN_VENV)/bin/pytest -q -p no:cacheprovider

# The suite (pytest only) on each of PYTHON_VERSIONS, in a venv per version; the
# interpreter is pythonX.Y from PATH, or else pyenv's latest X.Y. The property tests, a
# third of the suite's time, run in `make test` only: they fuzz version-independent code.
VERSIONS_PYTEST_ARGS ?= --ignore=tests/test_properties.py
test-versions: $(foreach v,$(PYTHON_VERSIONS),.venv-$(v)/.installed)
	@set -e; for v in $(PYTHON_VERSIONS); do \
		echo "== Python $$v"; \
		.venv-$$v/bin/pytest -q -p no:cacheprovider $(VERSIONS_PYTEST_ARGS); \
	done

.venv-%/.installed: setup.cfg pyproject.toml
	@py=$$(command -v python$* >/dev/null && python$* -c '' 2>/dev/null && echo python$*) || \
		py=$$(pyenv root 2>/dev/null)/versions/$$(pyenv latest $* 2>/dev/null)/bin/python$*; \
	test -x "$$py" || command -v "$$py" >/dev/null || \
		{ echo "Python $* not found: install it (e.g. pyenv install $*) or set PYTHON_VERSIONS"; exit 1; }; \
	"$$py" -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check -e '.[test,example]'
	touch $@

# The documentation as HTML in docs/_build/html; any warning fails the build.
docs: $(STAMP)
	$(BIN)/python -c 'import sphinx, furo, myst_parser' 2>/dev/null || \
		$(BIN)/pip install --quiet --disable-pip-version-check -e '.[docs]'
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/dispatch.py

# Coverage-guided fuzzing (atheris) of each target for FUZZ_SECONDS from the corpus in
# tests/fuzz/corpus, then schemathesis against the app's own OpenAPI document.
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
FUZZ_TARGETS := body requests rendering redaction pointer
fuzz: $(STAMP)
	$(BIN)/python -c 'import atheris, schemathesis' 2>/dev/null || \
		$(BIN)/pip install --quiet --disable-pip-version-check -e '.[fuzz]'
	log=$$(mktemp); for target in $(FUZZ_TARGETS); do \
		$(BIN)/python tests/fuzz/fuzz.py $$target --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) \
			>$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; \
		echo "fuzz $$target: $$(grep -e '^Done' $$log)"; \
	done; rm -f $$log
	$(BIN)/pytest -q -p no:cacheprovider tests/fuzz/openapi_check.py

clean:
	rm -rf $(VENV) $(MIN_VENV) $(foreach v,$(PYTHON_VERSIONS),.venv-$(v)) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
