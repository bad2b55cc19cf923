"""A real Celery worker over the real broker: what eager mode hides (serialization, routing).

The worker runs as a subprocess on a queue of its own, so parallel test runs and a developer's
`make run` worker on the same broker never take each other's messages. Locally the broker is the
embedded filesystem one; in CI (CI=true) it must be Redis, so this test cannot pass there on the
embedded broker by accident.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from celery.result import EagerResult
from django.conf import settings
from kombu.exceptions import EncodeError

from apps.core.celery_setup import ensure_broker_folders
from apps.core.health import broker_answers
from apps.core.tasks import ping_task
from mlgov.celery import app as celery_app
from tests.conftest import IN_CI, require_service

WORKER_STOP_TIMEOUT = 20


@contextmanager
def not_eager():
    """Send tasks through the broker for the duration (test settings run them eagerly)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def _worker_env() -> dict[str, str]:
    """The test process's broker, result backend and data folder, for the worker subprocess."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mlgov.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "CELERY_RESULT_BACKEND": celery_app.conf.result_backend,
        "MLGOV_DATA_DIR": str(settings.DATA_DIR),
        # Otherwise the worker's test settings would create a media folder of their own.
        "MLGOV_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(settings.BASE_DIR), os.environ.get("PYTHONPATH", "")) if part
    )
    return env


class Worker:
    """A Celery worker subprocess consuming one queue, logging to a temporary file."""

    def __init__(self):
        name = uuid.uuid4().hex[:12]
        self.queue = f"test-worker-{name}"
        self.log_path = Path(tempfile.mkstemp(prefix="mlgov-worker-", suffix=".log")[1])
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mlgov",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-n",
            f"test-{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            self.queue,
            "--loglevel=INFO",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=_worker_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL if the worker does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)

    @contextmanager
    def log_on_failure(self):
        """Print the worker's log (pytest shows it with the failure) if the block fails."""
        try:
            yield
        except BaseException:
            self.stop()
            print(f"--- worker log (exit code {self.process.returncode}) ---\n{self.log()}")
            raise


def _forget_queue(queue: str) -> None:
    """Drop the unique queue's bindings, so test runs leave nothing behind on the broker."""
    # Best effort: a cleanup failure must not mask the test's own outcome.
    with suppress(Exception), celery_app.connection_for_write() as connection:
        # Bindings are looked up in this connection's state: declare them here, then delete.
        bound = celery_app.amqp.queues.new_missing(queue)(connection.default_channel)
        bound.declare()
        bound.delete()
    control = (celery_app.conf.broker_transport_options or {}).get("control_folder")
    if control:  # the filesystem transport keeps one binding file per exchange
        Path(control, f"{queue}.exchange").unlink(missing_ok=True)


@pytest.fixture
def worker():
    """A real worker on a unique queue; stopped (and its log removed) whatever the outcome."""
    if IN_CI:
        assert celery_app.conf.broker_url.startswith("redis://"), (
            "CI=true must run the worker test on Redis, not on "
            f"{celery_app.conf.broker_url.split('://')[0]}:// (set CELERY_BROKER_URL=redis://...)"
        )
    require_service(
        "Celery broker", broker_answers(), f"{celery_app.conf.broker_url.split('@')[-1]} is down"
    )
    process = Worker()
    try:
        yield process
    finally:
        process.stop()
        process.log_path.unlink(missing_ok=True)
        _forget_queue(process.queue)


@pytest.mark.worker
def test_real_worker_runs_a_task_sent_over_the_broker(worker):
    with worker.log_on_failure():
        with not_eager():
            result = ping_task.apply_async(args=["hello"], queue=worker.queue)
            assert not isinstance(result, EagerResult)
            try:
                payload = result.get(timeout=60)
            finally:
                result.forget()

        assert payload == {"echo": "hello", "worker": socket.gethostname()}
        assert worker.process.poll() is None, "the worker exited while the test needed it"
        # The subprocess, not this process, executed it: its log names this very task id.
        assert f"core.ping[{result.id}]" in worker.log()


def test_task_with_a_non_json_argument_is_refused_before_it_reaches_the_broker():
    """JSON only: an object pickle would accept is refused by the serializer, never sent.

    Serialization happens before the message is published, so no broker is needed;
    `ignore_result` keeps the result backend (which subscribes first on Redis) out of it.
    """
    with not_eager(), pytest.raises(EncodeError, match="not JSON serializable"):
        ping_task.apply_async(
            args=[object()], queue=f"never-consumed-{uuid.uuid4().hex}", ignore_result=True
        )


def test_celery_accepts_and_sends_json_only():
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.result_serializer == "json"


def test_embedded_broker_folders_are_created_on_a_fresh_machine(tmp_path):
    queue_folder = tmp_path / "broker" / "queue"
    conf = {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(queue_folder),
            "data_folder_out": str(queue_folder),
            "processed_folder": str(tmp_path / "broker" / "processed"),
        },
        "result_backend": f"file://{tmp_path / 'results'}",
    }

    ensure_broker_folders(conf)

    for name in ("broker/queue", "broker/processed", "broker/control", "results"):
        assert (tmp_path / name).is_dir(), name
    # Pinned beside the queue, not ./control in whatever directory the process started in.
    assert conf["broker_transport_options"]["control_folder"] == str(tmp_path / "broker/control")


def test_network_brokers_need_no_folders(tmp_path):
    conf = {
        "broker_url": "redis://127.0.0.1:6379/0",
        # Left over from a filesystem set-up: must be ignored for a network broker.
        "broker_transport_options": {"data_folder_in": str(tmp_path / "queue")},
        "result_backend": "redis://127.0.0.1:6379/0",
    }
    assert ensure_broker_folders(conf) == []
    assert list(tmp_path.iterdir()) == []
