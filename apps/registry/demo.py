"""Demo data for a fresh installation: one user per role, teams, and real scikit-learn models.

Everything goes through the services the web UI and the API use (permission checks, streaming
hashing, content-addressed storage, format detection, CSV profiling), so the demo shows what a
real registration produces rather than hand-made rows. The models are trained here, in a few
seconds, on datasets bundled with scikit-learn: nothing is downloaded.

Seeding is idempotent: objects found by their natural key (user name, team name, model or
dataset name within its team, version label) are reported and left alone, so `make run` can seed
on every start. One transaction covers a run: a failure leaves no half-seeded database, and no
user exists whose one-time password was never shown.
"""

import csv
import io
import os
import pickle
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version as installed_version
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from sklearn import datasets as bundled
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from apps.accounts import services as account_services
from apps.accounts.choices import Role, TeamRole
from apps.accounts.models import User
from apps.core.exceptions import ApplicationError
from apps.registry import services
from apps.registry.choices import (
    DatasetSource,
    Environment,
    Exposure,
    LifecycleStatus,
    LineageRole,
    ModelTask,
    OutputGranularity,
    RiskTier,
)
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)

PASSWORD_ENV = "MLGOV_DEMO_PASSWORD"  # noqa: S105 - a variable name, not a password
SPLITS = (LineageRole.TRAINING, LineageRole.EVALUATION, LineageRole.HOLDOUT)
DATA_VERSION = "1.0"
SEED = 7

# --- What the demo contains ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    teams: tuple[tuple[str, str], ...] = ()  # (team name, role in the team)


TEAMS = {
    "Credit Risk": "Credit scoring and loan-application processing.",
    "Clinical AI": "Decision support for clinicians; works with health data throughout.",
    "Fraud Detection": "Transaction and document fraud models.",
    "Research Sandbox": "Experiments on public data; nothing here serves customers.",
}

USERS = (
    DemoUser(
        "dana",
        Role.DATA_SCIENTIST,
        "Dana",
        "Okafor",
        (
            ("Credit Risk", TeamRole.LEAD),
            ("Fraud Detection", TeamRole.MEMBER),
            ("Research Sandbox", TeamRole.MEMBER),
        ),
    ),
    DemoUser(
        "omar",
        Role.DATA_SCIENTIST,
        "Omar",
        "Haddad",
        (("Clinical AI", TeamRole.LEAD), ("Research Sandbox", TeamRole.LEAD)),
    ),
    DemoUser("cora", Role.COMPLIANCE_OFFICER, "Cora", "Lindqvist"),
    DemoUser("audrey", Role.AUDITOR, "Audrey", "Martin"),
    DemoUser("adam", Role.ADMINISTRATOR, "Adam", "Novak"),
)
ADMINISTRATOR = "adam"


@dataclass(frozen=True)
class Table:
    """A bundled dataset as named columns: features plus the target column."""

    feature_names: list[str]
    features: np.ndarray
    target: np.ndarray


def _load(loader: Callable, *, class_names: bool = False) -> Callable[[], Table]:
    def load() -> Table:
        bunch = loader()
        target = bunch.target_names[bunch.target] if class_names else bunch.target
        return Table(list(bunch.feature_names), bunch.data, target)

    return load


@dataclass(frozen=True)
class DemoDataset:
    name: str
    team: str
    owner: str
    load: Callable[[], Table]
    label_column: str
    stratify: bool
    fields: dict[str, Any]


_UCI = "UCI Machine Learning Repository, CC BY 4.0 (as distributed with scikit-learn)"
DATASETS = {
    "breast-cancer-wisconsin": DemoDataset(
        name="breast-cancer-wisconsin",
        team="Clinical AI",
        owner="omar",
        load=_load(bundled.load_breast_cancer, class_names=True),
        label_column="diagnosis",
        stratify=True,
        fields={
            "description": (
                "Features of cell nuclei computed from digitised images of fine "
                "needle aspirates of breast masses, labelled malignant or benign."
            ),
            "source": DatasetSource.PUBLIC,
            "provenance": (
                "Breast Cancer Wisconsin (Diagnostic) data, collected at the "
                "University of Wisconsin (Wolberg, Street and Mangasarian, "
                "1995); copy bundled with scikit-learn (load_breast_cancer). Split "
                "60/20/20 into training, evaluation and holdout, stratified, seed 7."
            ),
            "licence": _UCI,
            "has_health_data": True,
        },
    ),
    "diabetes-progression": DemoDataset(
        name="diabetes-progression",
        team="Clinical AI",
        owner="omar",
        load=_load(bundled.load_diabetes),
        label_column="progression",
        stratify=False,
        fields={
            "description": (
                "Age, sex, body-mass index, blood pressure and six blood serum "
                "measurements of 442 diabetes patients, with disease progression "
                "one year after baseline."
            ),
            "source": DatasetSource.PUBLIC,
            "provenance": (
                "Diabetes data from Efron, Hastie, Johnstone and Tibshirani, 'Least "
                "Angle Regression' (2004); copy bundled with scikit-learn "
                "(load_diabetes), features mean-centred and scaled."
            ),
            "licence": "See scikit-learn documentation",
            "has_personal_data": True,
            "has_health_data": True,
            "sensitive_columns": ["age", "sex"],
        },
    ),
    "handwritten-digits": DemoDataset(
        name="handwritten-digits",
        team="Credit Risk",
        owner="dana",
        load=_load(bundled.load_digits),
        label_column="digit",
        stratify=True,
        fields={
            "description": "8x8 grey-level images of handwritten digits, one pixel per column.",
            "source": DatasetSource.PUBLIC,
            "provenance": (
                "Optical Recognition of Handwritten Digits (Alpaydin and Kaynak, "
                "1998), test part as bundled with scikit-learn (load_digits)."
            ),
            "licence": _UCI,
        },
    ),
    "wine-chemistry": DemoDataset(
        name="wine-chemistry",
        team="Research Sandbox",
        owner="omar",
        load=_load(bundled.load_wine, class_names=True),
        label_column="cultivar",
        stratify=True,
        fields={
            "description": (
                "Chemical analysis of wines grown in one region of Italy from three cultivars."
            ),
            "source": DatasetSource.PUBLIC,
            "provenance": (
                "Wine recognition data (Forina et al.), copy bundled with scikit-learn (load_wine)."
            ),
            "licence": _UCI,
        },
    ),
    "iris": DemoDataset(
        name="iris",
        team="Research Sandbox",
        owner="dana",
        load=_load(bundled.load_iris, class_names=True),
        label_column="species",
        stratify=True,
        fields={
            "description": "Sepal and petal measurements of three iris species.",
            "source": DatasetSource.PUBLIC,
            "provenance": "Fisher's iris data (1936), copy bundled with scikit-learn (load_iris).",
            "licence": _UCI,
        },
    ),
}


@dataclass(frozen=True)
class DemoVersion:
    version: str
    build: Callable[[], Any]
    serializer: str  # "joblib", "joblib-compressed" or "pickle"
    dependencies: str = ""  # "pinned", "unpinned" or ""
    notes: str = ""
    deployments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class DemoModel:
    name: str
    dataset: str
    fields: dict[str, Any]
    versions: tuple[DemoVersion, ...] = field(default_factory=tuple)


def _scaled_logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


MODELS = (
    DemoModel(
        name="breast-cancer-screening",
        dataset="breast-cancer-wisconsin",
        fields={
            "description": "Flags fine-needle-aspirate results that look malignant.",
            "task": ModelTask.CLASSIFICATION,
            "intended_use": "Second reader for cytology results; a clinician decides.",
            "risk_tier": RiskTier.HIGH,
            "lifecycle_status": LifecycleStatus.PRODUCTION,
        },
        versions=(
            DemoVersion(
                version="1.0",
                build=_scaled_logistic,
                serializer="joblib-compressed",
                dependencies="unpinned",
                notes="Scaled logistic regression baseline.",
            ),
            DemoVersion(
                version="1.1",
                build=lambda: RandomForestClassifier(
                    n_estimators=100, max_depth=6, random_state=SEED
                ),
                serializer="pickle",
                dependencies="pinned",
                notes="Random forest; replaced 1.0 in production.",
                # Deliberately risky: public, unauthenticated, full scores, no rate limit, so
                # the threat model has extraction and membership-inference risks to point at.
                deployments=(
                    {
                        "environment": Environment.PRODUCTION,
                        "endpoint_url": "https://api.example.org/screening/v1/predict",
                        "exposure": Exposure.PUBLIC,
                        "requires_authentication": False,
                        "rate_limit_per_minute": None,
                        "output_granularity": OutputGranularity.FULL_SCORES,
                    },
                ),
            ),
        ),
    ),
    DemoModel(
        name="diabetes-progression",
        dataset="diabetes-progression",
        fields={
            "description": "Predicts disease progression one year ahead.",
            "task": ModelTask.REGRESSION,
            "intended_use": "Prioritising follow-up appointments; reviewed by a clinician.",
            "risk_tier": RiskTier.HIGH,
            "lifecycle_status": LifecycleStatus.VALIDATION,
        },
        versions=(
            DemoVersion(
                version="0.9",
                build=lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
                serializer="joblib",
                dependencies="pinned",
            ),
        ),
    ),
    DemoModel(
        name="digit-recogniser",
        dataset="handwritten-digits",
        fields={
            "description": "Reads handwritten digits on scanned loan application forms.",
            "task": ModelTask.CLASSIFICATION,
            "intended_use": "Pre-fills amounts for a clerk to confirm.",
            "risk_tier": RiskTier.LIMITED,
            "lifecycle_status": LifecycleStatus.VALIDATION,
        },
        versions=(
            DemoVersion(
                version="2.0",
                build=_scaled_logistic,
                serializer="joblib",
                dependencies="pinned",
                deployments=(
                    {
                        "environment": Environment.STAGING,
                        "endpoint_url": "https://staging.internal.example.org/digits",
                        "exposure": Exposure.INTERNAL,
                        "requires_authentication": True,
                        "rate_limit_per_minute": 600,
                        "output_granularity": OutputGranularity.LABEL,
                    },
                ),
            ),
        ),
    ),
    DemoModel(
        name="wine-quality-grader",
        dataset="wine-chemistry",
        fields={
            "description": "Assigns wine lots to their cultivar from a chemical analysis.",
            "task": ModelTask.CLASSIFICATION,
            "intended_use": "Internal experiment.",
            "risk_tier": RiskTier.MINIMAL,
            "lifecycle_status": LifecycleStatus.DEVELOPMENT,
        },
        versions=(
            DemoVersion(
                version="0.1",
                build=lambda: RandomForestClassifier(n_estimators=50, random_state=SEED),
                serializer="pickle",
            ),
        ),
    ),
    DemoModel(
        name="iris-species",
        dataset="iris",
        fields={
            "description": "Classifies iris flowers by species.",
            "task": ModelTask.CLASSIFICATION,
            "intended_use": "Teaching example.",
            "risk_tier": RiskTier.MINIMAL,
            "lifecycle_status": LifecycleStatus.DEVELOPMENT,
        },
        versions=(
            DemoVersion(
                version="0.1",
                build=_scaled_logistic,
                serializer="joblib-compressed",
                dependencies="unpinned",
            ),
        ),
    ),
)

# --- Result -------------------------------------------------------------------------------------


@dataclass
class Credential:
    username: str
    role: str
    password: str


@dataclass
class SeedReport:
    """What a run did: one line per object, and the passwords of the users it created."""

    lines: list[str] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    password_from_env: bool = False

    def created(self, what: str) -> None:
        self.lines.append(f"created  {what}")

    def exists(self, what: str) -> None:
        self.lines.append(f"exists   {what}")


# --- Helpers ------------------------------------------------------------------------------------


def generate_password() -> str:
    """A strong random password (about 144 bits), different for every installation."""
    return secrets.token_urlsafe(18)


def _fixed_password() -> str:
    """The operator's chosen demo password, if any (settings first, then the environment)."""
    return getattr(settings, PASSWORD_ENV, "") or os.environ.get(PASSWORD_ENV, "")


def _requirements(pinned: str) -> str:
    packages = ("scikit-learn", "numpy", "scipy", "joblib")
    if pinned == "pinned":
        return "\n".join(f"{name}=={installed_version(name)}" for name in packages) + "\n"
    if pinned == "unpinned":
        return "\n".join(packages) + "\n"
    return ""


@contextmanager
def _spooled() -> Iterator[tempfile.SpooledTemporaryFile]:
    """A temporary file that spills to disk like an upload does, closed afterwards."""
    with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as raw:
        yield raw


def _as_upload(raw, name: str) -> File:
    """Wrap written bytes as a django File, so services hash and store them like an upload."""
    raw.flush()
    raw.seek(0)
    return File(raw, name=name)


def _cell(value) -> str:
    if isinstance(value, str | np.str_):
        return str(value)
    number = float(value)
    # repr() round-trips exactly, so the CSV holds the very values the model was trained on.
    return str(int(number)) if number.is_integer() else repr(number)


def _write_csv(raw, columns: list[str], features: np.ndarray, target: np.ndarray) -> None:
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    for row, label in zip(features, target, strict=True):
        writer.writerow([*(_cell(v) for v in row), _cell(label)])
    text.flush()
    text.detach()  # leave `raw` open for the service to read


def _serialize(estimator, raw, serializer: str) -> str:
    """Write the estimator as pipelines do; returns the file extension it would carry."""
    if serializer == "pickle":
        pickle.dump(estimator, raw, protocol=pickle.HIGHEST_PROTOCOL)
        return "pkl"
    joblib.dump(estimator, raw, compress=3 if serializer == "joblib-compressed" else 0)
    return "joblib"


def _splits(table: Table, demo: DemoDataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Deterministic 60/20/20 training/evaluation/holdout split of a bundled dataset."""
    x, y = table.features, table.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=SEED, stratify=y if demo.stratify else None
    )
    x_eval, x_hold, y_eval, y_hold = train_test_split(
        x_rest,
        y_rest,
        test_size=0.5,
        random_state=SEED,
        stratify=y_rest if demo.stratify else None,
    )
    return {
        LineageRole.TRAINING: (x_train, y_train),
        LineageRole.EVALUATION: (x_eval, y_eval),
        LineageRole.HOLDOUT: (x_hold, y_hold),
    }


# --- Steps --------------------------------------------------------------------------------------


def _seed_users(report: SeedReport) -> dict[str, User]:
    fixed = _fixed_password()
    if fixed:
        try:
            password_validation.validate_password(fixed)
        except ValidationError as exc:
            raise ApplicationError(
                f"{PASSWORD_ENV} is too weak: {' '.join(exc.messages)}", field=PASSWORD_ENV
            ) from None
    report.password_from_env = bool(fixed)
    users = {}
    for demo in USERS:
        user = User.objects.filter(username__iexact=demo.username).first()
        label = Role(demo.role).label
        if user is not None:
            report.exists(f"user {user.username} ({user.get_role_display()}); password unchanged")
        else:
            password = fixed or generate_password()
            user = account_services.user_create(
                actor=None,
                username=demo.username,
                password=password,
                role=demo.role,
                email=f"{demo.username}@example.org",
                first_name=demo.first_name,
                last_name=demo.last_name,
            )
            report.created(f"user {user.username} ({label})")
            # The operator's own password is not echoed back: they know it already.
            shown = f"(the value of {PASSWORD_ENV})" if fixed else password
            report.credentials.append(Credential(user.username, label, shown))
        users[demo.username] = user
    return users


def _seed_teams(report: SeedReport, users: dict[str, User]) -> dict[str, Team]:
    admin = users[ADMINISTRATOR]
    teams = {}
    for name, description in TEAMS.items():
        team = Team.objects.filter(name=name).first()
        if team is None:
            team = services.team_create(actor=admin, name=name, description=description)
            report.created(f"team {name}")
        else:
            report.exists(f"team {name}")
        teams[name] = team
    for demo in USERS:
        for team_name, team_role in demo.teams:
            user, team = users[demo.username], teams[team_name]
            if TeamMembership.objects.filter(team=team, user=user).exists():
                report.exists(f"membership {user.username} in {team_name}")
                continue
            services.team_member_set(actor=admin, team=team, user=user, role=team_role)
            report.created(f"membership {user.username} in {team_name} ({team_role})")
    return teams


def _seed_dataset(
    report: SeedReport,
    demo: DemoDataset,
    actor: User,
    team: Team,
    columns: list[str],
    splits: dict,
) -> dict[str, DatasetVersion]:
    dataset = Dataset.objects.filter(team=team, name=demo.name).first()
    if dataset is None:
        dataset = services.dataset_create(
            actor=actor,
            team=team,
            name=demo.name,
            label_column=demo.label_column,
            **demo.fields,
        )
        report.created(f"dataset {team.name}/{demo.name}")
    else:
        report.exists(f"dataset {team.name}/{demo.name}")
    versions = {}
    for role in SPLITS:
        label = f"{DATA_VERSION}-{role}"
        version = DatasetVersion.objects.filter(dataset=dataset, version=label).first()
        if version is None:
            with _spooled() as raw:
                _write_csv(raw, columns, *splits[role])
                version = services.dataset_version_register(
                    actor=actor,
                    dataset=dataset,
                    version=label,
                    file=_as_upload(raw, f"{demo.name}-{role}.csv"),
                )
            report.created(f"dataset version {demo.name} {label} ({version.row_count} rows)")
        else:
            report.exists(f"dataset version {demo.name} {label}")
        versions[role] = version
    return versions


def _score_note(estimator, task: str, x: np.ndarray, y: np.ndarray) -> str:
    metric = "R²" if task == ModelTask.REGRESSION else "accuracy"
    return f"Evaluation {metric} {estimator.score(x, y):.3f} on {len(y)} rows."


def _seed_model(
    report: SeedReport,
    demo: DemoModel,
    actor: User,
    team: Team,
    splits: dict,
    data_versions: dict[str, DatasetVersion],
) -> None:
    model = MLModel.objects.filter(team=team, name=demo.name).first()
    if model is None:
        model = services.model_create(actor=actor, team=team, name=demo.name, **demo.fields)
        report.created(f"model {team.name}/{demo.name}")
    else:
        report.exists(f"model {team.name}/{demo.name}")
    lineage = [(data_versions[role], role) for role in SPLITS]
    for spec in demo.versions:
        model_version = ModelVersion.objects.filter(model=model, version=spec.version).first()
        if model_version is None:
            estimator = spec.build().fit(*splits[LineageRole.TRAINING])
            notes = " ".join(
                part
                for part in (
                    spec.notes,
                    _score_note(estimator, demo.fields["task"], *splits[LineageRole.EVALUATION]),
                )
                if part
            )
            with _spooled() as raw:
                extension = _serialize(estimator, raw, spec.serializer)
                model_version = services.model_version_register(
                    actor=actor,
                    model=model,
                    version=spec.version,
                    artifact=_as_upload(raw, f"{demo.name}-{spec.version}.{extension}"),
                    framework="scikit-learn",
                    dependencies=_requirements(spec.dependencies),
                    notes=notes,
                    lineage=lineage,
                )
            report.created(
                f"model version {demo.name} {spec.version} ({model_version.format}, "
                f"{model_version.size} bytes)"
            )
        else:
            report.exists(f"model version {demo.name} {spec.version}")
        for deployment in spec.deployments:
            environment = deployment["environment"]
            if Deployment.objects.filter(
                model_version=model_version, environment=environment, is_active=True
            ).exists():
                report.exists(f"deployment {demo.name} {spec.version} in {environment}")
                continue
            fields = {k: v for k, v in deployment.items() if k != "environment"}
            services.deployment_create(
                actor=actor, model_version=model_version, environment=environment, **fields
            )
            report.created(f"deployment {demo.name} {spec.version} in {environment}")


@transaction.atomic
def seed_demo() -> SeedReport:
    """Create the demo users, teams, datasets, models, versions and deployments that are missing.

    Returns what was created or found, with the one-time passwords of newly created users
    (kept in memory only: the database holds their hashes).
    """
    report = SeedReport()
    users = _seed_users(report)
    teams = _seed_teams(report, users)
    # Fresh user objects: permission checks cache team ids per user object.
    actors = {u.username: u for u in User.objects.filter(username__in=users)}
    dataset_versions = {}
    splits = {}
    for key, demo in DATASETS.items():
        table = demo.load()
        splits[key] = _splits(table, demo)
        dataset_versions[key] = _seed_dataset(
            report,
            demo,
            actors[demo.owner],
            teams[demo.team],
            [*table.feature_names, demo.label_column],
            splits[key],
        )
    for demo_model in MODELS:
        dataset = DATASETS[demo_model.dataset]
        _seed_model(
            report,
            demo_model,
            actors[dataset.owner],
            teams[dataset.team],
            splits[demo_model.dataset],
            dataset_versions[demo_model.dataset],
        )
    _seed_policies(report, actors["cora"])
    _suggest_threats(report)
    return report


def _suggest_threats(report: SeedReport) -> None:
    """Run the threat-suggestion rules over the demo assets, so their threat models start filled."""
    from apps.threats.services_suggestions import suggestions_refresh_all

    changed = suggestions_refresh_all()
    if changed:
        report.created(f"threat suggestions for {changed} assets")
    else:
        report.exists("threat suggestions (up to date)")


def _seed_policies(report: SeedReport, actor: User) -> None:
    """Access policies: one demo model with gaps for the review to show, one without."""
    from apps.policies.demo import seed_demo_policies

    for created, what in seed_demo_policies(actor=actor):
        (report.created if created else report.exists)(what)


def credentials_table(credentials: list[Credential]) -> str:
    """The new users' logins as an aligned plain-text table."""
    rows = [
        ("username", "role", "password"),
        *((c.username, c.role, c.password) for c in credentials),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
