"""Celery application: configuration comes from Django settings (CELERY_*); see docs/workers.md.

Queues and routes, time limits, acks_late, prefetch, the visibility timeout
and the one beat schedule are all in ops_console/settings.py. Tasks that do
the platform's work subclass apps.workers.retry.ReliableTask (retry, dead letters).
"""

import os

from lib.broker import OpsCelery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

app = OpsCelery("ops_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
