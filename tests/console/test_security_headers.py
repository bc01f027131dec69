from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/ops/", "/ops/alerts", "/ops/audit", "/admin/", "/admin/console/operatoraction/"])
def test_pages_carry_a_content_security_policy_without_unsafe_inline(staff_client, path):
    policy = staff_client.get(path)["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize("path", ["/ops/", "/ops/alerts", "/ops/audit"])
def test_console_pages_have_no_inline_script_or_style(staff_client, path):
    page = staff_client.get(path).content.decode()

    scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert all('type="application/json"' in attrs for attrs in scripts), scripts
    assert " style=" not in page
    assert "<style" not in page
    assert re.search(r"<[^>]+\son[a-z]+\s*=", page) is None  # no inline event handlers


@pytest.mark.django_db
def test_security_headers_are_sent(client):
    response = client.get("/health")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Content-Security-Policy" in response
