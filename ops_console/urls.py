from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "ops-console"
admin.site.site_title = "ops-console"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", include("apps.health.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "apps.core.views.handler500"
