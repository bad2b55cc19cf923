"""Reads of the audit trail: scoped lists, the chain head, and verification of the chain.

Scope (through apps.accounts.permissions.scope, the one home of authorization): compliance
officers, auditors and administrators read every entry; a data scientist reads the entries
about their teams' objects and the entries of their own actions.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.chain import GENESIS_HASH, entry_hash
from apps.audit.models import AuditEntry

FILTERS = ("actor", "action", "object_type", "object_id", "team_id", "interface", "since",
           "until")


def entry_list(*, user: User, filters: dict | None = None) -> QuerySet[AuditEntry]:
    """Entries `user` may read, newest first, narrowed by `filters` (keys of FILTERS).

    `actor` matches the actor's name (case-insensitive, part of it) or, when a number, their id;
    `since` and `until` are UTC dates, both included.
    """
    entries = AuditEntry.objects.all()
    scoped = perms.scope(entries, user)
    if perms.is_active_user(user) and not perms.reads_everything(user):
        # Their teams' objects (scope) or their own actions: one WHERE with an OR.
        scoped = scoped | entries.filter(actor_id=user.pk)
    return entry_filter(scoped, filters or {}).order_by("-seq")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def entry_filter(entries: QuerySet[AuditEntry], filters: dict) -> QuerySet[AuditEntry]:
    """Narrow entries by the filters of the pages and the API (keys of FILTERS)."""
    if actor := filters.get("actor"):
        actor = str(actor).strip()
        by_name = Q(actor_name__icontains=actor)
        entries = entries.filter(by_name | Q(actor_id=int(actor)) if actor.isdecimal() else by_name)
    for exact in ("action", "object_type", "object_id", "team_id", "interface"):
        if filters.get(exact) not in (None, ""):
            entries = entries.filter(**{exact: filters[exact]})
    if since := filters.get("since"):
        entries = entries.filter(timestamp__gte=_day_start(since))
    if until := filters.get("until"):
        entries = entries.filter(timestamp__lt=_day_start(until) + timedelta(days=1))
    return entries


def entry_get(*, user: User, seq) -> AuditEntry:
    return entry_list(user=user).get(seq=seq)


@dataclass(frozen=True)
class ChainHead:
    """The last link of the chain: print it in reports so that later tampering shows."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash}"


def chain_head() -> ChainHead:
    """The chain's current head: the last committed entry (one query on the primary key)."""
    head = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return ChainHead(*head) if head else ChainHead(0, GENESIS_HASH)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: ChainHead
    broken_seq: int | None = None
    problem: str = ""


def chain_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Walk the chain in order, recompute every hash, and name the first broken link.

    Only the entries up to the head read at the start are checked, so appends made while the
    walk runs cause no false alarm. Edited content, a forged hash that does not link, a removed
    or inserted entry all break a link. Removing the newest entries leaves a shorter valid
    chain: compare the head printed in an earlier report (`chain_head`) to catch that.
    """
    last = chain_head()
    entries = AuditEntry.objects.filter(seq__lte=last.seq).order_by("seq")
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in entries.iterator(chunk_size=chunk_size):
        problem = None
        if entry.seq != expected_seq:
            problem = (f"entry #{expected_seq} is missing: found #{entry.seq} after "
                       f"#{expected_seq - 1}")
        elif entry.prev_hash != prev_hash:
            problem = (f"prev_hash does not link to entry #{entry.seq - 1}: expected "
                       f"{prev_hash}, found {entry.prev_hash}")
        else:
            recomputed = entry_hash(entry)
            if recomputed != entry.hash:
                problem = (f"content does not match its hash: expected {recomputed}, "
                           f"found {entry.hash}")
        if problem:
            return VerifyResult(False, count, ChainHead(expected_seq - 1, prev_hash),
                                entry.seq, problem)
        expected_seq, prev_hash, count = entry.seq + 1, entry.hash, count + 1
    return VerifyResult(True, count, ChainHead(expected_seq - 1, prev_hash))
