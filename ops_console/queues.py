"""The queues the platform's workers consume: read by settings (WORKER_QUEUES) and, before
Django is set up, by scripts/devstack.py. Routes to them are CELERY_TASK_ROUTES in settings."""

WORKER_QUEUES = ("default", "purchases", "allocations", "sessions", "cache")
