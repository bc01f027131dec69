"""ASGI entry point: HTTP to Django, WebSockets to apps.realtime, lifespan for the graceful drain, telemetry.

The Django app is built before anything imports models (consumers, auth).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.realtime.lifecycle import lifespan  # noqa: E402
from apps.realtime.routing import websocket_urlpatterns  # noqa: E402
from apps.realtime.security import origin_checked  # noqa: E402
from apps.telemetry.reporter import reporter_start  # noqa: E402

# This web process's snapshot, every TELEMETRY_INTERVAL (apps/telemetry/reporter.py).
reporter_start(kind="web")

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The stub wants its own URLPattern subclass; websocket_urlpatterns are Django's (see routing.py).
        "websocket": origin_checked(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),  # type: ignore[arg-type]
        "lifespan": lifespan,
    }
)
