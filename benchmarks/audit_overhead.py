"""What does the audit trail cost a write? 1,000 metadata-only model updates, audited and not.

Each update goes through apps.registry.services.model_update in its own transaction, as a web or
API request would (permission check, validation, save, commit). The baseline runs the same
updates inside `recording_suspended()`. Rounds alternate between the two modes so that drift
(caches, autovacuum, a busy machine) hits both alike. Prints per-update times and the overhead.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlgov_audit_dev \\
        .venv/bin/python benchmarks/audit_overhead.py [--updates 1000] [--rounds 10]

Without DATABASE_URL it runs on a throw-away SQLite file. On a real database it leaves a
benchmark team, user and model behind, and the audited updates' entries: the trail is
append-only, by design.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> str:
    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="mlgov-audit-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlgov.settings.local")
    # DEBUG keeps every query in memory and formats it: not what production pays.
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    return connection.vendor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000, help="updates per mode")
    parser.add_argument("--rounds", type=int, default=40, help="alternating rounds per mode")
    parser.add_argument("--warmup", type=int, default=100, help="untimed updates per mode")
    args = parser.parse_args()
    vendor = setup_django()

    from apps.accounts.choices import Role
    from apps.accounts.models import User
    from apps.audit.context import recording_suspended
    from apps.audit.models import AuditEntry
    from apps.registry import services
    from apps.registry.models import MLModel, Team, TeamMembership

    tag = uuid.uuid4().hex[:8]
    team = Team.objects.create(name=f"audit-bench-{tag}")
    user = User.objects.create(username=f"audit-bench-{tag}", role=Role.DATA_SCIENTIST)
    TeamMembership.objects.create(team=team, user=user)
    model = MLModel.objects.create(team=team, name=f"audit-bench-{tag}", created_by=user)
    counter = iter(range(10**9))

    def run(count: int, audited: bool) -> float:
        """Seconds for `count` updates, each changing the description (so each one saves)."""
        started = time.perf_counter()
        for _ in range(count):
            data = {"description": f"benchmark update {next(counter)}"}
            if audited:
                services.model_update(actor=user, model=model, data=data)
            else:
                with recording_suspended():
                    services.model_update(actor=user, model=model, data=data)
        return time.perf_counter() - started

    run(args.warmup, True)
    run(args.warmup, False)
    entries_before = AuditEntry.objects.filter(object_id=str(model.pk)).count()
    per_round = args.updates // args.rounds
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_number in range(args.rounds):
        # Alternate which mode goes first, so neither always runs on a warmer cache.
        for audited in ((False, True) if round_number % 2 == 0 else (True, False)):
            timings[audited].append(run(per_round, audited))
    recorded = AuditEntry.objects.filter(object_id=str(model.pk)).count() - entries_before
    total = per_round * args.rounds
    assert recorded == total, f"expected {total} audit entries, found {recorded}"

    base = sum(timings[False]) / total
    audited = sum(timings[True]) / total
    # Each audited round against the baseline round run next to it: slow drifts of a shared
    # machine cancel out; the median of these ratios is the robust figure, the quartiles its
    # spread.
    ratios = sorted(a / b - 1 for a, b in zip(timings[True], timings[False], strict=True))
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"database: {vendor}; {total} metadata-only model updates per mode "
          f"({args.rounds} alternating rounds of {per_round})")
    print(f"without audit: {base * 1e3:.3f} ms/update")
    print(f"with audit:    {audited * 1e3:.3f} ms/update")
    print(f"overhead (total time): {(audited / base - 1) * 100:.1f}%")
    print(f"overhead (median of paired rounds): {statistics.median(ratios) * 100:.1f}% "
          f"(quartiles {quartiles[0] * 100:.1f}% to {quartiles[2] * 100:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
