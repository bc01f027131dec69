"""The sandbox's webhook signatures, and the console's verifier agreeing with them."""

from __future__ import annotations

import time

from apps.payments.webhooks import webhook_signature_valid
from sandbox_provider.signing import sign, verify

BODY = b'{"type": "charge.succeeded"}'
SECRET = "whsec-test"


def test_a_signature_verifies_with_the_same_secret():
    assert verify(BODY, sign(BODY, SECRET), SECRET)


def test_the_header_carries_the_timestamp_and_an_hmac_sha256():
    header = sign(BODY, SECRET, timestamp=1_700_000_000)

    assert header.startswith("t=1700000000,v1=")
    assert len(header.split("v1=")[1]) == 64


def test_a_changed_body_does_not_verify():
    assert not verify(BODY + b" ", sign(BODY, SECRET), SECRET)


def test_another_secret_does_not_verify():
    assert not verify(BODY, sign(BODY, "another-secret"), SECRET)


def test_a_signature_older_than_the_tolerance_does_not_verify():
    header = sign(BODY, SECRET, timestamp=int(time.time()) - 301)

    assert not verify(BODY, header, SECRET, tolerance_s=300)


def test_a_malformed_or_missing_header_does_not_verify():
    for header in (None, "", "v1=abc", "t=soon,v1=abc", f"t={int(time.time())}"):
        assert not verify(BODY, header, SECRET)


def test_an_empty_secret_never_verifies():
    assert not verify(BODY, sign(BODY, ""), "")


def test_any_of_several_signatures_may_match_during_secret_rotation():
    header = sign(BODY, SECRET) + ",v1=" + "0" * 64

    assert verify(BODY, header, SECRET)


def test_the_console_accepts_what_the_sandbox_signs():
    assert webhook_signature_valid(body=BODY, header=sign(BODY, SECRET), secret=SECRET, tolerance_seconds=300)
