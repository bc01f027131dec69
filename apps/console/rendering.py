"""How a console page is rendered: inside the admin's site (theme, user links), with the live interval and levels."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.console.presenters import tile_levels


def console_context(request: HttpRequest, *, title: str) -> dict[str, Any]:
    """The admin's site context without its sidebar, and the page's title."""
    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, "title": title}


def console_render(
    request: HttpRequest, template: str, *, title: str, data: dict[str, Any], **extra: Any
) -> HttpResponse:
    """A live page from `data` (what its JSON twin answers): its tiles' levels come from data["overview"]."""
    context = {
        **console_context(request, title=title),
        "live_interval": settings.CONSOLE_LIVE_INTERVAL,
        "levels": tile_levels(data["overview"]),
        **data,
        **extra,
    }
    return render(request, template, context)
