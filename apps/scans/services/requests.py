"""Requesting scans: validate the target, the scanners and their inputs, check who may start
a scan, create the run and send its task once the transaction commits; cancel; queue periodic
rescans of what serves in production."""

import logging
import uuid
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.services import audit_created, audit_snapshot, audit_updated
from apps.core.exceptions import ApplicationError, NotInScope
from apps.registry.choices import Environment
from apps.registry.models import DatasetVersion, Deployment, ModelVersion, Team
from apps.scans import scanners as registry
from apps.scans.choices import ACTIVE_STATUSES, ScanStatus, ScanTrigger, TargetType
from apps.scans.models import ScanRun
from apps.scans.scanners.base import ScannerInput

logger = logging.getLogger(__name__)

MAX_URLS = 50


def _one_target(**targets) -> tuple[str, Any]:
    given = [(name, obj) for name, obj in targets.items() if obj is not None]
    if len(given) != 1:
        raise ApplicationError(
            "Give exactly one of model_version, dataset_version or deployment.",
            field="model_version",
        )
    return given[0]


def target_team(target_type: str, target) -> Team:
    """The team owning a target (the registry selectors have already joined it)."""
    if target_type == TargetType.MODEL_VERSION:
        return target.model.team
    if target_type == TargetType.DATASET_VERSION:
        return target.dataset.team
    return target.model_version.model.team


# --- Requesting scans ---------------------------------------------------------------------------


def _resolve_scanners(target_type: str, names: list[str] | None) -> list[str]:
    """The scanners to run: the ones asked for (each must exist and accept the target), or
    every scanner that applies."""
    applicable = registry.scanners_for(target_type)
    noun = TargetType(target_type).label.lower()
    if names is None:
        if not applicable:
            raise ApplicationError(f"No scanner applies to a {noun}.", field="scanners")
        return applicable
    if not names:
        raise ApplicationError("Choose at least one scanner.", field="scanners")
    known = registry.registered()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ApplicationError(
            f"Unknown scanner(s): {', '.join(map(str, unknown))}. This installation has: "
            f"{', '.join(known)}.",
            field="scanners",
        )
    refused = [name for name in names if name not in applicable]
    if refused:
        raise ApplicationError(
            f"{', '.join(refused)} cannot scan a {noun}; these can: {', '.join(applicable)}.",
            field="scanners",
        )
    return list(dict.fromkeys(names))


def _clean_sha256(value) -> str:
    digest = str(value).strip().lower().removeprefix("sha256:")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("must be 64 hexadecimal characters")
    return digest


def _clean_url_list(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", "\n").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of URLs")
    if len(value) > MAX_URLS:
        raise ValueError(f"at most {MAX_URLS} URLs")
    for url in value:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
            raise ValueError(f"{url[:100]!r} is not an http(s) URL")
    return value


def _clean_dataset_version(value, actor: User | None) -> int:
    from apps.registry import selectors as registry_selectors

    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ValueError("must be a dataset version id")
    pk = int(str(value).strip())
    if not 0 < pk < 2**63:
        raise ValueError("must be a dataset version id")
    if actor is not None and not registry_selectors.dataset_version_list(user=actor).filter(
        pk=pk
    ).exists():
        raise NotInScope(f"Dataset version {pk} not found.", field="params")
    return pk


def _clean_input(spec: ScannerInput, value, actor: User | None):
    if spec.kind == "sha256":
        return _clean_sha256(value)
    if spec.kind == "url_list":
        return _clean_url_list(value)
    if spec.kind == "dataset_version":
        return _clean_dataset_version(value, actor)
    raise ValueError(f"has an unknown kind {spec.kind!r}")


def clean_params(*, scanner_names: list[str], params, actor: User | None) -> dict[str, Any]:
    """Validate scan parameters against the inputs the chosen scanners declare."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ApplicationError("params must be an object of scanner inputs.", field="params")
    known = registry.registered()
    inputs: dict[str, ScannerInput] = {}
    for name in scanner_names:
        for spec in known[name].inputs:
            inputs.setdefault(spec.name, spec)
    unknown = sorted(set(params) - set(inputs))
    if unknown:
        accepted = ", ".join(sorted(inputs)) or "none"
        raise ApplicationError(
            f"Unknown input(s) for the chosen scanners: {', '.join(map(str, unknown))} "
            f"(accepted: {accepted}).",
            field="params",
        )
    cleaned = {}
    for name, spec in inputs.items():
        value = params.get(name)
        if value in (None, "", []):
            if spec.required:
                raise ApplicationError(f"The input {name} is required.", field="params")
            continue
        try:
            cleaned[name] = _clean_input(spec, value, actor)
        except ValueError as exc:
            raise ApplicationError(f"params.{name} {exc}.", field="params") from None
    return cleaned


def _dispatch(scan_id: int, task_id: str) -> None:
    """Send the scan to the workers (called once the scan row is committed).

    If the broker does not answer, the scan is marked failed with that reason at once rather
    than left queued with no message behind it.
    """
    from apps.scans.tasks import scan_execute_task  # the task module imports this one

    try:
        scan_execute_task.apply_async(args=[scan_id], task_id=task_id)
    except OperationalError as exc:
        logger.error("Could not queue scan %s: %s", scan_id, exc)
        ScanRun.objects.filter(pk=scan_id, status=ScanStatus.QUEUED).update(
            status=ScanStatus.FAILED,
            finished_at=timezone.now(),
            error="The scan could not be queued: the task broker did not answer. "
            "Start it again once the broker is back.",
        )


def _create_run(
    *, target_type: str, target, scanners: list[str], params: dict, trigger: str,
    actor: User | None,
) -> ScanRun:
    run = ScanRun.objects.create(
        **{target_type: target},
        team=target_team(target_type, target),
        scanners=scanners,
        params=params,
        trigger=trigger,
        created_by=actor,
        task_id=str(uuid.uuid4()),
    )
    audit_created(obj=run, actor=actor, fields=["scanners", "params", "trigger", "status"])
    transaction.on_commit(partial(_dispatch, run.pk, run.task_id))
    return run


@transaction.atomic
def scan_request(
    *,
    actor: User,
    model_version: ModelVersion | None = None,
    dataset_version: DatasetVersion | None = None,
    deployment: Deployment | None = None,
    scanners: list[str] | None = None,
    params: dict | None = None,
) -> ScanRun:
    """Queue a scan of one target with the chosen scanners (default: all that apply).

    Data scientists of the owning team and compliance officers may start scans; read-only
    roles get 403, a target outside the caller's scope 404. The task is sent once the
    transaction commits.
    """
    target_type, target = _one_target(
        model_version=model_version, dataset_version=dataset_version, deployment=deployment
    )
    perms.require(actor, perms.VIEW, target)
    perms.require_create(actor, ScanRun, target_team(target_type, target))
    names = _resolve_scanners(target_type, scanners)
    cleaned = clean_params(scanner_names=names, params=params, actor=actor)
    return _create_run(
        target_type=target_type, target=target, scanners=names, params=cleaned,
        trigger=ScanTrigger.MANUAL, actor=actor,
    )


def scan_request_on_register(*, model_version: ModelVersion, actor: User | None) -> ScanRun | None:
    """Queue every applicable scanner over a newly registered model version.

    Called by the registry inside the registration's transaction, so the version and its scan
    are committed together; the task is sent after the commit. The registering user already had
    the right to change the model, so no further check is made.
    """
    names = registry.scanners_for(TargetType.MODEL_VERSION)
    if not names:
        return None
    return _create_run(
        target_type=TargetType.MODEL_VERSION, target=model_version, scanners=names, params={},
        trigger=ScanTrigger.REGISTRATION, actor=actor,
    )


@transaction.atomic
def scans_schedule_production_rescans() -> list[ScanRun]:
    """Queue a rescan of every model version with an active production deployment (periodic).

    New advisories and tampering can appear at any time, so what serves in production is
    scanned again on a schedule. A version that already has a queued or running scan is left
    alone, so a slow queue does not pile up duplicates.
    """
    versions = (
        ModelVersion.objects.filter(
            deployments__environment=Environment.PRODUCTION, deployments__is_active=True
        )
        .select_related("model__team")
        .distinct()
        .order_by("pk")
    )
    busy = set(
        ScanRun.objects.filter(
            status__in=ACTIVE_STATUSES, model_version__in=versions
        ).values_list("model_version_id", flat=True)
    )
    names = registry.scanners_for(TargetType.MODEL_VERSION)
    return [
        _create_run(
            target_type=TargetType.MODEL_VERSION, target=version, scanners=names, params={},
            trigger=ScanTrigger.SCHEDULE, actor=None,
        )
        for version in versions
        if version.pk not in busy and names
    ]


@transaction.atomic
def scan_cancel(*, actor: User, scan: ScanRun) -> ScanRun:
    """Cancel a queued or running scan. A running attempt stops at its next progress report
    or finding, and writes nothing more."""
    perms.require(actor, perms.CHANGE, scan)
    before = audit_snapshot(scan, ["status", "error"])
    updated = ScanRun.objects.filter(pk=scan.pk, status__in=ACTIVE_STATUSES).update(
        status=ScanStatus.CANCELLED,
        finished_at=timezone.now(),
        error=f"Cancelled by {actor.username}.",
    )
    scan.refresh_from_db()
    if not updated:
        raise ApplicationError(
            f"This scan has already {scan.status}; only queued or running scans can be "
            f"cancelled.",
            field="status",
        )
    audit_updated(obj=scan, before=before, actor=actor)
    return scan
