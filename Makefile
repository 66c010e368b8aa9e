# make test | make demo | make bench | make lint | make dist — each creates .venv and installs what
# it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo bench lint console dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m bot demo

console: $(STAMP)
	$(PY) -m bot console

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot handlers storage

# The sdist and the wheel in dist/ (deploy/install.sh's build step, the Dockerfile's too).
dist: $(STAMP)
	PYTHON=$(PY) sh deploy/install.sh build . dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
