from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.test import RequestFactory

from apps.web.middleware import database_error_response
from lib.db import statement_timeout

pytestmark = pytest.mark.django_db


def _statement_timeout_error() -> OperationalError:
    try:
        with statement_timeout(50), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")
    except OperationalError as exc:
        return exc
    raise AssertionError("the statement was not cancelled")


def test_a_cancelled_statement_becomes_a_504_naming_the_time_limit():
    request = RequestFactory().get("/admin/")

    response = database_error_response(request, _statement_timeout_error())

    assert response.status_code == 504
    assert json.loads(response.content)["error"]["code"] == "db_statement_timeout"


def test_errors_that_are_not_about_availability_are_left_alone():
    request = RequestFactory().get("/admin/")

    assert database_error_response(request, DatabaseError("constraint")) is None
    assert database_error_response(request, ValueError("bug")) is None
