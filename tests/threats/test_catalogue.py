"""The shipped ATLAS 5.6.0 catalogue, its fixture, its parser, its permissions and its web page."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts import permissions as perms
from apps.threats.atlas_import import (
    SHIPPED_FIXTURE,
    AtlasFormatError,
    load_shipped_catalogue,
    parse_atlas,
)
from apps.threats.models import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)
from apps.threats.services import catalogue_import, catalogue_install_shipped
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

# --- The shipped catalogue ----------------------------------------------------------------------


def test_migrate_installs_the_shipped_atlas_5_6_0_catalogue():
    assert Tactic.objects.count() == 16
    assert Technique.objects.filter(parent__isnull=True).count() == 101
    assert Technique.objects.filter(parent__isnull=False).count() == 69
    assert Mitigation.objects.count() == 35
    # 246 entries under `techniques` + 2 misplaced under `ml-lifecycle` = 248 entries; two of
    # them repeat a pair (AML.M0002 and AML.M0004 -> AML.T0043.001), so 246 distinct links.
    assert MitigationTechnique.objects.count() == 246
    version = CatalogueVersion.objects.get()
    assert (version.version, version.source) == ("5.6.0", CatalogueVersion.SHIPPED)
    assert (version.tactic_count, version.technique_count, version.subtechnique_count) == (
        16,
        101,
        69,
    )
    assert (version.mitigation_count, version.link_count) == (35, 246)
    assert not Technique.objects.filter(is_retired=True).exists()


def test_shipped_catalogue_carries_no_mitre_prose():
    assert not Tactic.objects.exclude(description="").exists()
    assert not Technique.objects.exclude(description="").exists()
    assert not Mitigation.objects.exclude(description="").exists()
    assert not MitigationTechnique.objects.exclude(use="").exists()
    text = SHIPPED_FIXTURE.read_text(encoding="utf-8")
    assert '"description"' not in text
    assert '"use"' not in text
    assert "ml-lifecycle" in text  # the layout is ATLAS's own


def test_shipped_catalogue_recovers_the_links_misplaced_in_ml_lifecycle():
    linked = MitigationTechnique.objects.filter(technique__atlas_id="AML.T0052.001")
    assert {"AML.M0018", "AML.M0034"} <= set(linked.values_list("mitigation__atlas_id", flat=True))
    for mitigation in Mitigation.objects.filter(atlas_id__in=["AML.M0018", "AML.M0034"]):
        assert all(isinstance(phase, str) for phase in mitigation.ml_lifecycle)


def test_shipped_catalogue_matches_the_official_atlas_yaml(atlas_reference_document):
    matrix = atlas_reference_document["matrices"][0]
    assert CatalogueVersion.objects.get().version == str(atlas_reference_document["version"])

    tactics = list(Tactic.objects.order_by("matrix_order"))
    assert [(t.atlas_id, t.name) for t in tactics] == [
        (t["id"], t["name"]) for t in matrix["tactics"]
    ]
    assert [t.attack_id for t in tactics] == [
        t.get("ATT&CK-reference", {}).get("id", "") for t in matrix["tactics"]
    ]

    raw = {t["id"]: t for t in matrix["techniques"]}
    stored = {
        t.atlas_id: t
        for t in Technique.objects.select_related("parent").prefetch_related("tactics")
    }
    assert set(stored) == set(raw)
    for atlas_id, technique in stored.items():
        source = raw[atlas_id]
        parent_id = source.get("subtechnique-of")
        tactic_ids = raw[parent_id]["tactics"] if parent_id else source["tactics"]
        assert technique.name == source["name"], atlas_id
        assert (technique.parent.atlas_id if technique.parent else None) == parent_id, atlas_id
        assert {t.atlas_id for t in technique.tactics.all()} == set(tactic_ids), atlas_id
        assert technique.maturity == source.get("maturity", ""), atlas_id
        assert technique.attack_id == source.get("ATT&CK-reference", {}).get("id", ""), atlas_id

    expected_links = set()
    for source in matrix["mitigations"]:
        mitigation = Mitigation.objects.get(atlas_id=source["id"])
        assert mitigation.name == source["name"]
        assert mitigation.category == source["category"]
        assert mitigation.ml_lifecycle == [p for p in source["ml-lifecycle"] if isinstance(p, str)]
        misplaced = [p for p in source["ml-lifecycle"] if isinstance(p, dict)]
        for link in source["techniques"] + misplaced:
            expected_links.add((source["id"], link["id"]))
    stored_links = set(
        MitigationTechnique.objects.values_list("mitigation__atlas_id", "technique__atlas_id")
    )
    assert stored_links == expected_links
    assert len(expected_links) == 246


def test_committed_fixture_is_what_the_build_script_makes(atlas_reference, tmp_path):
    from scripts.build_atlas_fixture import main

    rebuilt = tmp_path / "fixture.json"
    assert main(["--source", str(atlas_reference), "--output", str(rebuilt)]) == 0
    assert rebuilt.read_text(encoding="utf-8") == SHIPPED_FIXTURE.read_text(encoding="utf-8")
    assert (
        main(["--source", str(atlas_reference), "--output", str(SHIPPED_FIXTURE), "--check"]) == 0
    )


def test_build_script_check_reports_a_stale_fixture(atlas_reference, tmp_path):
    from scripts.build_atlas_fixture import main

    stale = tmp_path / "stale.json"
    stale.write_text("{}", encoding="utf-8")
    assert main(["--source", str(atlas_reference), "--output", str(stale), "--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "{}"


def test_installing_the_shipped_catalogue_again_does_nothing(snapshot):
    before = snapshot()
    assert catalogue_install_shipped() is None
    assert snapshot() == before


def test_shipped_catalogue_is_not_installed_over_a_newer_imported_version(mini_atlas):
    catalogue_import(catalogue=parse_atlas(mini_atlas), source="a" * 64)  # version 9.9.0
    CatalogueVersion.objects.filter(source=CatalogueVersion.SHIPPED).delete()
    assert catalogue_install_shipped() is None
    assert Technique.objects.filter(is_retired=False).count() == 3


def test_catalogue_objects_link_to_the_atlas_site():
    assert Tactic.objects.get(atlas_id="AML.TA0002").url == (
        "https://atlas.mitre.org/tactics/AML.TA0002"
    )
    assert Technique.objects.get(atlas_id="AML.T0010.003").url == (
        "https://atlas.mitre.org/techniques/AML.T0010.003"
    )
    assert Mitigation.objects.get(atlas_id="AML.M0000").url == (
        "https://atlas.mitre.org/mitigations/AML.M0000"
    )


def test_subtechnique_takes_its_parents_tactics():
    sub = Technique.objects.get(atlas_id="AML.T0010.003")
    assert sub.is_subtechnique
    assert sub.parent.atlas_id == "AML.T0010"
    assert set(sub.tactics.all()) == set(sub.parent.tactics.all())
    assert sub.tactics.exists()


# --- Parser -------------------------------------------------------------------------------------


def test_parser_merges_a_repeated_link_and_keeps_both_use_texts(mini_atlas):
    links = mini_atlas["matrices"][0]["mitigations"][0]["techniques"]
    links.append({"id": "AML.T0000", "use": "Another way it applies."})
    catalogue = parse_atlas(mini_atlas)
    (link,) = catalogue.mitigations[0].links
    assert link.use == "How it applies.\n\nAnother way it applies."
    assert catalogue.repeated_links == 1


def test_parser_recovers_a_link_misplaced_in_ml_lifecycle(mini_atlas):
    mitigation = mini_atlas["matrices"][0]["mitigations"][0]
    mitigation["ml-lifecycle"].append({"id": "AML.T0002.000", "use": "Misplaced."})
    parsed = parse_atlas(mini_atlas).mitigations[0]
    assert parsed.ml_lifecycle == ("Business and Data Understanding",)
    assert [link.technique_id for link in parsed.links] == ["AML.T0000", "AML.T0002.000"]


def test_parser_reports_every_problem_at_once(mini_atlas):
    matrix = mini_atlas["matrices"][0]
    matrix["techniques"][0]["tactics"] = ["AML.TA0999"]
    matrix["techniques"][2]["subtechnique-of"] = "AML.T0999"
    matrix["mitigations"][0]["techniques"] = [{"id": "AML.T0998"}]
    with pytest.raises(AtlasFormatError) as caught:
        parse_atlas(mini_atlas)
    assert len(caught.value.problems) == 3
    assert "3 problems" in caught.value.message


def test_parser_refuses_a_javascript_attack_url(mini_atlas):
    mini_atlas["matrices"][0]["tactics"][0]["ATT&CK-reference"] = {
        "id": "TA0043",
        "url": "javascript:alert(1)",
    }
    with pytest.raises(AtlasFormatError, match="not an http"):
        parse_atlas(mini_atlas)


def test_shipped_fixture_parses_to_the_expected_counts():
    counts = load_shipped_catalogue().counts()
    assert counts == {
        "tactics": 16,
        "techniques": 101,
        "sub-techniques": 69,
        "mitigations": 35,
        "links": 246,
    }
    assert json.loads(SHIPPED_FIXTURE.read_text(encoding="utf-8"))["version"] == "5.6.0"


# --- Permissions: reference data ----------------------------------------------------------------


@pytest.mark.parametrize(
    "role_fixture", ["data_scientist", "outsider", "compliance_officer", "auditor", "administrator"]
)
def test_every_active_user_reads_the_catalogue(request, role_fixture):
    user = request.getfixturevalue(role_fixture)
    assert perms.scope(Technique.objects.all(), user).count() == 170
    assert perms.scope(Mitigation.objects.all(), user).count() == 35
    assert perms.can(user, perms.VIEW, Tactic.objects.first())


def test_nobody_but_superusers_may_change_the_catalogue(data_scientist, administrator):
    technique = Technique.objects.first()
    for user in (data_scientist, administrator):
        assert not perms.can(user, perms.CHANGE, technique)
        assert not perms.scope(Technique.objects.all(), user, perms.CHANGE).exists()


def test_inactive_and_anonymous_users_read_nothing():
    from django.contrib.auth.models import AnonymousUser

    inactive = UserFactory(is_active=False)
    for user in (inactive, AnonymousUser()):
        assert not perms.scope(Technique.objects.all(), user).exists()
        assert not perms.can(user, perms.VIEW, Technique.objects.first())


# --- Web page -----------------------------------------------------------------------------------


def test_catalogue_page_requires_login(client):
    response = client.get(reverse("threats:catalogue"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_catalogue_page_shows_the_matrix_in_order(client, data_scientist):
    client.force_login(data_scientist)
    response = client.get(reverse("threats:catalogue"))
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'id="{t.atlas_id}"') for t in Tactic.objects.order_by("matrix_order")]
    assert positions == sorted(positions)
    assert "AML.T0010.003" in html
    assert "https://atlas.mitre.org/techniques/AML.T0010.003" in html
    assert "5.6.0" in html
    # A sub-technique is listed under its parent, inside the parent's list item.
    parent_at = html.index(">AML.T0010<")
    assert parent_at < html.index(">AML.T0010.003<")
    assert "<script>" not in html  # no inline scripts


def test_catalogue_page_hides_retired_techniques_unless_asked(client, auditor):
    Technique.objects.filter(atlas_id="AML.T0010.003").update(is_retired=True)
    client.force_login(auditor)
    assert ">AML.T0010.003<" not in client.get(reverse("threats:catalogue")).content.decode()
    shown = client.get(reverse("threats:catalogue"), {"retired": "1"}).content.decode()
    assert ">AML.T0010.003<" in shown
    assert "retired" in shown


def test_catalogue_page_query_count_does_not_grow_with_the_catalogue(
    client, data_scientist, mini_atlas
):
    client.force_login(data_scientist)
    url = reverse("threats:catalogue")
    client.get(url)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as full:
        assert client.get(url).status_code == 200
    # Retire almost everything: the page then lists 3 techniques instead of 170.
    catalogue_import(catalogue=parse_atlas(mini_atlas), source="b" * 64)
    with CaptureQueriesContext(connection) as small:
        html = client.get(url).content.decode()
    assert ">AML.T0002.000<" in html and ">AML.T0010<" not in html
    assert len(small) == len(full)


@pytest.mark.django_db(transaction=True)
def test_catalogue_comes_back_after_a_flush():
    """post_migrate reinstalls it, so transactional tests and `flush` never leave it empty."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert Technique.objects.count() == 170
    assert CatalogueVersion.objects.get().source == CatalogueVersion.SHIPPED
