"""The one JSON API under /api/: every app's router, mounted on one OpsApi (apps/web/api.py).

One NinjaAPI, so one OpenAPI document (/api/schema) and one docs page (/api/docs)
describe every endpoint. The console's JSON twins get their own router, tagged
"console" and authenticated by StaffSession, mounted here at /ops/
(docs/architecture.md, "How to add an endpoint").
"""

from __future__ import annotations

from apps.payments.api import router as payments_router
from apps.web.api import OpsApi

api = OpsApi()
api.add_router("/", payments_router)
