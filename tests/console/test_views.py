from __future__ import annotations

import re

from apps.console.selectors import SPARKLINE_SERIES
from apps.console.services import audit_record
from apps.telemetry.aggregate import overview_series
from apps.telemetry.selectors import console_overview

# The figures the console promises a sparkline for, by tile.
PROMISED_SPARKLINES = {
    "http.rps", "http.error_rate", "http.p50_ms", "http.p95_ms", "http.p99_ms",
    "db_pool.in_use", "db_pool.waiting", "db_pool.wait_ms", "db_pool.timeouts",
    "postgres_connections.total", "postgres_connections.idle_in_transaction",
    "redis.clients", "redis.used_memory_bytes", "redis.ops_per_sec",
    "websockets.connections", "websockets.refused", "websockets.dropped",
    "queues.depth", "queues.oldest_age_s",
    "tasks.per_s", "tasks.failed", "tasks.retried",
    "dead_letters.new", "dead_letters.total",
    "provider.calls", "provider.p95_ms",
    "rate_limiter.fail_open",
}  # fmt: skip


def _sparklines(page: str) -> list[str]:
    return re.findall(r'<svg class="spark" data-series="([^"]+)"[^>]* aria-label="[^"]+"', page)


def test_the_overview_shows_the_banner_the_summary_bar_and_the_tiles(staff_client):
    page = staff_client.get("/ops/").content.decode()

    assert 'class="banner' in page
    assert 'class="summary-bar"' in page
    for anchor in ("health", "http", "db-pool", "postgres", "redis", "websockets", "queues", "tasks", "dead-letters"):
        assert f'id="{anchor}"' in page


def test_every_summary_bar_link_leads_to_a_page_that_answers(staff_client):
    page = staff_client.get("/ops/").content.decode()
    bar = page[page.index('class="summary-bar"') : page.index("</nav>", page.index('class="summary-bar"'))]

    links = re.findall(r'href="([^"#]+)', bar)

    assert len(links) == 8
    assert all(staff_client.get(link.replace("&amp;", "&")).status_code == 200 for link in links)


def test_the_overview_json_twin_carries_the_overview_and_its_series(staff_client):
    body = staff_client.get("/api/ops/overview?range=24h").json()

    assert body["range"] == "24h"
    assert set(body["overview"]) >= {"generated_at", "status", "summary", "processes", "tiles", "health", "alerts"}
    assert "http.rps" in body["series"]


def test_the_page_and_its_format_json_twin_agree(staff_client):
    assert (
        staff_client.get("/ops/?format=json", follow=True).json().keys()
        == staff_client.get("/api/ops/overview").json().keys()
    )


def test_an_unknown_range_is_a_400_naming_it(staff_client):
    response = staff_client.get("/ops/?range=5y")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"range": "unknown range '5y'"}


def test_the_range_is_kept_in_the_page(staff_client):
    page = staff_client.get("/ops/?range=7d").content.decode()

    assert 'data-range="7d"' in page
    assert '<a href="?range=7d" aria-current="page">' in page


def test_unknown_numbers_render_as_a_dash_never_a_zero(staff_client):
    page = staff_client.get("/ops/").content.decode()

    assert '<span class="value">—</span>' in page


def test_empty_states_say_what_they_mean(staff_client):
    page = staff_client.get("/ops/").content.decode()

    assert "No alerts firing — good." in page


def test_every_figure_the_console_promises_has_its_sparkline(staff_client):
    drawn = _sparklines(staff_client.get("/ops/").content.decode())

    assert set(drawn) >= PROMISED_SPARKLINES
    assert len(drawn) == len(set(drawn))  # one sparkline per figure


def test_every_sparkline_draws_a_series_the_sampler_stores(staff_client):
    drawn = set(_sparklines(staff_client.get("/ops/").content.decode()))

    assert drawn <= set(overview_series(console_overview()))


def test_the_page_carries_the_history_of_every_sparkline_it_draws(staff_client):
    drawn = set(_sparklines(staff_client.get("/ops/").content.decode()))

    assert set(SPARKLINE_SERIES) == drawn
    assert set(staff_client.get("/api/ops/overview?range=1h").json()["series"]) == drawn


def test_the_live_frame_carries_the_next_point_of_every_sparkline(staff_client):
    frame = staff_client.get("/ops/live").json()

    assert set(SPARKLINE_SERIES) <= set(frame["series"])
    assert frame["series"]["postgres_connections.total"] >= 1


def test_the_live_frame_is_the_sockets_frame_with_the_pages_regions(staff_client):
    frame = staff_client.get("/ops/live").json()

    assert frame["type"] == "ops.overview"
    assert set(frame["html"]) == {"banner", "summary", "tiles"}
    assert frame["data"].keys() == console_overview().keys()


def test_the_alerts_page_has_a_json_twin(staff_client):
    body = staff_client.get("/api/ops/alerts").json()

    assert body["alerts"] == [] or {"rule", "state", "since"} <= set(body["alerts"][0])
    assert "summary" in body["overview"]


def test_the_audit_page_lists_operator_actions_newest_first(staff_client):
    audit_record(actor=None, action="deadletter.replay", target="dead letter 1", outcome="succeeded")
    audit_record(actor=None, action="query.cancel", target="pid 42", outcome="refused")

    body = staff_client.get("/api/ops/audit").json()
    page = staff_client.get("/ops/audit").content.decode()

    assert [a["action"] for a in body["actions"][:2]] == ["query.cancel", "deadletter.replay"]
    assert "pid 42" in page


def test_the_audit_page_says_when_nothing_was_done(staff_client):
    assert "No operator has acted yet" in staff_client.get("/ops/audit").content.decode()


def test_the_admin_index_links_to_the_console(staff_client):
    assert 'href="/ops/"' in staff_client.get("/admin/").content.decode()


def test_console_pages_link_back_to_the_admin(staff_client):
    assert 'href="/admin/"' in staff_client.get("/ops/").content.decode()
