"""GET /healthz: public probe answering 200 when web, database and broker answer, 503 naming
what is down, and nothing more."""

import pytest
from django.db import OperationalError

from apps.core import health
from mlgov.celery import app as celery_app

pytestmark = pytest.mark.django_db

URL = "/healthz"


@pytest.fixture
def broker(monkeypatch):
    """Point the Celery app at another broker for one test (the app reads its conf lazily)."""

    def use(url: str, transport_options: dict | None = None) -> None:
        # Celery lets these environment variables win over its configuration (as CI sets them).
        monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
        monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)
        monkeypatch.setitem(celery_app.conf, "broker_write_url", None)
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", transport_options or {})
        celery_app.pool.force_close_all()

    yield use
    celery_app.pool.force_close_all()


def test_healthy_without_credentials(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_configured_filesystem_broker_folders_exist():
    if not celery_app.conf.broker_url.startswith("filesystem://"):
        pytest.skip("a network broker is configured (CELERY_BROKER_URL)")
    assert health._filesystem_broker_ready(celery_app.conf.broker_transport_options)


def test_unreachable_broker_is_503_naming_it(client, broker):
    broker("redis://127.0.0.1:1/0")
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "down": ["broker"]}


def test_missing_filesystem_broker_folder_is_503(client, broker, tmp_path):
    queue = tmp_path / "never-created"
    broker("filesystem://", {"data_folder_in": str(queue), "data_folder_out": str(queue)})
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


def test_present_filesystem_broker_folder_is_healthy(client, broker, tmp_path):
    broker("filesystem://", {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)})
    assert client.get(URL).status_code == 200


def test_database_down_is_503_naming_it(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "down": ["database"]}


def test_only_get_is_allowed(client):
    assert client.post(URL).status_code == 405
