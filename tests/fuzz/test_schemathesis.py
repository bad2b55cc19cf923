"""Property-based fuzzing of the whole API against its own live OpenAPI document (schemathesis).

A real server (pytest-django's `live_server`) holds a seeded world: two teams, one user per role,
and in team A one of every governed object, built through the services (tests/authz/world.py).
The schema is read from that server at `/api/v1/schema/` as a client would read it, and every
operation in it gets a bounded number of generated requests, sent over HTTP as team A's data
scientist (a role with no two-factor requirement, through an API token):

- valid requests (what the schema allows) with path ids of real objects of team A, so that
  requests reach the code past the lookups, and with generated ids;
- invalid requests (a field of the wrong type, a missing required field...), which must be
  refused with a documented 4xx.

Each response must pass three schemathesis checks: `not_a_server_error` (never a 5xx),
`status_code_conformance` (the status is one the operation documents, error answers included)
and `response_schema_conformance` (the body matches the documented shape of that status, error
bodies included). Nothing is skipped: operations that destroy (DELETE, retire, cancel...) run
after the ones that read, so that reads still find the seeded objects.

Generation is derandomized (the same requests on every run) and bounded by
`MLGOV_FUZZ_EXAMPLES` per operation (default 20). The run prints the operations fuzzed, the
requests sent and the failures found; any failure fails the test with a curl line to replay it.
"""

import os
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import services as account_services
from apps.threats.models import Tactic
from tests.authz.world import DATA_SCIENTIST, World, build_world

# Hypothesis keeps caches in ./.hypothesis by default: keep the checkout clean.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="mlgov-hypothesis-"))
MAX_EXAMPLES = int(os.environ.get("MLGOV_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Reads first, then writes, then deletions: a deletion must not hide objects from later reads.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
# Distinct failures shown in the assertion message (all are counted).
SHOWN_FAILURES = 25
RESPONSE_LINE = re.compile(r"^\s*\[\d{3}\] ", re.MULTILINE)


def _known_path_parameters(world: World) -> dict[str, dict[str, object]]:
    """Path parameters naming real objects of team A, by the collection in the path."""
    technique = world.assessment.technique.atlas_id
    return {
        "applied-mitigations": {"id": world.applied.pk},
        "atlas/mitigations": {"atlas_id": world.applied.mitigation.atlas_id},
        "atlas/tactics": {"atlas_id": Tactic.objects.order_by("matrix_order").first().atlas_id},
        "atlas/techniques": {"atlas_id": technique},
        "audit-entries": {"seq": world.audit_entry.seq},
        "dataset-versions": {"id": world.dataset_version.pk},
        "datasets": {"id": world.dataset.pk},
        "deployments": {"id": world.deployment.pk},
        "evidence": {"id": world.evidence.pk},
        "findings": {"id": world.finding.pk},
        "lineage-links": {"id": world.lineage.pk},
        "model-versions": {"id": world.model_version.pk},
        "models": {"id": world.model.pk},
        "policies": {"id": world.policy.pk},
        "risk-acceptances": {"id": world.acceptance.pk},
        "scans": {"id": world.scan.pk},
        "teams": {"id": world.team.pk},
        "threat-assessments": {"id": world.assessment.pk},
        "threat-suggestions": {"id": world.suggestion.pk},
    }


def _collection(path: str) -> str:
    """The collection a path is in: `/api/v1/models/{id}/` -> `models`; the ATLAS catalogue
    has three, `/api/v1/atlas/tactics/{atlas_id}/` -> `atlas/tactics`."""
    parts = [part for part in path.removeprefix("/api/v1/").split("/") if part]
    if parts and parts[0] == "atlas":
        return "/".join(parts[:2])
    return parts[0] if parts else ""


@dataclass
class OperationResult:
    label: str
    examples: int = 0
    anonymous: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _known_fields(world: World) -> dict[str, object]:
    """Body and query fields that name objects, with real ones of team A (or, for the ATLAS
    fields, ones that team A's model has not used yet), so that writes can succeed."""
    return {
        "team": world.team.pk,
        "model": world.model.pk,
        "dataset": world.dataset.pk,
        "deployment": world.deployment.pk,
        "model_version": world.model_version.pk,
        "dataset_version": world.dataset_version.pk,
        "assessment": world.assessment.pk,
        "applied_mitigation": world.applied.pk,
        "scan": world.finished_scan.pk,
        "technique": world.free_techniques[0],
        "mitigation": "AML.M0000",
        "models": world.model.pk,
        "datasets": world.dataset.pk,
        "assessments": world.assessment.pk,
        "suggestions": world.suggestion.pk,
    }


def _use_known_ids(case, fields: dict[str, object]):
    """Point the id fields a generated request carries at real objects (lists get one)."""
    for container in (case.body, case.query):
        if not isinstance(container, dict):
            continue
        for name, value in fields.items():
            if name in container:
                container[name] = [value] if isinstance(container[name], list) else value
    return case


def _strategy(operation, paths: dict[str, dict[str, object]], fields: dict[str, object]):
    """Valid requests on real objects and on generated ids, and invalid requests."""
    names = {parameter.name for parameter in operation.path_parameters}
    ids = {name: value for name, value in paths.get(_collection(operation.path), {}).items()
           if name in names}
    positive = operation.as_strategy(path_parameters=ids)
    return st.one_of(
        positive.map(lambda case: _use_known_ids(case, fields)),
        positive,
        operation.as_strategy(),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=ids),
    )


def _call_and_check(case, *, base_url: str, session, result: OperationResult) -> None:
    try:
        response = case.call(base_url=base_url, session=session)
    except requests.RequestException as exc:
        result.failures.append(f"no answer: {exc!r}\n{case.as_curl_command()}")
        return
    result.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - a check failed: record it
        result.failures.append(str(exc))


def _fuzz_operation(operation, *, base_url: str, session, paths, fields) -> OperationResult:
    """Send the operation's generated requests; the first one also without credentials, so
    that the documented 401 (or, for token login, the normal answer) is checked too."""
    result = OperationResult(label=operation.label)
    anonymous = requests.Session()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # Failures are collected, not raised: no shrinking, and every example is a request.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, paths, fields))
    def run(case):
        result.examples += 1
        _call_and_check(case, base_url=base_url, session=session, result=result)
        if not result.anonymous:
            result.anonymous += 1
            _call_and_check(case, base_url=base_url, session=anonymous, result=result)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - generation itself failed: a schema problem
        result.failures.append(f"could not generate requests: {exc!r}")
    return result


def _distinct(failures: list[str]) -> list[str]:
    """One failure per kind: a report up to the response it shows (`[404] Not Found:`)."""
    seen, distinct = set(), []
    for failure in failures:
        key = RESPONSE_LINE.split(failure, maxsplit=1)[0].strip()
        if key not in seen:
            seen.add(key)
            distinct.append(failure)
    return distinct


def _summary(results: list[OperationResult], seconds: float) -> str:
    lines = [f"{'operation':<58} {'examples':>8} {'failures':>8}  statuses"]
    for r in results:
        statuses = " ".join(f"{code}x{n}" for code, n in sorted(r.statuses.items()))
        lines.append(f"{r.label:<58} {r.examples:>8} {len(r.failures):>8}  {statuses}")
    failed = [r for r in results if r.failures]
    examples = sum(r.examples for r in results)
    lines.append(
        f"schemathesis: {len(results)} operations fuzzed, {examples} examples "
        f"(at most {MAX_EXAMPLES} per operation) + {sum(r.anonymous for r in results)} "
        f"without credentials, {sum(len(r.failures) for r in results)} failures in "
        f"{len(failed)} operations, {seconds:.0f} s"
    )
    return "\n".join(lines)


def test_api_survives_schemathesis(transactional_db, live_server, capsys):
    world = build_world()
    user = world.user(DATA_SCIENTIST)
    paths, fields = _known_path_parameters(world), _known_fields(world)
    base_url = live_server.url

    _info, raw = account_services.token_create(user=user, name="fuzz", read_only=False)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {raw}"
    schema = schemathesis.openapi.from_url(
        f"{base_url}/api/v1/schema/?format=json", headers=dict(session.headers), timeout=60
    )
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (METHOD_ORDER.get(op.method.upper(), 1), op.path, op.method),
    )
    assert len(operations) >= 80, "the live schema lists fewer operations than the API has"

    started = time.monotonic()
    results = []
    for operation in operations:
        # A fresh token per operation: an operation that revokes tokens cannot blind the rest.
        _info, raw = account_services.token_create(user=user, name="fuzz", read_only=False)
        session.headers["Authorization"] = f"Token {raw}"
        results.append(
            _fuzz_operation(
                operation, base_url=base_url, session=session, paths=paths, fields=fields
            )
        )
    summary = _summary(results, time.monotonic() - started)
    with capsys.disabled():
        print("\n" + summary)

    assert all(r.examples > 0 for r in results), "an operation got no request"
    failures = [f"{r.label}\n{text}" for r in results for text in _distinct(r.failures)]
    assert not failures, (
        f"{len(failures)} distinct failures:\n\n" + "\n\n".join(failures[:SHOWN_FAILURES])
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/models/{id}/", "models"),
        ("/api/v1/atlas/tactics/{atlas_id}/", "atlas/tactics"),
        ("/api/v1/threat-assessments/bulk/", "threat-assessments"),
    ],
)
def test_collection_names_the_resource_of_a_path(path, expected):
    assert _collection(path) == expected
