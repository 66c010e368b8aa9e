# make test | make demo | make bench | make lint | make dist — each creates .venv and installs what
# it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo bench lint console dist clean page browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The map page's third-party files (Leaflet from npm) into bot/webapp/static/vendor; a no-op when
# they are there for the current web/package-lock.json. Needs node and npm.
page:
	$(PYTHON) web/build.py

# Debian's Chromium for the map's browser tests (Playwright drives /usr/bin/chromium), and CJK
# fonts so that names on the map and in screenshots are not boxes.
browser:
	@if [ -x /usr/bin/chromium ] && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else \
	  echo "make: no /usr/bin/chromium (or fonts-noto-cjk) and not root: run 'apt-get install chromium fonts-noto-cjk' as root (the map's browser tests fail without them; PTTBRIDGE_SKIP_BROWSER=1 skips them)"; \
	fi

test: $(STAMP) page browser
	$(PY) -m pytest

demo: $(STAMP) page
	$(PY) -m bot demo

console: $(STAMP) page
	$(PY) -m bot console

bench: $(STAMP) page browser
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot handlers storage

# The sdist and the wheel in dist/ (deploy/install.sh's build step, the Dockerfile's too).
dist: $(STAMP) page
	PYTHON=$(PY) sh deploy/install.sh build . dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist test-artifacts \
	  web/node_modules bot/webapp/static/vendor
