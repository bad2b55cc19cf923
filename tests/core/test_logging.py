"""Structured logs: with MLGOV_LOG_FORMAT=json every log line is one JSON object carrying the
request id that the response answers in X-Request-ID, and each request logs one line with its
method, path, status and duration."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.core import request_context
from apps.core.logging import JsonFormatter, RequestIdFilter

BASE_DIR = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: LOGGING is read once, when Django starts, from the environment.
REQUESTS_SCRIPT = """
import json, sys
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.test import Client
client = Client()
answers = []
for path, request_id in (("/api/v1/no-such-thing/?token=secret", "ci-run-42.step_7"),
                         ("/accounts/login/", None), ("/healthz", "not a valid id!")):
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    response = client.get(path, **headers)
    answers.append({"path": path.split("?")[0], "status": response.status_code,
                    "request_id": response["X-Request-ID"]})
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    """Three requests made by a Django started with MLGOV_LOG_FORMAT=json: (answers, log lines).

    Its database is a SQLite file of its own (the requests need no tables), never the suite's.
    """
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update({"MLGOV_LOG_FORMAT": "json", "MLGOV_LOG_LEVEL": "INFO",
                "DJANGO_SETTINGS_MODULE": "mlgov.settings.test",
                "MLGOV_DATA_DIR": str(tmp_path_factory.mktemp("json-logs"))})
    done = subprocess.run(
        [sys.executable, "-c", REQUESTS_SCRIPT], cwd=BASE_DIR, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return answers, lines


def test_every_log_line_is_one_json_object(json_run):
    _answers, lines = json_run
    assert lines, "the requests logged nothing"
    for line in lines:
        record = json.loads(line)  # fails on any line that is not exactly one JSON object
        assert isinstance(record, dict)
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), record


def test_each_request_logs_one_line_under_the_id_it_answers(json_run):
    answers, lines = json_run
    records = [json.loads(line) for line in lines]
    request_lines = [r for r in records if r["logger"] == "mlgov.request"]
    assert len(request_lines) == len(answers)
    for answer, record in zip(answers, request_lines, strict=True):
        assert record["request_id"] == answer["request_id"]
        assert record["method"] == "GET"
        assert record["path"] == answer["path"]  # no query string: it may hold secrets
        assert record["status"] == answer["status"]
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    assert "secret" not in "\n".join(lines)


def test_request_ids_come_from_the_client_when_well_formed(json_run):
    answers, lines = json_run
    not_found, login, health = answers
    assert not_found["request_id"] == "ci-run-42.step_7"
    assert not_found["status"] == 404
    assert len(login["request_id"]) == 32  # made here (uuid4 hex)
    assert health["request_id"] != "not a valid id!" and len(health["request_id"]) == 32
    # Django's own warning about the 404 carries the same id as the request line.
    warning = [json.loads(line) for line in lines if "Not Found" in line]
    assert warning and all(w["request_id"] == "ci-run-42.step_7" for w in warning)


def _format(record: logging.LogRecord) -> dict:
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_formatter_keeps_an_exception_on_one_line_and_standard_keys_win():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None,
                                   sys.exc_info())
    record.fields = {"level": "forged", "status": 500}
    token = request_context.bind(request_id="abc")
    try:
        payload = _format(record)
    finally:
        request_context.reset(token)
    assert payload["request_id"] == "abc"
    assert payload["level"] == "ERROR" and payload["status"] == 500
    assert "ValueError: boom" in payload["exception"]


def test_outside_a_request_the_id_is_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "beat", None, None)
    assert _format(record)["request_id"] == "-"
