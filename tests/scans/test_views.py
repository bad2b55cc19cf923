"""The scan pages: who sees what, starting and cancelling scans, triage, asset pages, queries."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.scans.choices import FindingStatus, ScanStatus
from apps.scans.models import ScanRun
from apps.scans.scanners import scanners_for
from tests.registry.factories import ModelVersionFactory
from tests.scans.factories import FindingFactory, ScanRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_as():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def version(model):
    return ModelVersionFactory(model=model)


@pytest.fixture
def run(version):
    return ScanRunFactory(model_version=version, status=ScanStatus.RUNNING, progress=40)


@pytest.fixture
def item(run):
    return FindingFactory(scan=run, title="Unpinned numpy")


def page_urls(run, item):
    return [
        reverse("scans:scan-list"),
        reverse("scans:scan-detail", args=[run.pk]),
        reverse("scans:finding-list"),
        reverse("scans:finding-detail", args=[item.pk]),
        reverse("scans:scan-create") + f"?model_version={run.model_version_id}",
    ]


def test_anonymous_is_sent_to_login(run, item):
    for url in page_urls(run, item):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))


def test_outsider_gets_404_for_another_teams_scan_and_finding(client_as, outsider, run, item):
    client = client_as(outsider)
    for url in page_urls(run, item)[1:2] + page_urls(run, item)[3:]:
        assert client.get(url).status_code == 404, url
    assert "Unpinned numpy" not in client.get(reverse("scans:finding-list")).content.decode()


def test_scan_page_has_a_live_progress_bar_without_inline_script(client_as, data_scientist,
                                                                  run, item):
    response = client_as(data_scientist).get(reverse("scans:scan-detail", args=[run.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-scan-progress="/api/v1/scans/{run.pk}/"' in html
    assert '<progress max="100" value="40"' in html
    assert "scans/js/scan_progress.js" in html
    assert "<script>" not in html and "<script >" not in html
    assert "Unpinned numpy" in html  # the findings table
    assert "Cancel scan" in html


def test_finished_scan_page_does_not_poll(client_as, auditor, version):
    done = ScanRunFactory(model_version=version, status=ScanStatus.SUCCEEDED)
    html = client_as(auditor).get(reverse("scans:scan-detail", args=[done.pk])).content.decode()
    assert "scan_progress.js" not in html
    assert "Cancel scan" not in html
    assert "No findings." in html


class TestStartScanPage:
    def test_form_offers_the_applicable_scanners(self, client_as, data_scientist, version):
        response = client_as(data_scientist).get(
            reverse("scans:scan-create"), {"model_version": version.pk})
        html = response.content.decode()
        assert response.status_code == 200
        for name in scanners_for("model_version"):
            assert f'value="{name}"' in html
        assert 'name="param_expected_sha256"' in html

    def test_post_queues_the_scan_and_shows_it(self, client_as, data_scientist, version):
        response = client_as(data_scientist).post(reverse("scans:scan-create"), {
            "model_version": version.pk, "scanners": ["integrity"],
            "param_expected_sha256": "",
        })
        run = ScanRun.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("scans:scan-detail", args=[run.pk])
        assert run.scanners == ["integrity"]
        assert run.created_by == data_scientist

    def test_bad_input_shows_the_form_with_the_error(self, client_as, data_scientist, version):
        response = client_as(data_scientist).post(reverse("scans:scan-create"), {
            "model_version": version.pk, "scanners": ["integrity"],
            "param_expected_sha256": "not-a-digest",
        })
        assert response.status_code == 400
        assert "64 hexadecimal" in response.content.decode()
        assert not ScanRun.objects.exists()

    def test_auditor_is_refused_and_outsider_gets_404(self, client_as, auditor, outsider,
                                                        version):
        url = reverse("scans:scan-create")
        assert client_as(auditor).get(url, {"model_version": version.pk}).status_code == 403
        assert client_as(auditor).post(url, {"model_version": version.pk,
                                             "scanners": ["integrity"]}).status_code == 403
        assert client_as(outsider).get(url, {"model_version": version.pk}).status_code == 404
        assert client_as(outsider).get(url, {"model_version": "x"}).status_code == 404
        assert client_as(outsider).get(url).status_code == 404
        assert not ScanRun.objects.exists()


class TestCancelPage:
    def test_data_scientist_cancels(self, client_as, data_scientist, run):
        response = client_as(data_scientist).post(reverse("scans:scan-cancel", args=[run.pk]))
        assert response.status_code == 302
        assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.CANCELLED

    def test_auditor_403_outsider_404_get_405(self, client_as, auditor, outsider, run):
        url = reverse("scans:scan-cancel", args=[run.pk])
        assert client_as(auditor).post(url).status_code == 403
        assert client_as(outsider).post(url).status_code == 404
        assert client_as(auditor).get(url).status_code == 405
        assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.RUNNING


class TestTriagePage:
    def test_compliance_officer_sees_the_form_and_decides(self, client_as, compliance_officer,
                                                          item):
        client = client_as(compliance_officer)
        detail = client.get(reverse("scans:finding-detail", args=[item.pk])).content.decode()
        assert 'data-testid="triage-form"' in detail
        expiry = (date.today() + timedelta(days=30)).isoformat()
        response = client.post(reverse("scans:finding-triage", args=[item.pk]), {
            "status": "accepted", "reason": "Vendored copy", "expires_at": expiry,
        })
        assert response.status_code == 302
        item.refresh_from_db()
        assert item.status == FindingStatus.ACCEPTED
        assert item.triage_expires_at.date().isoformat() == expiry

    def test_invalid_decision_is_shown_with_400(self, client_as, compliance_officer, item):
        response = client_as(compliance_officer).post(
            reverse("scans:finding-triage", args=[item.pk]), {"status": "accepted",
                                                              "reason": "x"})
        assert response.status_code == 400
        assert "needs an expiry" in response.content.decode()

    def test_data_scientist_sees_no_form_and_is_refused(self, client_as, data_scientist, item):
        client = client_as(data_scientist)
        detail = client.get(reverse("scans:finding-detail", args=[item.pk])).content.decode()
        assert 'data-testid="triage-form"' not in detail
        response = client.post(reverse("scans:finding-triage", args=[item.pk]),
                               {"status": "false_positive", "reason": "mine"})
        assert response.status_code == 403
        item.refresh_from_db()
        assert item.status == FindingStatus.OPEN


def test_version_page_shows_latest_scans_and_start_button(client_as, data_scientist, auditor,
                                                          version):
    old = ScanRunFactory(model_version=version, scanners=["integrity"])
    new = ScanRunFactory(model_version=version, scanners=["integrity"],
                         status=ScanStatus.FAILED)
    FindingFactory(scan=old, severity="critical")
    html = client_as(data_scientist).get(version.get_absolute_url()).content.decode()
    assert 'data-testid="asset-scans"' in html
    assert f"Scan #{new.pk}" in html and f"Scan #{old.pk}" not in html
    assert "Never scanned" in html  # supply-chain has not run on this version
    assert 'data-testid="start-scan"' in html
    assert "1 open" in html
    auditor_html = client_as(auditor).get(version.get_absolute_url()).content.decode()
    assert 'data-testid="start-scan"' not in auditor_html


@pytest.mark.parametrize("url_name", ["scans:scan-list", "scans:finding-list"])
def test_list_pages_query_count_does_not_grow(client_as, data_scientist, model, url_name):
    client = client_as(data_scientist)
    counts = []
    for total in (2, 20):
        while ScanRun.objects.count() < total:
            FindingFactory(scan__model_version=ModelVersionFactory(model=model),
                           scan__created_by=data_scientist)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(url_name))
        assert response.status_code == 200
        assert response.context["page_obj"].paginator.count == total
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_list_filters(client_as, data_scientist, version):
    ScanRunFactory(model_version=version, status=ScanStatus.FAILED)
    ScanRunFactory(model_version=version, status=ScanStatus.SUCCEEDED)
    ScanRunFactory(model_version=ModelVersionFactory(model=version.model))
    client = client_as(data_scientist)
    page = client.get(reverse("scans:scan-list"), {"status": "failed"}).context["page_obj"]
    assert [r.status for r in page] == ["failed"]
    page = client.get(reverse("scans:scan-list"), {"model_version": version.pk}).context[
        "page_obj"]
    assert page.paginator.count == 2
    assert client.get(reverse("scans:scan-list"), {"model_version": "9" * 40}).status_code == 200


def test_read_only_pages_refuse_other_methods(client_as, compliance_officer, run, item):
    client = client_as(compliance_officer)
    for url in page_urls(run, item)[:4]:
        assert client.post(url).status_code == 405, url
        assert client.delete(url).status_code == 405, url
