# ops-console: `make run` runs the console, `make test` runs the whole suite.
# Both start embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test test-pgbouncer lint format bench services clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(PY) scripts/devstack.py run

test: $(STAMP)
	$(PY) scripts/devstack.py test $(ARGS)

# The database-heavy suites through a real PgBouncer in transaction mode (docs/pgbouncer.md).
test-pgbouncer: $(STAMP)
	$(PY) scripts/devstack.py test-pgbouncer $(ARGS)

services: $(STAMP)
	$(PY) scripts/devstack.py services

# mypy's Django plugin imports the settings: DEBUG=1 lets them load without production secrets.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) scripts/devstack.py bench $(ARGS)

clean:
	$(PY) scripts/devstack.py clean
