# ops-console: `make run` runs the console, `make cluster` runs it scaled out behind HAProxy,
# `make test` runs the whole suite.
# All start embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set.
# `make test-rabbitmq` runs the worker suite against RabbitMQ (docs/workers.md).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run cluster test test-rabbitmq test-pgbouncer lint format bench services clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(PY) scripts/devstack.py run

cluster: $(STAMP)
	$(PY) scripts/devstack.py cluster

test: $(STAMP)
	$(PY) scripts/devstack.py test $(ARGS)

# The worker suite again with RabbitMQ as the broker (RABBITMQ_URL, default the local one, guest/guest)
# in a virtual host of their own; says so in one line and succeeds when no RabbitMQ answers.
test-rabbitmq: $(STAMP)
	$(PY) scripts/devstack.py test-rabbitmq $(ARGS)

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
