"""The amount pattern the schema publishes is exactly what validation accepts."""

from __future__ import annotations

import re

import pytest

from apps.payments.schemas import amount_pattern


@pytest.mark.parametrize("amount", ["0.01", "0.1", "0.99", "1", "9999.99", "10000", "10000.0", "10000.00", "240.5"])
def test_amounts_from_a_cent_to_the_maximum_with_two_decimals_match(amount):
    assert re.fullmatch(amount_pattern(10000), amount)


@pytest.mark.parametrize(
    "amount",
    ["0", "0.00", "0.001", "10000.01", "10001", "-1", "+1", "01", "1e2", "1.", ".5", "NaN", "1,00", "٣", "1 "],
)
def test_anything_else_does_not(amount):
    assert not re.fullmatch(amount_pattern(10000), amount)


@pytest.mark.parametrize("maximum", [1, 9, 10, 12345, 500])
def test_the_pattern_bounds_any_maximum(maximum):
    pattern = amount_pattern(maximum)

    assert re.fullmatch(pattern, f"{maximum}.00")
    assert re.fullmatch(pattern, f"{maximum - 1}.99") or maximum == 1
    assert not re.fullmatch(pattern, f"{maximum}.01")
    assert not re.fullmatch(pattern, str(maximum + 1))
    assert all(re.fullmatch(pattern, str(n)) for n in range(1, maximum + 1))
