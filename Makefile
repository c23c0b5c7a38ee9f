# The two commands for a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Checks run on the test settings: they need no secrets and no sipgate account.
CHECK_ENV := DJANGO_SETTINGS_MODULE=tests.settings

.PHONY: run test lint checks pytest test-postgres install install-dev browser serve bench bench-postgres clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# A development .env: fresh SECRET_KEY, DEBUG on, codes printed by the console SMS backend.
.env:
	$(PYTHON) -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('DEBUG=true'); print('SMS_BACKEND=accounts.sms.backends.console.SmsBackend')" > $@
	@echo "Wrote .env for development (console SMS backend)."

run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_user
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

checks: install-dev
	$(CHECK_ENV) $(PY) manage.py check --fail-level WARNING
	$(CHECK_ENV) $(PY) manage.py makemigrations --check --dry-run

# Debian's chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

pytest: install-dev browser
	$(PY) -m pytest

test: lint checks pytest

test-postgres: install-dev browser
	.ci/with-postgres $(PY) -m pytest

# Production-style server: gunicorn with threaded workers, whitenoise static files, DEBUG off.
# Reads SECRET_KEY and the rest from the environment or .env (make run writes a .env).
serve: install .env
	DEBUG=false $(PY) manage.py migrate --noinput
	DEBUG=false $(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=false $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT)

# Login-storm benchmark against the production server and the fake sipgate; prints a table.
bench: install-dev
	$(PY) -m tests.bench.run

bench-postgres: install-dev
	.ci/with-postgres $(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) staticfiles test-output .pytest_cache .ruff_cache .hypothesis
