# pizzadelivery: `make run` (the product with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test bench screenshots messages install install-dev browser wrk gettext lint clean

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
test: install-dev browser gettext
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: the import rule (import-linter) and ruff
lint: install-dev
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check pizzadelivery events tracking statedash bench tests

## screenshots: the README's screenshots (static/screenshots), from the product with demo data
screenshots: install-dev browser
	$(PY) -m pizzadelivery.demo.screenshots $(SCREENSHOTS_ARGS)

## messages: update the catalogues from the code (locale/*/LC_MESSAGES/django.po), then compile
## them (django.mo, committed: nothing is compiled at run time). README, "Translations".
messages: install-dev gettext
	$(PY) manage.py makemessages --all --no-obsolete --add-location=file --ignore='.venv/*' --ignore='var/*' \
	  --ignore='tests/*' --ignore='bench/*'
	$(PY) manage.py compilemessages --ignore='.venv/*' --ignore='var/*'

## bench: start the production layout, seed a large dataset, load it on 127.0.0.1
bench: install-dev wrk
	$(PY) -m bench $(BENCH_ARGS)

# $(call apt_install,command,Debian package,what it is for,what happens without it)
# Installs a missing tool from Debian when running as root; otherwise only warns.
define apt_install
@command -v $(1) >/dev/null 2>&1 || { \
  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
    echo "installing Debian's $(2) $(3)"; \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null) \
      || echo "WARNING: $(2) could not be installed; $(4)"; \
  else echo "WARNING: no $(2) and no root to install it; $(4)"; fi; }
endef

wrk:
	$(call apt_install,wrk,wrk,for the saturation runs,make bench falls back to its Python generator)

gettext:
	$(call apt_install,msgfmt,gettext,for makemessages and the catalogue check,the catalogue check is skipped)

browser:
	$(call apt_install,chromium,chromium,for the browser tests,browser tests will be skipped)

clean:
	rm -rf var/*.sqlite3* var/staticfiles .pytest_cache
