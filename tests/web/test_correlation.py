from __future__ import annotations

import logging

import pytest

from lib.context import CORRELATION_HEADER, correlation_headers, get_correlation_id

pytestmark = pytest.mark.django_db


def test_a_well_formed_correlation_id_is_echoed(client):
    response = client.get("/health", headers={"X-Correlation-ID": "req-42.a:b_c"})

    assert response[CORRELATION_HEADER] == "req-42.a:b_c"


def test_the_alternative_header_name_is_accepted(client):
    response = client.get("/health", headers={"Correlation-Id": "abc-123"})

    assert response[CORRELATION_HEADER] == "abc-123"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "<script>", "new\nline", "ünïcode"])
def test_a_malformed_correlation_id_is_replaced_never_echoed(client, bad):
    response = client.get("/health", headers={"X-Correlation-ID": bad})

    assert response[CORRELATION_HEADER] != bad
    assert len(response[CORRELATION_HEADER]) == 32


def test_a_request_without_one_gets_a_fresh_id_each_time(client):
    first = client.get("/health")[CORRELATION_HEADER]
    second = client.get("/health")[CORRELATION_HEADER]

    assert first != second


def test_error_responses_carry_the_correlation_id_in_header_and_body(client):
    response = client.get("/api/no-such-endpoint", headers={"X-Correlation-ID": "trace-404"})

    assert response.status_code == 404
    assert response[CORRELATION_HEADER] == "trace-404"
    assert response.json()["correlation_id"] == "trace-404"


def test_log_lines_written_during_the_request_carry_the_id(client, caplog):
    with caplog.at_level(logging.INFO):
        client.post(
            "/api/payments/webhook",
            data=b"{}",
            content_type="application/json",
            headers={"X-Correlation-ID": "trace-logs"},
        )

    events = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert [event["event"] for event in events] == ["payment_webhook_rejected"]
    assert events[0]["correlation_id"] == "trace-logs"


def test_the_id_does_not_leak_into_work_after_the_request(client):
    client.get("/health", headers={"X-Correlation-ID": "finished"})

    assert get_correlation_id() is None
    assert correlation_headers() == {}
