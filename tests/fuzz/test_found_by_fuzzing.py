"""Regressions: inputs that made the server answer 500, found by the fuzzing (and by reading the
code around what it found). Each must now be a clear 4xx, or an ordinary answer.

The family: `str.isdigit()` is true for digits that `int()` refuses ("²", "³"), and an id past
the database's integer range fails in the query. A 300-character file extension broke the
temporary upload file (tests/fuzz/test_upload_fuzz.py covers it).
"""

import pytest

from tests.authz.world import AUDITOR, DATA_SCIENTIST, build_world

pytestmark = pytest.mark.django_db

HUGE = "17911446431137499914726031082127360"  # past 2**63 - 1


@pytest.fixture
def world():
    return build_world()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # found by schemathesis: ?team= past the id range reached the query
        (f"/api/v1/threat-assessments/navigator-layer/?team={HUGE}", 400),
        ("/api/v1/threat-assessments/navigator-layer/?team=\u00b2", 400),
        ("/api/v1/atlas/techniques/\u00b2/", 404),
        ("/api/v1/atlas/tactics/\u00b3/", 404),
        ("/api/v1/atlas/mitigations/\u00b2/", 404),
        (f"/api/v1/atlas/techniques/{HUGE}/", 404),
        ("/api/v1/audit-entries/?actor=\u00b2", 200),
        (f"/api/v1/audit-entries/?actor={HUGE}", 200),
    ],
)
def test_api_reads_answer_unicode_digits_and_huge_ids(world, client_for, path, expected):
    response = client_for(world.user(AUDITOR)).get(path)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        assert response.json()["detail"]


def test_navigator_layer_team_error_names_the_parameter(world, client_for):
    response = client_for(world.user(DATA_SCIENTIST)).get(
        "/api/v1/threat-assessments/navigator-layer/?team=\u00b2"
    )
    assert response.json()["team"] == ["team must be a team id."]


@pytest.mark.parametrize(
    ("resource", "body"),
    [
        ("applied-mitigations", {"owner": "\u00b2"}),
        ("policies", {"grants": [{"permission": "download", "team": "\u00b2"}]}),
    ],
)
def test_api_writes_refuse_unicode_digit_ids(world, client_for, resource, body):
    pk = world.applied.pk if resource == "applied-mitigations" else world.policy.pk
    response = client_for(world.user(DATA_SCIENTIST)).patch(
        f"/api/v1/{resource}/{pk}/", body, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/scans/?model_version=\u00b2", "/scans/findings/?scan_id=\u00b2&model_version=\u00b3",
     "/audit/?actor=\u00b2"],
)
def test_pages_answer_unicode_digits(world, client, path):
    client.force_login(world.user(AUDITOR))
    assert client.get(path).status_code == 200
