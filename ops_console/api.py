"""The one JSON API under /api/: every app's router, mounted on one OpsApi (apps/web/api.py).

One NinjaAPI, so one OpenAPI document (/api/schema) and one docs page (/api/docs)
describe every endpoint. The console's JSON twins get their own router, tagged
"console" and authenticated by StaffSession, mounted here at /ops/
(docs/architecture.md, "How to add an endpoint").
"""

from __future__ import annotations

from apps.console.api import router as console_router
from apps.payments.api import router as payments_router
from apps.web.api import OpsApi

api = OpsApi(
    openapi_extra={
        "tags": [
            {"name": "payments", "description": "Payments: bearer tokens by scope; staff sessions may read."},
            {
                "name": "console",
                "description": "The console pages' JSON twins (/ops/… pages, `?format=json`): GET only, for a "
                "staff session holding console.view_console; API tokens do not open them. The pages' actions "
                "are CSRF-protected console forms, not API operations.",
            },
        ]
    }
)
api.add_router("/", payments_router)
api.add_router("/ops/", console_router)
