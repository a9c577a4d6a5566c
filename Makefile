# pizzadelivery: `make run` (the product with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test bench install install-dev browser wrk lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: migrate, seed demo data, start embedded Redis (unless REDIS_URL), server, relay, simulator
run: install
	$(PY) manage.py run_stack

## test: install test dependencies (Chromium from Debian when missing) and run the whole suite
test: install-dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

## bench: start the production layout, seed a large dataset, load it on 127.0.0.1
bench: install-dev wrk
	$(PY) manage.py bench $(BENCH_ARGS)

wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's wrk for the saturation runs"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	      || echo "WARNING: wrk could not be installed; make bench falls back to its Python generator"; \
	  else echo "WARNING: no wrk and no root to install it; make bench falls back to its Python generator"; fi; }

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "WARNING: chromium could not be installed; browser tests will be skipped"; \
	  else echo "WARNING: no chromium and no root to install it; browser tests will be skipped"; fi; }

clean:
	rm -rf var/*.sqlite3* var/staticfiles .pytest_cache
