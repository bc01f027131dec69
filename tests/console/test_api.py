"""The console's JSON twins as operations of the one API: documented under "console", opened by a staff session."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from apps.apiclients.models import ApiScope
from tests.apiclients.factories import ApiClientFactory, bearer
from tests.factories import PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db

TWINS = [
    "/api/ops/overview",
    "/api/ops/alerts",
    "/api/ops/audit",
    "/api/ops/database",
    "/api/ops/workers",
    "/api/ops/dead-letters",
    "/api/ops/realtime",
    "/api/ops/payments",
]
OPERATIONS = {
    *TWINS,
    "/api/ops/dead-letters/jobs/{job_id}",
    "/api/ops/payments/{payment_id}",
    "/api/ops/drills",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator_client() -> Client:
    """Staff, not superuser, in the seeded read-only "operators" group."""
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="operators"))
    return _client(user)


def _console_operations(schema: dict) -> dict[str, dict]:
    return {
        path: operation
        for path, methods in schema["paths"].items()
        for operation in methods.values()
        if "console" in operation.get("tags", [])
    }


def test_every_twin_is_in_the_schema_under_the_console_tag():
    schema = Client().get("/api/schema").json()

    assert set(_console_operations(schema)) == OPERATIONS
    assert "console" in {tag["name"] for tag in schema["tags"]}


def test_the_twins_document_the_staff_session_and_its_refusals():
    schema = Client().get("/api/schema").json()

    for path, operation in _console_operations(schema).items():
        assert operation["security"] == [{"StaffSession": []}], path
        assert {"200", "400", "401", "403", "503"} <= set(operation["responses"]), path
    scheme = schema["components"]["securitySchemes"]["StaffSession"]
    assert (scheme["type"], scheme["in"]) == ("apiKey", "cookie")


@pytest.mark.parametrize("path", TWINS)
def test_a_superuser_reads_every_twin(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 200, response.content
    assert "summary" in response.json().get("overview", {"summary": "payments search has no summary bar"})


@pytest.mark.parametrize("path", TWINS)
def test_an_operator_in_the_operators_group_reads_every_twin(operator_client, path):
    assert operator_client.get(path).status_code == 200


def test_staff_without_view_console_get_a_403_naming_the_permission():
    response = _client(UserFactory(is_staff=True)).get("/api/ops/overview")

    assert response.status_code == 403
    assert response.json()["error"]["permission"] == "console.view_console"


def test_an_api_token_does_not_open_a_twin():
    token = ApiClientFactory(scopes=list(ApiScope.values)).token

    response = Client().get("/api/ops/overview", headers=bearer(token))

    assert response.status_code == 401
    assert "console session" in response.json()["error"]["message"]


def test_a_pages_format_json_redirects_to_its_twin_with_the_rest_of_its_query(staff_client):
    response = staff_client.get("/ops/", {"range": "24h", "format": "json"})

    assert response.status_code == 302
    assert response["Location"] == "/api/ops/overview?range=24h"


def test_a_pages_format_json_names_its_object_in_the_twins_path(staff_client):
    payment = PaymentFactory()

    response = staff_client.get(f"/ops/payments/{payment.id}", {"format": "json"})

    assert response["Location"] == f"/api/ops/payments/{payment.id}"


def test_the_overview_twin_keeps_the_range_it_was_asked_for(staff_client):
    assert staff_client.get("/api/ops/overview", {"range": "7d"}).json()["range"] == "7d"


def test_an_unknown_range_is_a_400_naming_it(staff_client):
    response = staff_client.get("/api/ops/overview", {"range": "5y"})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"range"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("status", "bogus"), ("since", "1y"), ("task", "<script>"), ("q", "x" * 256), ("reason", "poisonÚ")],
)
def test_a_dead_letter_filter_the_page_would_refuse_is_a_400_naming_it(staff_client, name, value):
    response = staff_client.get("/api/ops/dead-letters", {name: value})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {name}


@pytest.mark.parametrize("query", ["x" * 129, "nul\x00byte"])
def test_a_search_the_timeline_cannot_run_is_a_400(staff_client, query):
    response = staff_client.get("/api/ops/payments", {"q": query})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"q"}


def test_a_blank_search_is_no_search(staff_client):
    assert staff_client.get("/api/ops/payments", {"q": "  "}).json() == {"query": "  ", "results": None}


@pytest.mark.parametrize(
    "path", ["/api/ops/payments/0", "/api/ops/dead-letters/jobs/999999", "/api/ops/payments/999999"]
)
def test_an_object_that_is_not_there_is_a_404(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_actions_are_not_api_operations(staff_client):
    assert staff_client.post("/api/ops/workers/control").status_code == 404


@pytest.mark.parametrize(
    "page",
    ["/ops/", "/ops/alerts", "/ops/audit", "/ops/database", "/ops/workers", "/ops/dead-letters", "/ops/realtime"],
)
def test_every_pages_json_link_opens_its_twin(staff_client, page):
    link = re.search(r'class="json" href="([^"]+)"', staff_client.get(page).content.decode())[1]

    response = staff_client.get(html.unescape(link))

    assert link.startswith("/api/ops/")
    assert response.status_code == 200 and "overview" in response.json()


def test_the_drills_twin_is_not_found_while_drills_are_off(staff_client, settings):
    settings.OPS_FAULT_DRILLS = False

    response = staff_client.get("/api/ops/drills")

    assert response.status_code == 404 and "OPS_FAULT_DRILLS" in response.json()["error"]["message"]
