"""Production-sized fake data for load tests and query tuning (`manage.py seed_scale`).

Rows are made by generators and streamed into the database: PostgreSQL COPY (psycopg 3's
`cursor.copy()`, one row at a time, never a million rows in memory), batched multi-row INSERTs
elsewhere (SQLite, for tests). 10,000 models and 1,000,000 findings load in a few minutes.

What it writes, consistently enough for every page, list and permission check to behave as it
would on real data:
- teams; users (one organisation role each, data scientists members of one or two teams);
- models, their versions (a fake SHA-256 and a content-addressed storage name, but NO file: a
  scan or download of a seeded version fails as "file missing" and means nothing), datasets and
  one version each, lineage from each model's latest version, a few deployments;
- threat assessments (ATLAS techniques of the installed catalogue) on models;
- scan runs, their findings (target, team and scans denormalised as the services set them) and
  one observation per finding;
- audit entries that continue the existing hash chain, hashed with apps.audit.chain, so
  `manage.py verify_audit_trail` passes afterwards.

Deterministic: the same seed and sizes give the same names, values and relations (ids depend on
what the tables already hold). Times are laid out before `epoch` (default: now); pass a fixed
epoch for byte-identical runs. Services are bypassed on purpose (they audit, queue scans and
check permissions one row at a time): this is a benchmark fixture, not a way to import data.
One transaction: a failure leaves nothing behind.
"""

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction

from apps.accounts.choices import Role, TeamRole
from apps.accounts.models import User
from apps.audit.chain import GENESIS_HASH, canonical_json, chain_hash, content_hash
from apps.audit.choices import AuditAction, Interface
from apps.audit.models import AuditEntry
from apps.core.exceptions import ApplicationError
from apps.core.storage import content_name
from apps.registry import choices as rc
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)
from apps.scans.choices import FindingStatus, ScanStatus, ScanTrigger, Severity
from apps.scans.models import Finding, FindingObservation, ScanRun
from apps.threats.choices import AssessmentOrigin, AssessmentStatus
from apps.threats.models import Technique, ThreatAssessment
from apps.threats.risk import risk_band, risk_score

SPAN = timedelta(days=365)  # seeded history spreads over the year before `epoch`
SQLITE_BATCH = 500

ADJECTIVES = (
    "amber", "brisk", "cobalt", "dapper", "eager", "frosty", "gentle", "hollow", "ivory", "jolly",
    "keen", "lucid", "mellow", "nimble", "opal", "plucky", "quiet", "rustic", "silent", "tidal",
)
NOUNS = (
    "badger", "condor", "dingo", "egret", "falcon", "gecko", "heron", "ibis", "jackal", "koala",
    "lemur", "marten", "newt", "ocelot", "puffin", "quokka", "raven", "stoat", "tapir", "urchin",
)
FINDING_TITLES = (
    "Pickle opcode imports {}", "Dependency {} has a known vulnerability",
    "Artifact digest differs from {}", "Policy requirement {} not met",
    "Unscanned member {} in archive",
)
SEVERITY_WEIGHTS = {
    Severity.INFO: 30, Severity.LOW: 30, Severity.MEDIUM: 25, Severity.HIGH: 12,
    Severity.CRITICAL: 3,
}
SCANNERS = ("artifact", "integrity", "supply-chain")


@dataclass(frozen=True)
class Sizes:
    """How many rows of each kind to add. Scans and deployments follow from the others unless
    given: one scan per 20 findings, one deployment per 10 models."""

    teams: int = 10
    users: int = 100
    models: int = 100
    versions_per_model: int = 3
    datasets: int = 50
    assessments: int = 300
    findings: int = 2_000
    audit_entries: int = 2_000
    scans: int | None = None
    deployments: int | None = None

    def __post_init__(self):
        for name in ("teams", "users", "models", "versions_per_model", "datasets",
                     "assessments", "findings", "audit_entries", "scans", "deployments"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ApplicationError(f"--{name.replace('_', '-')} must not be negative.")
        if self.teams < 1:
            raise ApplicationError("At least one team is needed (--teams).")
        if (self.models or self.datasets or self.findings) and self.users < 1:
            raise ApplicationError("At least one user is needed (--users).")
        if self.findings and not (self.models and self.versions_per_model):
            raise ApplicationError("Findings need model versions (--models, --versions-per-model).")

    @property
    def scan_count(self) -> int:
        if self.scans is not None:
            return self.scans if self.findings == 0 else max(self.scans, 1)
        return max(1, self.findings // 20) if self.findings else 0

    @property
    def deployment_count(self) -> int:
        if self.deployments is not None:
            return self.deployments
        return self.models // 10


@dataclass
class SeedReport:
    """Rows written and seconds spent per table, in the order written."""

    tables: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(rows for _, rows, _ in self.tables)

    @property
    def total_seconds(self) -> float:
        return sum(seconds for _, _, seconds in self.tables)


def username(prefix: str, index: int) -> str:
    return f"{prefix}-user-{index:06d}"


def user_role(index: int) -> str:
    """Roles by position, so a benchmark knows whom to log in as: every 20th user (0, 20, ...)
    is an auditor, the next one a compliance officer, the others data scientists."""
    return {0: Role.AUDITOR, 1: Role.COMPLIANCE_OFFICER}.get(index % 20, Role.DATA_SCIENTIST)


def team_name(prefix: str, index: int) -> str:
    return f"{prefix} team {index:04d}"


# --- Writing rows -------------------------------------------------------------------------------


class _Writer:
    """Streams rows of one model into its table: COPY on PostgreSQL, batched INSERT elsewhere.

    A row is a tuple of values for `columns` (attnames); every other concrete column gets its
    field default, so fields added later with a default do not break seeding.
    """

    def __init__(self, report: SeedReport, progress: Callable[[str], None]):
        self.report, self.progress = report, progress
        self.is_postgresql = connection.vendor == "postgresql"

    def next_id(self, model: type[models.Model]) -> int:
        pk = model._meta.pk.attname
        top = model.objects.aggregate(top=models.Max(pk))["top"]
        return (top or 0) + 1

    def write(self, model: type[models.Model], columns: Sequence[str],
              rows: Iterable[tuple]) -> int:
        started = time.perf_counter()
        fields = {f.attname: f for f in model._meta.concrete_fields}
        missing = [f for name, f in fields.items() if name not in columns]
        extra = tuple(_default(f) for f in missing)
        all_columns = [*columns, *(f.attname for f in missing)]
        ordered = [fields[name] for name in all_columns]
        if self.is_postgresql:
            from psycopg.types.json import Jsonb

            extra = tuple(Jsonb(value) if isinstance(f, models.JSONField) else value
                          for f, value in zip(missing, extra, strict=True))
            count = self._copy(model, ordered, rows, extra)
        else:
            count = self._insert(model, ordered, rows, extra)
        seconds = time.perf_counter() - started
        self.report.tables.append((model._meta.db_table, count, seconds))
        self.progress(f"{model._meta.db_table:32} {count:>10,} rows {seconds:8.1f} s")
        return count

    def _copy(self, model, fields, rows, extra) -> int:
        from psycopg.types.json import Jsonb

        given = len(fields) - len(extra)
        json_at = [i for i, f in enumerate(fields[:given]) if isinstance(f, models.JSONField)]
        quote = connection.ops.quote_name
        sql = (f"COPY {quote(model._meta.db_table)} "
               f"({', '.join(quote(f.column) for f in fields)}) FROM STDIN")
        count = 0
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = Jsonb(row[i])
                    row = tuple(row)
                copy.write_row(row + extra)
                count += 1
        return count

    def _insert(self, model, fields, rows, extra) -> int:
        quote = connection.ops.quote_name
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        head = (f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - quoted names
                f"({', '.join(quote(f.column) for f in fields)}) VALUES ")
        count, batch = 0, []
        with connection.cursor() as cursor:
            for row in rows:
                values = row + extra
                batch.append([f.get_db_prep_save(v, connection)
                              for f, v in zip(fields, values, strict=True)])
                if len(batch) == SQLITE_BATCH:
                    count += self._flush(cursor, head, placeholders, batch)
            count += self._flush(cursor, head, placeholders, batch)
        return count

    @staticmethod
    def _flush(cursor, head, placeholders, batch) -> int:
        if not batch:
            return 0
        cursor.execute(head + ", ".join([placeholders] * len(batch)),
                       [value for row in batch for value in row])
        written = len(batch)
        batch.clear()
        return written


def _default(f: models.Field):
    if f.has_default():
        return f.get_default()
    if f.null:
        return None
    if isinstance(f, models.DateTimeField):
        return datetime.now(UTC)
    return f.get_default()  # "" for text, None otherwise


# --- The seeder ---------------------------------------------------------------------------------


@dataclass
class _Version:
    id: int
    model_id: int
    team_id: int
    label: str


class _Seeder:
    def __init__(self, sizes: Sizes, *, seed: int, prefix: str, password: str | None,
                 epoch: datetime, progress: Callable[[str], None]):
        self.sizes, self.seed, self.prefix, self.epoch = sizes, seed, prefix, epoch
        self.rng = random.Random(seed)  # noqa: S311 - fake data, reproducible by design
        self.report = SeedReport()
        self.writer = _Writer(self.report, progress)
        # One hash for every seeded user: hashing a password takes a good part of a second.
        self.password = make_password(password) if password else "!seeded-scale-user"

    def when(self, fraction: float) -> datetime:
        """A time `fraction` of the way through the seeded year (0 = a year ago, 1 = epoch)."""
        return self.epoch - SPAN * (1 - fraction)

    def pick_user(self, team_id: int) -> int:
        members = self.members_by_team.get(team_id)
        return self.rng.choice(members) if members else self.rng.choice(self.user_ids)

    def run(self) -> SeedReport:
        self.teams()
        self.users()
        self.memberships()
        self.registry_models()
        self.model_versions()
        self.datasets()
        self.lineage_and_deployments()
        self.assessments()
        self.scans_and_findings()
        self.audit_entries()
        return self.report

    # -- accounts and teams --

    def teams(self):
        first = self.writer.next_id(Team)
        self.team_ids = list(range(first, first + self.sizes.teams))
        rows = (
            (first + i, team_name(self.prefix, i), f"Seeded team {i} for load tests.",
             self.when(i / max(self.sizes.teams, 1) * 0.1))
            for i in range(self.sizes.teams)
        )
        self.writer.write(Team, ("id", "name", "description", "created_at"), rows)

    def users(self):
        first = self.writer.next_id(User)
        n = self.sizes.users
        self.user_ids = list(range(first, first + n))
        self.user_info = {
            first + i: (username(self.prefix, i), str(user_role(i))) for i in range(n)
        }
        rows = (
            (first + i, self.password, False, username(self.prefix, i),
             self.rng.choice(ADJECTIVES).title(), self.rng.choice(NOUNS).title(),
             f"{username(self.prefix, i)}@example.org", False, True,
             self.when(0.05 * i / max(n, 1)), str(user_role(i)))
            for i in range(n)
        )
        columns = ("id", "password", "is_superuser", "username", "first_name", "last_name",
                   "email", "is_staff", "is_active", "date_joined", "role")
        self.writer.write(User, columns, rows)

    def memberships(self):
        pairs: list[tuple[int, int, str]] = []
        self.members_by_team: dict[int, list[int]] = {}
        scientists = [uid for i, uid in enumerate(self.user_ids)
                      if user_role(i) == Role.DATA_SCIENTIST]
        for n, uid in enumerate(scientists):
            teams = [self.team_ids[n % len(self.team_ids)]]
            if self.rng.random() < 0.3 and len(self.team_ids) > 1:
                other = self.rng.choice(self.team_ids)
                if other != teams[0]:
                    teams.append(other)
            for tid in teams:
                members = self.members_by_team.setdefault(tid, [])
                role = TeamRole.LEAD if not members else TeamRole.MEMBER
                members.append(uid)
                pairs.append((tid, uid, str(role)))
        first = self.writer.next_id(TeamMembership)
        rows = ((first + i, t, u, r, self.epoch - SPAN) for i, (t, u, r) in enumerate(pairs))
        self.writer.write(TeamMembership, ("id", "team_id", "user_id", "role", "created_at"),
                          rows)

    # -- registry --

    def registry_models(self):
        first = self.writer.next_id(MLModel)
        n = self.sizes.models
        self.model_ids = list(range(first, first + n))
        self.model_team = {}
        tiers = rc.RiskTier.values
        statuses = rc.LifecycleStatus.values
        tasks = rc.ModelTask.values

        def rows():
            for i in range(n):
                mid, tid = first + i, self.rng.choice(self.team_ids)
                self.model_team[mid] = tid
                created = self.when(0.1 + 0.5 * i / max(n, 1))
                name = f"{self.rng.choice(ADJECTIVES)}-{self.rng.choice(NOUNS)}-{i:05d}"
                yield (mid, tid, name, f"Seeded model {i}.", self.rng.choice(tasks),
                       "Load testing.", self.rng.choice(tiers), self.rng.choice(statuses),
                       self.pick_user(tid), created, created)

        columns = ("id", "team_id", "name", "description", "task", "intended_use", "risk_tier",
                   "lifecycle_status", "created_by_id", "created_at", "updated_at")
        self.writer.write(MLModel, columns, rows())

    def model_versions(self):
        first = self.writer.next_id(ModelVersion)
        per = self.sizes.versions_per_model
        self.versions: list[_Version] = []
        self.latest_version: dict[int, _Version] = {}
        formats = rc.ArtifactFormat.values
        frameworks = rc.Framework.values

        def rows():
            vid = first
            for n, mid in enumerate(self.model_ids):
                tid = self.model_team[mid]
                for k in range(per):
                    sha = hashlib.sha256(f"{self.seed}:{mid}:{k}".encode()).hexdigest()
                    label = f"1.{k}.0"
                    version = _Version(vid, mid, tid, label)
                    self.versions.append(version)
                    self.latest_version[mid] = version
                    registered = self.when(0.6 + 0.3 * (n * per + k) / max(len(self.model_ids)
                                                                          * per, 1))
                    yield (vid, mid, label, content_name("artifacts", sha), f"model-{k}.pkl", sha,
                           self.rng.randint(10_000, 500_000_000), self.rng.choice(formats),
                           self.rng.choice(frameworks), "", "", self.pick_user(tid), registered)
                    vid += 1

        columns = ("id", "model_id", "version", "artifact", "artifact_name", "sha256", "size",
                   "format", "framework", "dependencies", "notes", "registered_by_id",
                   "registered_at")
        self.writer.write(ModelVersion, columns, rows())

    def datasets(self):
        first = self.writer.next_id(Dataset)
        n = self.sizes.datasets
        self.dataset_team: dict[int, int] = {}
        sources = rc.DatasetSource.values

        def dataset_rows():
            for i in range(n):
                did, tid = first + i, self.rng.choice(self.team_ids)
                self.dataset_team[did] = tid
                created = self.when(0.1 + 0.5 * i / max(n, 1))
                name = f"{self.rng.choice(NOUNS)}-records-{i:05d}"
                yield (did, tid, name, f"Seeded dataset {i}.", self.rng.choice(sources),
                       "Generated by seed_scale.", "CC-BY-4.0", self.rng.random() < 0.3,
                       self.rng.random() < 0.1, self.rng.random() < 0.2, "label", "id", [],
                       self.pick_user(tid), created, created)

        columns = ("id", "team_id", "name", "description", "source", "provenance", "licence",
                   "has_personal_data", "has_health_data", "has_financial_data", "label_column",
                   "key_column", "sensitive_columns", "created_by_id", "created_at", "updated_at")
        self.writer.write(Dataset, columns, dataset_rows())

        first_version = self.writer.next_id(DatasetVersion)
        self.dataset_versions_by_team: dict[int, list[int]] = {}
        schema = [{"name": "id", "type": "integer"}, {"name": "amount", "type": "float"},
                  {"name": "label", "type": "boolean"}]

        def version_rows():
            for i, (did, tid) in enumerate(self.dataset_team.items()):
                vid = first_version + i
                self.dataset_versions_by_team.setdefault(tid, []).append(vid)
                sha = hashlib.sha256(f"{self.seed}:dataset:{did}".encode()).hexdigest()
                yield (vid, did, "1", content_name("datasets", sha), "data.csv", sha,
                       self.rng.randint(1_000, 50_000_000), self.rng.randint(10, 1_000_000),
                       schema, self.pick_user(tid), self.when(0.6))

        columns = ("id", "dataset_id", "version", "file", "file_name", "sha256", "size",
                   "row_count", "columns", "registered_by_id", "registered_at")
        self.writer.write(DatasetVersion, columns, version_rows())

    def lineage_and_deployments(self):
        first = self.writer.next_id(LineageLink)

        def lineage_rows():
            lid = first
            for version in self.latest_version.values():
                candidates = self.dataset_versions_by_team.get(version.team_id)
                if candidates:
                    yield (lid, version.id, self.rng.choice(candidates),
                           str(rc.LineageRole.TRAINING))
                    lid += 1

        self.writer.write(LineageLink, ("id", "model_version_id", "dataset_version_id", "role"),
                          lineage_rows())

        first = self.writer.next_id(Deployment)
        latest = list(self.latest_version.values())
        environments = rc.Environment.values

        def deployment_rows():
            for i in range(self.sizes.deployment_count if latest else 0):
                version = latest[(i * 7) % len(latest)]
                yield (first + i, version.id, self.rng.choice(environments),
                       f"https://models.example.org/{version.model_id}",
                       self.rng.choice(rc.Exposure.values), True, 600,
                       str(rc.OutputGranularity.LABEL), True,
                       self.pick_user(version.team_id), self.when(0.95), None)

        columns = ("id", "model_version_id", "environment", "endpoint_url", "exposure",
                   "requires_authentication", "rate_limit_per_minute", "output_granularity",
                   "is_active", "created_by_id", "created_at", "retired_at")
        self.writer.write(Deployment, columns, deployment_rows())

    # -- threat model --

    def assessments(self):
        n = self.sizes.assessments
        techniques = list(Technique.objects.filter(is_retired=False).order_by("atlas_id")
                          .values_list("id", "atlas_id"))
        self.technique_ids = [atlas_id for _, atlas_id in techniques]
        if n and not self.model_ids:
            raise ApplicationError("Assessments need models (--models).")
        if n and not techniques:
            raise ApplicationError("No ATLAS techniques installed: run `manage.py migrate` "
                                   "(it installs the shipped catalogue) before seeding.")
        if n > len(self.model_ids) * len(techniques):
            raise ApplicationError(
                f"At most {len(self.model_ids) * len(techniques):,} assessments fit "
                f"{len(self.model_ids):,} models x {len(techniques)} techniques."
            )
        first = self.writer.next_id(ThreatAssessment)
        statuses = (AssessmentStatus.OPEN, AssessmentStatus.OPEN, AssessmentStatus.MITIGATED)

        def rows():
            models_n = len(self.model_ids)
            for i in range(n):
                mid = self.model_ids[i % models_n]
                # Round r on a model takes the technique r places after the model's own start:
                # distinct per model, so the (model, technique) pairs are unique.
                technique_id = techniques[(i // models_n + mid) % len(techniques)][0]
                tid = self.model_team[mid]
                likelihood, impact = self.rng.randint(1, 5), self.rng.randint(1, 5)
                score = risk_score(likelihood, impact)
                residual_l = max(1, likelihood - self.rng.randint(0, 2))
                residual_score = risk_score(residual_l, impact)
                user = self.pick_user(tid)
                created = self.when(0.7 + 0.25 * i / max(n, 1))
                yield (first + i, mid, None, None, tid, technique_id, likelihood, impact,
                       score, risk_band(score), residual_l, impact, residual_score,
                       risk_band(residual_score), str(self.rng.choice(statuses)),
                       str(AssessmentOrigin.MANUAL), [], "Seeded.", user, user, created,
                       created)

        columns = ("id", "model_id", "dataset_id", "deployment_id", "team_id", "technique_id",
                   "likelihood", "impact", "inherent_score", "inherent_band",
                   "residual_likelihood", "residual_impact", "residual_score", "residual_band",
                   "status", "origin", "suggestion_rule_ids", "rationale", "created_by_id",
                   "updated_by_id", "created_at", "updated_at")
        self.writer.write(ThreatAssessment, columns, rows())

    # -- scans --

    def scans_and_findings(self):
        n_scans, n_findings = self.sizes.scan_count, self.sizes.findings
        if n_scans and not self.versions:
            raise ApplicationError("Scans need model versions (--models, --versions-per-model).")
        first_scan = self.writer.next_id(ScanRun)
        # Per scan: (version, finished time); findings spread over scans round-robin.
        scan_target: list[tuple[_Version, datetime]] = []

        def scan_rows():
            for s in range(n_scans):
                version = self.rng.choice(self.versions)
                created = self.when(0.9 + 0.1 * s / max(n_scans, 1))
                finished = created + timedelta(seconds=self.rng.randint(2, 600))
                scan_target.append((version, finished))
                found = n_findings // n_scans + (1 if s < n_findings % n_scans else 0)
                yield (first_scan + s, version.id, None, None, version.team_id,
                       list(SCANNERS), {}, str(ScanStatus.SUCCEEDED), 100, 1, "seed-scale", "",
                       {}, found, str(ScanTrigger.REGISTRATION), "",
                       self.pick_user(version.team_id), created, created, created, finished,
                       finished)

        columns = ("id", "model_version_id", "dataset_version_id", "deployment_id", "team_id",
                   "scanners", "params", "status", "progress", "attempts", "worker", "error",
                   "results", "findings_count", "trigger", "task_id", "created_by_id",
                   "created_at", "started_at", "attempt_started_at", "heartbeat_at",
                   "finished_at")
        self.writer.write(ScanRun, columns, scan_rows())

        first_finding = self.writer.next_id(Finding)
        severities, weights = list(SEVERITY_WEIGHTS), list(SEVERITY_WEIGHTS.values())
        atlas = [*self.technique_ids[:20], None] if self.technique_ids else [None]
        observation_rows: list = []  # severities only: one small string per finding

        def finding_rows():
            for j in range(n_findings):
                s = j % n_scans
                version, seen = scan_target[s]
                severity = self.rng.choices(severities, weights)[0]
                observation_rows.append(severity)
                status = (FindingStatus.OPEN if self.rng.random() < 0.8
                          else FindingStatus.FIXED)
                subject = f"{self.rng.choice(NOUNS)}.{self.rng.choice(ADJECTIVES)}"
                yield (first_finding + j, version.id, None, None, version.team_id,
                       first_scan + s, first_scan + s, SCANNERS[j % len(SCANNERS)],
                       f"{self.seed & 0xFFFFFFFF:08x}{j:056x}", str(severity),
                       self.rng.choice(atlas),
                       self.rng.choice(FINDING_TITLES).format(subject),
                       "Seeded finding: not the result of a real scan.", f"member/{j}", {},
                       str(status), seen, seen, seen if status == FindingStatus.FIXED else None)

        columns = ("id", "model_version_id", "dataset_version_id", "deployment_id", "team_id",
                   "scan_id", "first_scan_id", "scanner", "fingerprint", "severity",
                   "atlas_technique", "title", "detail", "location", "evidence", "status",
                   "first_seen_at", "last_seen_at", "fixed_at")
        self.writer.write(Finding, columns, finding_rows())

        first_observation = self.writer.next_id(FindingObservation)

        def observation_rows_iter():
            for j, severity in enumerate(observation_rows):
                s = j % n_scans
                yield (first_observation + j, first_scan + s, first_finding + j, str(severity),
                       scan_target[s][1])

        self.writer.write(FindingObservation,
                          ("id", "scan_id", "finding_id", "severity", "observed_at"),
                          observation_rows_iter())

    # -- audit trail --

    def audit_entries(self):
        n = self.sizes.audit_entries
        head = AuditEntry.objects.order_by("-seq").values_list("seq", "hash", "timestamp").first()
        last_seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
        # Entries continue the chain in time too: never before the current head.
        start = max(self.epoch - SPAN, head[2]) if head else self.epoch - SPAN
        step = (self.epoch - start) / max(n, 1)
        actions = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.UPDATE,
                   AuditAction.LOGIN_SUCCEEDED, AuditAction.DOWNLOAD)
        interfaces = (Interface.WEB, Interface.API, Interface.API, Interface.WORKER)

        def rows():
            nonlocal last_seq, prev_hash
            for k in range(n):
                uid = self.rng.choice(self.user_ids) if self.user_ids else None
                name, role = self.user_info.get(uid, ("", ""))
                action = self.rng.choice(actions)
                if action == AuditAction.LOGIN_SUCCEEDED or not self.model_ids:
                    object_type, object_id, object_repr, team_id = "accounts.user", uid, name, None
                    changes = {"method": "password"}
                else:
                    mid = self.rng.choice(self.model_ids)
                    object_type, object_id, team_id = "registry.mlmodel", mid, self.model_team[mid]
                    object_repr = f"model {mid}"
                    tier = self.rng.choice(rc.RiskTier.values)
                    changes = {"risk_tier": [None if action == AuditAction.CREATE else "minimal",
                                             tier]}
                fields = {
                    "timestamp": start + step * (k + 1), "actor_id": uid, "actor_name": name,
                    "actor_role": role, "action": str(action), "object_type": object_type,
                    "object_id": "" if object_id is None else str(object_id),
                    "object_repr": object_repr, "team_id": team_id,
                    "changes": canonical_json(changes), "ip": f"192.0.2.{k % 250 + 1}",
                    "request_id": f"{self.seed & 0xFFFFFFFF:08x}{k:024x}",
                    "interface": str(self.rng.choice(interfaces)),
                }
                last_seq += 1
                link = chain_hash(prev_hash, last_seq, content_hash(fields))
                yield (last_seq, *fields.values(), prev_hash, link)
                prev_hash = link

        columns = ("seq", "timestamp", "actor_id", "actor_name", "actor_role", "action",
                   "object_type", "object_id", "object_repr", "team_id", "changes", "ip",
                   "request_id", "interface", "prev_hash", "hash")
        self.writer.write(AuditEntry, columns, rows())


SEEDED_MODELS = (Team, User, TeamMembership, MLModel, ModelVersion, Dataset, DatasetVersion,
                 LineageLink, Deployment, ThreatAssessment, ScanRun, Finding, FindingObservation,
                 AuditEntry)


def _lock_tables() -> None:
    """PostgreSQL: nobody else writes the seeded tables until we commit (ids and the audit
    chain are computed from what the tables hold when we start)."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    tables = ", ".join(quote(m._meta.db_table) for m in SEEDED_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")


def _after_load() -> None:
    """Move id sequences past the ids written by hand; refresh the planner's statistics."""
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(SEEDED_MODELS)):
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            for model in SEEDED_MODELS:
                cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")


def seed_scale(*, sizes: Sizes, seed: int = 0, prefix: str = "scale", password: str | None = None,
               epoch: datetime | None = None,
               progress: Callable[[str], None] = lambda line: None) -> SeedReport:
    """Add `sizes` rows of every kind, deterministically from `seed`, in one transaction.

    Refuses (ApplicationError) when data with the same `prefix` exists already: names must be
    unique and a second run would clash. `password`, when given, becomes every seeded user's
    password (benchmarks log in with it); otherwise seeded users cannot log in.
    """
    if not prefix or len(prefix) > 40 or not prefix.replace("-", "").isalnum():
        raise ApplicationError("--prefix must be 1-40 letters, digits or dashes.")
    epoch = epoch or datetime.now(UTC)
    with transaction.atomic():
        _lock_tables()
        if Team.objects.filter(name=team_name(prefix, 0)).exists() or User.objects.filter(
            username=username(prefix, 0)
        ).exists():
            raise ApplicationError(
                f"Data seeded with the prefix {prefix!r} exists already: use another --prefix "
                "or a fresh database."
            )
        report = _Seeder(sizes, seed=seed, prefix=prefix, password=password, epoch=epoch,
                         progress=progress).run()
        started = time.perf_counter()
        _after_load()
        report.tables.append(("(sequences, ANALYZE)", 0, time.perf_counter() - started))
    return report

