# The ops-console image: one image for every process type of the Procfile (docs/deployment.md).
#
#   docker build -t ops-console .
#   docker run ops-console release      # then: web (the default), worker-pipeline, worker-housekeeping, beat, relay
#
# The entrypoint runs the Procfile's command for the type it is given (scripts/procfile.py), so the
# command lines live in the Procfile alone; flags come from the environment (PORT, WEB_KEEP_ALIVE, ...).

# --- build: dependencies into a virtualenv, static files collected -----------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# A compiler for any dependency without a wheel for this platform; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

WORKDIR /app
COPY . .
# Production static files (DEBUG off: hashed names and the manifest whitenoise serves from). Settings
# refuse to load without SECRET_KEY and PAYMENT_WEBHOOK_SECRET when DEBUG is off: this step gets
# throwaway values that exist only in it. Nothing here connects to PostgreSQL or Redis.
RUN DEBUG=0 \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    PAYMENT_WEBHOOK_SECRET=collectstatic-at-build-only \
    python manage.py collectstatic --no-input --verbosity 0

# --- runtime: the virtualenv and the code, no compiler, not root ---------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BEAT_SCHEDULE=/tmp/celerybeat-schedule
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /app /app
# The release step collects again (a no-op but for the manifest it rewrites): the app user owns that directory only.
COPY --from=build --chown=app:app /app/staticfiles /app/staticfiles

USER 10001:10001
EXPOSE 8000
# Liveness of a web container (compose turns it off for the other types); Kubernetes uses its own probes.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-m", "scripts.healthcheck"]
ENTRYPOINT ["python", "-m", "scripts.procfile", "run"]
CMD ["web"]
