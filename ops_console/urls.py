from django.contrib import admin
from django.urls import include, path

from ops_console.api import api

admin.site.site_header = "ops-console"
admin.site.site_title = "ops-console"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", include("apps.health.urls")),
    path("", include("apps.telemetry.urls")),
    path("", include("apps.console.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]

handler404 = "apps.web.views.handler404"
handler500 = "apps.web.views.handler500"
