"""Views used only by the deadline tests."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from apps.web.deadline import request_deadline


def sleepy(request, seconds):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])
    return JsonResponse({"slept": seconds})


def statement_timeout_now(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SHOW statement_timeout")
        return JsonResponse({"statement_timeout": cursor.fetchone()[0]})


@request_deadline(120)
def report(request):
    return statement_timeout_now(request)


urlpatterns = [
    path("sleep/<int:seconds>", sleepy),
    path("timeout", statement_timeout_now),
    path("report", report),
]
