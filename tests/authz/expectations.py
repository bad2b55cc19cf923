"""The hand-written table of the authorization matrix: for every URL name and method, the answer
each role must get, the URL arguments (from the world) and a minimal VALID payload, so that an
allowed role reaches its success code and a refused one is refused before its input is judged.

Roles (see world.py): anonymous, data_scientist (member of team A, which owns every object
here), outsider (data scientist of team B), compliance_officer, auditor, administrator.

Answers: an int, a frozenset of ints, or LOGIN (302 to the sign-in page). The rules behind them
come from apps.accounts.permissions: anonymous callers get 401 (API) or the sign-in page; team A's
objects are 404 to the outsider; roles that may not write get 403; reads of team-owned objects
are open to compliance officers, auditors and administrators.

A route that is not in TABLE fails tests/test_authorization_matrix.py, with its pattern.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.authz.world import (
    ADMINISTRATOR,
    ANONYMOUS,
    ARTIFACT,
    AUDITOR,
    COMPLIANCE_OFFICER,
    CSV,
    DATA_SCIENTIST,
    OUTSIDER,
    PASSWORD,
    ROLES,
    World,
)

LOGIN = "login"  # 302 to the sign-in page
Expected = int | frozenset | str


def roles(anonymous: Expected, data_scientist: Expected, outsider: Expected,
          compliance_officer: Expected, auditor: Expected, administrator: Expected) -> dict:
    return {ANONYMOUS: anonymous, DATA_SCIENTIST: data_scientist, OUTSIDER: outsider,
            COMPLIANCE_OFFICER: compliance_officer, AUDITOR: auditor,
            ADMINISTRATOR: administrator}


def but(base: dict, **overrides: Expected) -> dict:
    """`base` with some roles' answers replaced."""
    unknown = set(overrides) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {**base, **overrides}


# --- Common answers -------------------------------------------------------------------------------
# Pages
PAGE_ANY = roles(LOGIN, 200, 200, 200, 200, 200)
PAGE_TEAM = roles(LOGIN, 200, 404, 200, 200, 200)  # one of team A's objects


def page_team_write(ok: Expected = 302) -> dict:
    """Default write rule: team data scientists only."""
    return roles(LOGIN, ok, 404, 403, 403, 403)


def page_threat_write(ok: Expected = 302) -> dict:
    """Threat models, access policies, scans: the team's data scientists and compliance
    officers."""
    return roles(LOGIN, ok, 404, ok, 403, 403)


def page_officer(ok: Expected = 302) -> dict:
    """Decisions reserved to compliance officers."""
    return roles(LOGIN, 403, 404, ok, 403, 403)


def page_admin(ok: Expected = 302, outsider: Expected = 403) -> dict:
    return roles(LOGIN, 403, outsider, 403, 403, ok)


# API
API_ANY = roles(401, 200, 200, 200, 200, 200)
API_TEAM = roles(401, 200, 404, 200, 200, 200)


def api_team_write(ok: Expected) -> dict:
    return roles(401, ok, 404, 403, 403, 403)


def api_threat_write(ok: Expected) -> dict:
    return roles(401, ok, 404, ok, 403, 403)


def api_officer(ok: Expected = 200) -> dict:
    return roles(401, 403, 404, ok, 403, 403)


def api_admin(ok: Expected, outsider: Expected = 403) -> dict:
    return roles(401, 403, outsider, 403, 403, ok)


# --- Table structure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One method of one route: who gets what, with which payload.

    `data(world)` is the body (form fields for pages, JSON or multipart for the API; the query
    string for GET); `prepare(client, world, user)` runs first (e.g. sets up an authenticator
    app) and may return fields to add to the body. `xfail` maps a role to the reason its answer
    is known to be wrong (a reported bug): the case is then a strict xfail.
    """

    method: str
    expect: dict
    data: Callable[[World], dict] | None = None
    format: str | None = None  # API bodies: "json" (default) or "multipart"
    prepare: Callable | None = None
    xfail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    kwargs: Callable[[World], dict] | None
    calls: tuple[Call, ...]


def entry(kwargs: Callable[[World], dict] | None, *calls: Call) -> Entry:
    return Entry(kwargs=kwargs, calls=calls)


def get(expect: dict, query: Callable[[World], dict] | None = None, **options) -> Call:
    return Call("get", expect, data=query, **options)


def post(expect: dict, data: Callable[[World], dict] | None = None, **options) -> Call:
    return Call("post", expect, data=data, **options)


def patch(expect: dict, data: Callable[[World], dict] | None = None, **options) -> Call:
    return Call("patch", expect, data=data, **options)


def delete(expect: dict, **options) -> Call:
    return Call("delete", expect, **options)


# --- URL arguments --------------------------------------------------------------------------------


def pk_of(name: str) -> Callable[[World], dict]:
    return lambda w: {"pk": getattr(w, name).pk}


TEAM = pk_of("team")
MODEL = pk_of("model")
VERSION = pk_of("model_version")
DATASET = pk_of("dataset")
DATASET_VERSION = pk_of("dataset_version")
LINEAGE = pk_of("lineage")
DEPLOYMENT = pk_of("deployment")
ASSESSMENT = pk_of("assessment")
APPLIED = pk_of("applied")
EVIDENCE = pk_of("evidence")
ACCEPTANCE = pk_of("acceptance")
SUGGESTION = pk_of("suggestion")
POLICY = pk_of("policy")
GRANT = pk_of("grant")
SCAN = pk_of("scan")
FINDING = pk_of("finding")
TOKEN = pk_of("token")
SPARE = pk_of("spare")


def model_asset(w: World) -> dict:
    return {"segment": "models", "pk": w.model.pk}


# --- Payload helpers ------------------------------------------------------------------------------


def artifact_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("scorer-2.pkl", ARTIFACT + b"v2")


def csv_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("applicants-2.csv", CSV + b"29,18000,0\n")


def in_days(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def day_in(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _totp_code(hex_key: str) -> str:
    return f"{TOTP(bytes.fromhex(hex_key)).token():06d}"


def enrol_code(client, world, user) -> dict:
    """Open the set-up page (which keeps a new secret in the session), answer its code."""
    client.get("/accounts/two-factor/setup/")
    key = client.session.get("mlgov_2fa_enrolment_key")
    return {"otp": _totp_code(key)} if key else {}


def device_code(prefix: str) -> Callable:
    """Give the caller an authenticator app and answer its current code in the form `prefix`."""

    def prepare(client, world, user) -> dict:
        if user is None:
            return {f"{prefix}-otp": "123456"}
        key = "3132333435363738393031323334353637383930"
        TOTPDevice.objects.filter(user=user).delete()
        TOTPDevice.objects.create(user=user, name="phone", key=key, confirmed=True)
        return {f"{prefix}-otp": _totp_code(key)}

    return prepare


def model_form(w: World, **extra) -> dict:
    return {"name": "alphazz-scorer-2", "task": "classification", "risk_tier": "limited",
            "lifecycle_status": "development", **extra}


def dataset_form(w: World, **extra) -> dict:
    return {"name": "alphazz-applicants-2", "source": "internal", **extra}


def deployment_form(w: World, **extra) -> dict:
    return {"exposure": "internal", "output_granularity": "label",
            "requires_authentication": "on", "rate_limit_per_minute": "60", **extra}


# --- The table ------------------------------------------------------------------------------------

SIGNED_IN_REDIRECT = roles(LOGIN, 302, 302, 302, 302, 302)

TABLE: dict[str, Entry] = {
    # --- Core -------------------------------------------------------------------------------------
    "healthz": entry(None, get(roles(200, 200, 200, 200, 200, 200))),
    "api-schema": entry(None, get(API_ANY)),
    "api-docs": entry(None, get(API_ANY)),
    "api-token": entry(None, post(
        # No credentials needed (it is how one gets them): every caller exchanges the data
        # scientist's password for a token.
        roles(200, 200, 200, 200, 200, 200),
        lambda w: {"username": w.users[DATA_SCIENTIST].username, "password": PASSWORD,
                   "name": "matrix"},
    )),
    # --- Accounts (pages) ---------------------------------------------------------------------
    "accounts:login": entry(
        None,
        get(roles(200, 302, 302, 302, 302, 302)),
        post(roles(302, 302, 302, 302, 302, 302),
             lambda w: {"username": w.users[DATA_SCIENTIST].username, "password": PASSWORD}),
        # Django's form views treat PUT as POST; nobody signs in with an empty body.
        Call("put", roles(200, 302, 302, 302, 302, 302)),
    ),
    # Signing out (or being signed out already) ends on the sign-in page.
    "accounts:logout": entry(None, post(roles(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN))),
    # Not half-way through a sign-in: both steps send the caller on.
    "accounts:two-factor-verify": entry(
        None, get(SIGNED_IN_REDIRECT), post(SIGNED_IN_REDIRECT, lambda w: {"otp": "123456"}),
    ),
    "accounts:two-factor-setup": entry(
        None, get(PAGE_ANY),
        # A valid code for the secret the page showed: the backup codes page (200).
        post(PAGE_ANY, lambda w: {}, prepare=enrol_code),
    ),
    "accounts:security": entry(None, get(PAGE_ANY)),
    "accounts:backup-codes": entry(
        None, post(PAGE_ANY, lambda w: {}, prepare=device_code("codes")),
    ),
    "accounts:two-factor-disable": entry(
        None,
        # Refused (403) to roles that must keep a second factor.
        post(roles(LOGIN, 302, 302, 403, 302, 403), lambda w: {},
             prepare=device_code("disable")),
    ),
    "accounts:token-list": entry(
        None, get(PAGE_ANY), post(SIGNED_IN_REDIRECT, lambda w: {"name": "laptop"}),
    ),
    # Shown once, right after creation; otherwise back to the list.
    "accounts:token-created": entry(None, get(SIGNED_IN_REDIRECT)),
    # The data scientist's token: its owner and administrators revoke it, nobody else sees it.
    "accounts:token-revoke": entry(TOKEN, post(roles(LOGIN, 302, 404, 404, 404, 302))),
    "accounts:user-list": entry(None, get(page_admin(200))),
    "accounts:user-create": entry(
        None, get(page_admin(200)),
        post(page_admin(302), lambda w: {
            "username": "newcomer", "role": "auditor", "email": "newcomer@example.org",
            "password": "lantern-orchard-42-quill", "password_confirm": "lantern-orchard-42-quill",
        }),
    ),
    "accounts:user-set-role": entry(SPARE, post(page_admin(302), lambda w: {"role": "auditor"})),
    "accounts:user-two-factor-reset": entry(SPARE, post(page_admin(302))),
    # --- Registry API -----------------------------------------------------------------------------
    "team-list": entry(
        None, get(API_ANY), post(api_admin(201), lambda w: {"name": "Charlie team"}),
    ),
    "team-detail": entry(
        TEAM, get(API_TEAM),
        patch(api_admin(200, outsider=404), lambda w: {"description": "Credit scoring."}),
    ),
    "model-list": entry(
        None, get(API_ANY),
        post(api_team_write(201), lambda w: {"team": w.team.pk, "name": "alphazz-new"}),
    ),
    "model-detail": entry(
        MODEL, get(API_TEAM), patch(api_team_write(200), lambda w: {"description": "Scores."}),
    ),
    "model-version-list": entry(
        None, get(API_ANY),
        post(api_team_write(201),
             lambda w: {"model": w.model.pk, "version": "2.0", "artifact": artifact_file()},
             format="multipart"),
    ),
    "model-version-detail": entry(
        VERSION, get(API_TEAM), patch(api_team_write(200), lambda w: {"notes": "Retrained."}),
    ),
    "dataset-list": entry(
        None, get(API_ANY),
        post(api_team_write(201), lambda w: {"team": w.team.pk, "name": "alphazz-new-data"}),
    ),
    "dataset-detail": entry(
        DATASET, get(API_TEAM), patch(api_team_write(200), lambda w: {"licence": "CC-BY-4.0"}),
    ),
    "dataset-version-list": entry(
        None, get(API_ANY),
        post(api_team_write(201),
             lambda w: {"dataset": w.dataset.pk, "version": "v2", "file": csv_file()},
             format="multipart"),
    ),
    "dataset-version-detail": entry(DATASET_VERSION, get(API_TEAM)),
    "lineage-link-list": entry(
        None, get(API_ANY),
        post(api_team_write(201), lambda w: {
            "model_version": w.model_version.pk, "dataset_version": w.dataset_version.pk,
            "role": "validation",
        }),
    ),
    "lineage-link-detail": entry(LINEAGE, get(API_TEAM), delete(api_team_write(204))),
    "deployment-list": entry(
        None, get(API_ANY),
        post(api_team_write(201),
             lambda w: {"model_version": w.model_version.pk, "environment": "staging"}),
    ),
    "deployment-detail": entry(
        DEPLOYMENT, get(API_TEAM),
        patch(api_team_write(200), lambda w: {"rate_limit_per_minute": 120}),
    ),
    "deployment-retire": entry(DEPLOYMENT, post(api_team_write(200))),
    # --- ATLAS catalogue API: reference data, every signed-in user reads it ----------------------
    "atlas-tactic-list": entry(None, get(API_ANY)),
    "atlas-tactic-detail": entry(lambda w: {"atlas_id": "AML.TA0002"}, get(API_ANY)),
    "atlas-technique-list": entry(None, get(API_ANY)),
    "atlas-technique-detail": entry(lambda w: {"atlas_id": "AML.T0040"}, get(API_ANY)),
    "atlas-mitigation-list": entry(None, get(API_ANY)),
    "atlas-mitigation-detail": entry(lambda w: {"atlas_id": "AML.M0004"}, get(API_ANY)),
    # --- Threat model API -------------------------------------------------------------------------
    "threat-assessment-list": entry(
        None, get(API_ANY),
        post(api_threat_write(201), lambda w: {
            "model": w.model.pk, "technique": w.free_techniques[0], "likelihood": 3, "impact": 2,
        }),
    ),
    "threat-assessment-bulk": entry(None, post(api_threat_write(201), lambda w: {
        "technique": w.free_techniques[0], "models": [w.model.pk], "datasets": [w.dataset.pk],
        "likelihood": 2, "impact": 2,
    })),
    "threat-assessment-completeness": entry(None, get(API_TEAM, lambda w: {"model": w.model.pk})),
    "threat-assessment-navigator-layer": entry(
        None, get(API_TEAM, lambda w: {"model": w.model.pk}),
    ),
    "threat-assessment-detail": entry(
        ASSESSMENT, get(API_TEAM),
        patch(api_threat_write(200), lambda w: {"rationale": "Public endpoint."}),
    ),
    "applied-mitigation-list": entry(
        None, get(API_ANY),
        post(api_threat_write(201), lambda w: {
            "assessment": w.assessment.pk, "title": "Query budget per client",
        }),
    ),
    "applied-mitigation-bulk": entry(None, post(api_threat_write(201), lambda w: {
        "assessments": [w.assessment.pk, w.assessment_pending.pk], "title": "Output rounding",
    })),
    "applied-mitigation-detail": entry(
        APPLIED, get(API_TEAM),
        patch(api_threat_write(200), lambda w: {"due_date": day_in(30)}),
    ),
    "evidence-list": entry(
        None, get(API_ANY),
        post(api_threat_write(201), lambda w: {
            "applied_mitigation": w.applied.pk, "url": "https://wiki.example.org/rate-limits",
        }),
    ),
    "evidence-detail": entry(EVIDENCE, get(API_TEAM)),
    "evidence-download": entry(EVIDENCE, get(API_TEAM)),
    "risk-acceptance-list": entry(
        None, get(API_ANY),
        post(api_threat_write(201), lambda w: {
            "assessment": w.assessment.pk, "reason": "Internal users only.",
            "expires_at": in_days(30),
        }),
    ),
    "risk-acceptance-detail": entry(ACCEPTANCE, get(API_TEAM)),
    # Requested by the data scientist: a compliance officer decides.
    "risk-acceptance-approve": entry(
        ACCEPTANCE, post(api_officer(200), lambda w: {"note": "Agreed."}),
    ),
    "risk-acceptance-reject": entry(
        ACCEPTANCE, post(api_officer(200), lambda w: {"note": "Mitigate it instead."}),
    ),
    "threat-suggestion-list": entry(None, get(API_ANY)),
    "threat-suggestion-detail": entry(SUGGESTION, get(API_TEAM)),
    "threat-suggestion-accept": entry(SUGGESTION, post(api_threat_write(201), lambda w: {})),
    "threat-suggestion-dismiss": entry(
        SUGGESTION, post(api_threat_write(200), lambda w: {"reason": "Not exposed."}),
    ),
    "threat-suggestion-accept-many": entry(
        None, post(api_threat_write(201), lambda w: {"suggestions": [w.suggestion.pk]}),
    ),
    "threat-suggestion-refresh": entry(
        None, post(api_threat_write(200), lambda w: {"model": w.model.pk}),
    ),
    # --- Scans API --------------------------------------------------------------------------------
    "scanner-list": entry(None, get(API_ANY)),
    "scan-list": entry(
        None, get(API_ANY),
        post(api_threat_write(202),
             lambda w: {"model_version": w.model_version.pk, "scanners": ["integrity"]}),
    ),
    "scan-detail": entry(SCAN, get(API_TEAM)),
    "scan-cancel": entry(SCAN, post(api_threat_write(200))),
    "finding-list": entry(None, get(API_ANY)),
    "finding-detail": entry(FINDING, get(API_TEAM)),
    "finding-triage": entry(FINDING, post(
        api_officer(200), lambda w: {"status": "false_positive", "reason": "Test fixture."},
    )),
    # --- Audit API: read-only ---------------------------------------------------------------------
    "audit-entry-list": entry(None, get(API_ANY)),
    "audit-entry-head": entry(None, get(API_ANY)),
    "audit-entry-detail": entry(lambda w: {"seq": w.audit_entry.seq}, get(API_TEAM)),
    # --- Access policies API ----------------------------------------------------------------------
    "access-policy-list": entry(
        None, get(API_ANY),
        post(api_threat_write(201), lambda w: {
            "dataset": w.dataset.pk, "grants": [{"permission": "download", "team": w.team.pk}],
        }),
    ),
    "access-policy-review": entry(None, get(API_TEAM, lambda w: {"model": w.model.pk})),
    "access-policy-detail": entry(
        POLICY, get(API_TEAM),
        patch(api_threat_write(200), lambda w: {"notes": "Reviewed grants."}),
        delete(api_threat_write(204)),
    ),
    "access-policy-mark-reviewed": entry(POLICY, post(api_officer(200))),
    # The model's policy grants download to team A only; the dataset has none (default rule:
    # members of the owning team). Reading everything is not downloading everything.
    "policies-model-version-download": entry(VERSION, get(roles(401, 200, 404, 403, 403, 403))),
    "policies-dataset-version-download": entry(
        DATASET_VERSION, get(roles(401, 200, 404, 403, 403, 403)),
    ),
    # --- Registry pages ---------------------------------------------------------------------------
    "registry:home": entry(None, get(PAGE_ANY)),
    "registry:team-list": entry(None, get(PAGE_ANY)),
    "registry:team-create": entry(
        None, get(page_admin(200)), post(page_admin(302), lambda w: {"name": "Charlie team"}),
    ),
    "registry:team-detail": entry(TEAM, get(PAGE_TEAM)),
    "registry:team-update": entry(
        TEAM, get(page_admin(200, outsider=404)),
        post(page_admin(302, outsider=404), lambda w: {"name": "alphazz team renamed"}),
    ),
    "registry:team-member-set": entry(TEAM, post(
        page_admin(302, outsider=404), lambda w: {"user": w.spare.pk, "role": "member"},
    )),
    "registry:team-member-remove": entry(
        lambda w: {"pk": w.team.pk, "user_pk": w.teammate.pk},
        post(page_admin(302, outsider=404)),
    ),
    "registry:model-list": entry(None, get(PAGE_ANY)),
    # Any data scientist opens the form (for their own teams); team A is not among the
    # outsider's choices, so their post is a form error (400), like a team that does not exist.
    "registry:model-create": entry(
        None, get(roles(LOGIN, 200, 200, 403, 403, 403)),
        post(roles(LOGIN, 302, 400, 403, 403, 403), lambda w: model_form(w, team=w.team.pk)),
    ),
    "registry:model-detail": entry(MODEL, get(PAGE_TEAM)),
    "registry:model-update": entry(
        MODEL, get(page_team_write(200)),
        post(page_team_write(302), lambda w: model_form(w, name="alphazz-scorer")),
    ),
    "registry:version-create": entry(
        MODEL, get(page_team_write(200)),
        post(page_team_write(302), lambda w: {
            "version": "2.0", "artifact": artifact_file(), "framework": "scikit-learn",
        }),
    ),
    "registry:version-detail": entry(VERSION, get(PAGE_TEAM)),
    "registry:lineage-add": entry(VERSION, post(
        page_team_write(302),
        lambda w: {"dataset_version": w.dataset_version.pk, "role": "validation"},
    )),
    "registry:deployment-create": entry(
        VERSION, get(page_team_write(200)),
        post(page_team_write(302), lambda w: deployment_form(w, environment="staging")),
    ),
    "registry:dataset-list": entry(None, get(PAGE_ANY)),
    "registry:dataset-create": entry(
        None, get(roles(LOGIN, 200, 200, 403, 403, 403)),
        post(roles(LOGIN, 302, 400, 403, 403, 403), lambda w: dataset_form(w, team=w.team.pk)),
    ),
    "registry:dataset-detail": entry(DATASET, get(PAGE_TEAM)),
    "registry:dataset-update": entry(
        DATASET, get(page_team_write(200)),
        post(page_team_write(302), lambda w: dataset_form(w, name="alphazz-applicants")),
    ),
    "registry:dataset-version-create": entry(
        DATASET, get(page_team_write(200)),
        post(page_team_write(302), lambda w: {"version": "v2", "file": csv_file()}),
    ),
    "registry:dataset-version-detail": entry(DATASET_VERSION, get(PAGE_TEAM)),
    "registry:deployment-list": entry(None, get(PAGE_ANY)),
    "registry:deployment-detail": entry(DEPLOYMENT, get(PAGE_TEAM)),
    "registry:deployment-update": entry(
        DEPLOYMENT, get(page_team_write(200)),
        post(page_team_write(302), lambda w: deployment_form(w)),
    ),
    "registry:deployment-retire": entry(DEPLOYMENT, post(page_team_write(302))),
    # --- Threat model pages -----------------------------------------------------------------------
    "threats:catalogue": entry(None, get(PAGE_ANY)),
    "threats:threat-model-list": entry(None, get(PAGE_ANY)),
    "threats:asset": entry(model_asset, get(PAGE_TEAM)),
    "threats:assessment-create": entry(model_asset, post(
        page_threat_write(302),
        lambda w: {"technique": w.free_techniques[0], "likelihood": "3", "impact": "2"},
    )),
    "threats:suggestions-accept-all": entry(model_asset, post(page_threat_write(302))),
    "threats:suggestion-accept": entry(SUGGESTION, post(page_threat_write(302))),
    "threats:suggestion-dismiss": entry(SUGGESTION, post(
        page_threat_write(302), lambda w: {"reason": "The endpoint is internal."},
    )),
    # The list is open; its bulk form applies a mitigation to ticked threats. The outsider's
    # choices do not hold team A's threats: a form error (400).
    "threats:assessment-list": entry(
        None, get(PAGE_ANY),
        post(roles(LOGIN, 302, 400, 302, 403, 403), lambda w: {
            "assessments": [w.assessment.pk], "title": "Bulk output rounding",
            "status": "planned",
        }),
    ),
    "threats:assessment-detail": entry(ASSESSMENT, get(PAGE_TEAM)),
    "threats:assessment-edit": entry(ASSESSMENT, post(
        page_threat_write(302),
        lambda w: {"likelihood": "4", "impact": "4", "rationale": "Public endpoint."},
    )),
    "threats:assessment-score": entry(ASSESSMENT, post(
        page_threat_write(302), lambda w: {"likelihood": "2", "impact": "3"},
    )),
    "threats:mitigation-add": entry(ASSESSMENT, post(
        page_threat_write(302), lambda w: {"title": "Query budget", "status": "planned"},
    )),
    "threats:acceptance-request": entry(ASSESSMENT, post(
        page_threat_write(302),
        lambda w: {"reason": "Internal users only.", "expires_on": day_in(30)},
    )),
    "threats:mitigation-status": entry(APPLIED, post(
        page_threat_write(302), lambda w: {"status": "in_progress"},
    )),
    "threats:evidence-add": entry(APPLIED, post(
        page_threat_write(302), lambda w: {"url": "https://wiki.example.org/limits"},
    )),
    "threats:evidence-download": entry(EVIDENCE, get(PAGE_TEAM)),
    "threats:acceptance-approve": entry(ACCEPTANCE, post(page_officer(302))),
    "threats:acceptance-reject": entry(ACCEPTANCE, post(
        page_officer(302), lambda w: {"note": "Mitigate it instead."},
    )),
    # Open to roles that assess threats somewhere; team A's model is not among the outsider's
    # choices (form error, 400).
    "threats:bulk-technique": entry(
        None, get(roles(LOGIN, 200, 200, 200, 403, 403)),
        post(roles(LOGIN, 302, 400, 302, 403, 403), lambda w: {
            "technique": w.free_techniques[0], "models": [w.model.pk], "likelihood": "2",
            "impact": "2",
        }),
    ),
    "threats:matrix": entry(None, get(PAGE_TEAM, lambda w: {"model": w.model.pk})),
    "threats:navigator-layer": entry(None, get(PAGE_TEAM, lambda w: {"model": w.model.pk})),
    "threats:register": entry(None, get(PAGE_TEAM, lambda w: {"model": w.model.pk})),
    # --- Scan pages -------------------------------------------------------------------------------
    "scans:scan-list": entry(None, get(PAGE_ANY)),
    "scans:scan-create": entry(
        None,
        get(page_threat_write(200), lambda w: {"model_version": w.model_version.pk}),
        post(page_threat_write(302),
             lambda w: {"model_version": w.model_version.pk, "scanners": ["integrity"]}),
    ),
    "scans:scan-detail": entry(SCAN, get(PAGE_TEAM)),
    "scans:scan-cancel": entry(SCAN, post(page_threat_write(302))),
    "scans:finding-list": entry(None, get(PAGE_ANY)),
    "scans:finding-detail": entry(FINDING, get(PAGE_TEAM)),
    "scans:finding-triage": entry(FINDING, post(
        page_officer(302), lambda w: {"status": "false_positive", "reason": "Test fixture."},
    )),
    # --- Audit pages ------------------------------------------------------------------------------
    "audit:entry-list": entry(None, get(PAGE_ANY)),
    "audit:entry-export": entry(None, get(PAGE_ANY)),
    "audit:entry-detail": entry(lambda w: {"seq": w.audit_entry.seq}, get(PAGE_TEAM)),
    # --- Dashboards: every signed-in user, over what they may see -------------------------------
    "dashboards:portfolio": entry(None, get(PAGE_ANY)),
    "dashboards:home": entry(None, get(PAGE_ANY)),
    # --- Access policy pages ----------------------------------------------------------------------
    "policies:policy-list": entry(None, get(PAGE_ANY)),
    "policies:asset-policy": entry(lambda w: {"kind": "model", "pk": w.model.pk}, get(PAGE_TEAM)),
    "policies:policy-create": entry(
        lambda w: {"kind": "dataset", "pk": w.dataset.pk},
        post(page_threat_write(302), lambda w: {"notes": "Team only.", "start_with_team": "on"}),
    ),
    "policies:policy-update": entry(POLICY, post(
        page_threat_write(302), lambda w: {"notes": "Reviewed grants."},
    )),
    "policies:grant-add": entry(POLICY, post(
        page_threat_write(302), lambda w: {"permission": "view", "principal": "role:auditor"},
    )),
    "policies:grant-remove": entry(GRANT, post(page_threat_write(302))),
    "policies:policy-mark-reviewed": entry(POLICY, post(page_officer(302))),
    "policies:policy-delete": entry(POLICY, post(page_threat_write(302))),
    "policies:download-model-version": entry(VERSION, get(roles(LOGIN, 200, 404, 403, 403, 403))),
    "policies:download-dataset-version": entry(
        DATASET_VERSION, get(roles(LOGIN, 200, 404, 403, 403, 403)),
    ),
}

# Read-only pages without a method restriction (no `@require_GET`): POST, PUT, PATCH and DELETE
# render them like a GET and write nothing. The method probe of the test expects exactly the GET
# answer from them; once a page refuses other methods (405), take it out of this list.
# The sign-in page is a class-based view that sends signed-in users on whatever the method.
ANSWERS_ANY_METHOD: frozenset[str] = frozenset({
    "accounts:login",
})


# --- Team A's objects named in the outsider's own requests ----------------------------------------


@dataclass(frozen=True)
class Reach:
    """The outsider acts on team B's objects (or reads a list) but names one of team A's in
    the body or the query. A write must be refused (`expect`) and create nothing of `model`;
    a read may answer 200 (then without any of team A's objects: ids in API lists, names on
    pages), 400 or 404."""

    name: str
    method: str
    data: Callable[[World], dict]
    expect: frozenset
    model: str = ""  # "app_label.Model" whose row count must not change
    kwargs: Callable[[World], dict] | None = None
    format: str | None = None
    id_key: str = "id"
    team_a_ids: Callable[[World], set] | None = None


REACHES: tuple[Reach, ...] = (
    Reach("lineage-link-list", "post", lambda w: {
        "model_version": w.other_version.pk, "dataset_version": w.dataset_version.pk,
        "role": "validation",
    }, frozenset({404}), model="registry.LineageLink"),
    Reach("model-version-list", "post", lambda w: {
        "model": w.other_model.pk, "version": "0.2", "artifact": artifact_file(),
        "lineage": f'[{{"dataset_version": {w.dataset_version.pk}, "role": "training"}}]',
    }, frozenset({404}), model="registry.ModelVersion", format="multipart"),
    Reach("threat-assessment-bulk", "post", lambda w: {
        "technique": w.free_techniques[0], "models": [w.other_model.pk, w.model.pk],
        "likelihood": 2, "impact": 2,
    }, frozenset({404}), model="threats.ThreatAssessment"),
    Reach("applied-mitigation-bulk", "post", lambda w: {
        "assessments": [w.other_assessment.pk, w.assessment.pk], "title": "Rounding",
    }, frozenset({404}), model="threats.AppliedMitigation"),
    Reach("access-policy-list", "post", lambda w: {
        "model": w.other_model.pk, "deployment": w.deployment.pk,
    }, frozenset({400, 404}), model="policies.AccessPolicy"),
    Reach("scan-list", "post", lambda w: {
        "model_version": w.other_version.pk, "deployment": w.deployment.pk,
    }, frozenset({400, 404}), model="scans.ScanRun"),
    # The page's choices hold only the outsider's dataset versions: a form error.
    Reach("registry:lineage-add", "post", lambda w: {
        "dataset_version": w.dataset_version.pk, "role": "validation",
    }, frozenset({400, 404}), model="registry.LineageLink",
        kwargs=lambda w: {"pk": w.other_version.pk}),
    # Filters naming team A's objects.
    Reach("model-version-list", "get", lambda w: {"model": w.model.pk},
          frozenset({200, 400, 404}), team_a_ids=lambda w: {w.model_version.pk}),
    Reach("scan-list", "get", lambda w: {"model_version": w.model_version.pk},
          frozenset({200, 400, 404}), team_a_ids=lambda w: {w.scan.pk, w.finished_scan.pk}),
    Reach("finding-list", "get", lambda w: {"scan": w.finished_scan.pk},
          frozenset({200, 400, 404}), team_a_ids=lambda w: {w.finding.pk}),
    Reach("threat-assessment-list", "get", lambda w: {"model": w.model.pk},
          frozenset({200, 400, 404}), team_a_ids=lambda w: {w.assessment.pk}),
    Reach("audit-entry-list", "get", lambda w: {"team_id": w.team.pk},
          frozenset({200, 400, 404}), id_key="seq",
          team_a_ids=lambda w: {w.audit_entry.seq}),
    Reach("lineage-link-list", "get", lambda w: {"dataset_version": w.dataset_version.pk},
          frozenset({200, 400, 404}), team_a_ids=lambda w: {w.lineage.pk}),
    # Pages filtered by team A: refused, or answered without any of team A's names.
    Reach("dashboards:portfolio", "get", lambda w: {"team": w.team.pk},
          frozenset({200, 400, 404})),
    Reach("threats:assessment-list", "get", lambda w: {"team": w.team.pk},
          frozenset({200, 400, 404})),
    Reach("threats:register", "get", lambda w: {"team": w.team.pk}, frozenset({200, 400, 404})),
    Reach("scans:finding-list", "get", lambda w: {"model_version": w.model_version.pk},
          frozenset({200, 400, 404})),
    Reach("audit:entry-list", "get", lambda w: {"team_id": w.team.pk},
          frozenset({200, 400, 404})),
)
