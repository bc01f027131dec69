"""ASGI entry point. The Django app is built before anything imports models."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

django_asgi_app = get_asgi_application()

application = django_asgi_app
