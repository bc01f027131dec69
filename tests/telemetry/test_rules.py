"""Each alert rule fires when its condition holds for its "for" duration, and resolves when it stops."""

from __future__ import annotations

import pytest

from apps.telemetry.rules import RULES, rule_evaluate

NOW = 1_000_000.0
STEP = 30.0


def rule(name: str):
    return next(r for r in RULES if r.name == name)


def points(*values: float | None) -> list[tuple[float, float | None]]:
    """Samples 30 s apart, the last one at NOW."""
    return [(NOW - STEP * (len(values) - 1 - n), v) for n, v in enumerate(values)]


# rule, settings, samples that fire, samples that resolve it afterwards
CASES = [
    ("db_pool_usage", {"ALERT_POOL_USAGE_FOR": 120}, [0.9, 0.9, 0.95, 0.85, 0.9], [0.9, 0.9, 0.95, 0.85, 0.5]),
    ("db_pool_timeouts", {}, [0, 3], [3, 0]),
    ("http_5xx_rate", {"ALERT_HTTP_5XX_FOR": 60}, [0.02, 0.05, 0.03], [0.05, 0.03, 0.005]),
    ("http_p99", {"ALERT_HTTP_P99_MS": 15000, "ALERT_HTTP_P99_FOR": 60}, [16000, 20000, 17000], [20000, 17000, 300]),
    ("ws_connections", {"ALERT_WS_USAGE_FOR": 30}, [0.95, 0.97], [0.97, 0.5]),
    ("queue_age", {"ALERT_QUEUE_AGE": 60, "ALERT_QUEUE_AGE_FOR": 30}, [90, 120], [120, 2]),
    ("dead_letters_growing", {"ALERT_DEAD_LETTERS_FOR": 60}, [3, 4, 6], [6, 6, 6]),
    ("workers_missing", {"ALERT_MIN_WORKERS": 1}, [1, 0], [0, 1]),
    ("beat_missing", {}, [1, 0], [0, 1]),
    ("breaker_open", {}, [0, 1], [1, 0]),
    ("redis_down", {}, [0, 2], [2, 0]),
    ("postgres_down", {}, [0, 2], [2, 1]),
]


def test_every_rule_has_a_case_here():
    assert sorted(name for name, *_ in CASES) == sorted(r.name for r in RULES)


@pytest.mark.parametrize(("name", "overrides", "firing", "resolved"), CASES, ids=[c[0] for c in CASES])
def test_a_rule_fires_when_its_condition_holds_and_resolves_when_it_stops(settings, name, overrides, firing, resolved):
    for setting, value in overrides.items():
        setattr(settings, setting, value)

    assert rule_evaluate(rule(name), points(*firing), now=NOW).firing
    assert not rule_evaluate(rule(name), points(*resolved), now=NOW).firing


def test_pool_usage_does_not_fire_before_it_has_held_for_its_duration(settings):
    settings.ALERT_POOL_USAGE_FOR = 120

    verdict = rule_evaluate(rule("db_pool_usage"), points(0.5, 0.9, 0.9, 0.9), now=NOW)

    assert verdict.breaching and not verdict.firing
    assert verdict.since == NOW - 60


def test_an_unknown_value_never_breaches():
    verdict = rule_evaluate(rule("workers_missing"), points(0, None), now=NOW)

    assert not verdict.breaching


def test_the_summary_names_the_value_and_the_threshold(settings):
    settings.ALERT_HTTP_5XX_RATE = 0.01
    settings.ALERT_HTTP_5XX_FOR = 0

    verdict = rule_evaluate(rule("http_5xx_rate"), points(0.034), now=NOW)

    assert verdict.summary == "5xx rate 3.4% above 1.0%"
