"""Turn pickle bytes into findings: every stream in a buffer, nested payloads, carved ones.

``scan_pickles`` runs the symbolic machine over one stream after another (a file may hold
several, and ``pickle.load`` called twice reads the second), judges each global, and
follows nested payloads (``pickle.loads(b"...")``, joblib object arrays). When a stream
cannot be followed to its STOP, the rest of the buffer is *carved*: every offset that could
start a pickle is tried, so a payload placed after an invalid opcode or after large binary
data is still found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .allowlist import judge
from .blob import Blob
from .context import ScanContext, printable
from .pickle_values import StreamResult, opcode_path, preview
from .pickle_vm import PickleVM
from .report import Where

__all__ = ["PickleOutcome", "carve", "looks_like_pickle", "scan_pickles"]

CARVE_CANDIDATES = re.compile(
    rb"\x80[\x02-\x05]"  # PROTO
    rb"|[ci][A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n"  # GLOBAL / INST
    rb"|\x8c[\x01-\x7f][A-Za-z_]"  # SHORT_BINUNICODE of a name (STACK_GLOBAL operands)
    rb"|X[\x01-\x7f]\x00\x00\x00[A-Za-z_]"  # BINUNICODE of a name
    rb"|V[A-Za-z_][\w.]{0,200}\n"  # UNICODE of a name
)
"""Offsets where a hidden pickle (or the part of one that imports something) may start."""

IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
CARVE_OPCODES = 100_000
CARVE_LONG_RUN = 256
CARVE_BUDGET = 20_000_000
"""Opcodes decoded in total by one carving pass before it gives up (and says so)."""
PROBE_OPCODES = 10_000
SPECULATIVE_OPCODES = 1_000_000

PICKLE_START_BYTES = frozenset(b"(}])NIJKLFSTUVXcip\x80\x8c\x95")
"""First bytes of real pickles (protocol 0/1 have no magic): checked before probing."""

EVENT_SEVERITY = {
    "dynamic-global": "critical",
    "marshal-payload": "critical",
    "dynamic-attribute": "high",
    "computed-call": "high",
    "mutates-global": "high",
    "extension-code": "high",
    "dunder-state": "high",
}
EVENT_TITLES = {
    "dynamic-global": "Global name computed at load time",
    "marshal-payload": "Marshalled Python code",
    "dynamic-attribute": "Attribute looked up by a computed name",
    "computed-call": "Call of a value computed at load time",
    "mutates-global": "Pickle modifies a global object",
    "extension-code": "Global hidden behind a copyreg extension code",
    "dunder-state": "Pickle state sets dunder attributes",
}


@dataclass
class PickleOutcome:
    """What ``scan_pickles`` read: the streams, where reading stopped and why."""

    streams: list[StreamResult] = field(default_factory=list)
    end: int = 0
    complete: bool = True
    trailing: bool = False


def looks_like_pickle(blob: Blob, ctx: ScanContext, offset: int = 0, *, text: bool = False) -> bool:
    """Whether a pickle starts at ``offset``: PROTO, or a protocol 0/1 start that decodes.

    Protocol 0/1 pickles have no magic, so a short symbolic run must reach STOP (or, for
    binary data, decode thousands of valid opcodes in a row). Text gets no such benefit of
    the doubt: ``cat\ndog\n`` decodes as a GLOBAL, so text must reach STOP to be a pickle;
    otherwise it is carved like any text.
    """
    head = blob.read(offset, 2)
    if len(head) < 2:
        return False
    if head[0] == 0x80:
        return head[1] <= 5
    if head[0] not in PICKLE_START_BYTES:
        return False
    probe = PickleVM(
        blob, offset, ctx.limits, ctx.budget, max_opcodes=PROBE_OPCODES, speculative=True
    ).run()
    if probe.complete:
        return probe.opcodes >= 2
    return not text and probe.opcodes >= PROBE_OPCODES


def scan_pickles(
    ctx: ScanContext,
    blob: Blob,
    where: Where,
    *,
    start: int = 0,
    max_streams: int | None = None,
    label: str = "pickle",
    depth: int = 0,
) -> PickleOutcome:
    """Scan the pickle streams in ``blob`` from ``start``; report what they reach.

    Stops after ``max_streams`` streams (the caller handles what follows), at the end of the
    data, or at bytes that do not start another stream (``trailing`` is then set and the
    caller decides what those bytes are). A stream that breaks off is reported as not fully
    scanned and the rest of the buffer is carved for hidden payloads.
    """
    ctx.saw("pickle")
    outcome = PickleOutcome(end=start)
    pos = start
    limit = max_streams or ctx.limits.max_pickle_streams
    while pos < len(blob):
        if len(outcome.streams) >= limit:
            if max_streams is None:
                ctx.not_scanned(
                    where,
                    f"pickle streams after #{limit}",
                    f"limit of {limit} streams per buffer reached",
                    subject="stream-limit",
                )
                outcome.complete = False
                carve(ctx, blob, pos, len(blob), where)
            break
        result = PickleVM(blob, pos, ctx.limits, ctx.budget, depth=depth).run()
        index = len(outcome.streams) + 1
        if outcome.streams and result.status == "invalid" and result.error_pos == pos:
            outcome.trailing = True  # not a pickle at all: the caller looks at these bytes
            break
        outcome.streams.append(result)
        here = where.child(f"{label} #{index} @ offset {pos}", key=label)
        report_stream(ctx, result, here, depth=depth)
        if not result.complete:
            outcome.complete = False
            ctx.not_scanned(
                here,
                f"pickle stream from offset {pos}",
                f"{result.error} at offset {result.error_pos}",
                subject=f"pickle-{result.status}",
                evidence={"status": result.status, "offset": result.error_pos},
            )
            ctx.budget.check_time()
            carve(ctx, blob, result.error_pos + 1, len(blob), where)
            outcome.end = len(blob)
            return outcome
        ctx.budget.check_time()
        pos = result.end
        outcome.end = pos
    return outcome


def report_stream(
    ctx: ScanContext,
    result: StreamResult,
    where: Where,
    *,
    depth: int = 0,
    quiet: bool = False,
    note: str = "",
) -> int:
    """Record findings for one stream; returns how many unsafe globals it reaches.

    ``quiet`` is for speculative decodes (carving, array data read as opcodes, bytes that
    merely look like a pickle): only unsafe globals with plausible names are reported,
    never parse problems, since those bytes were never claimed to be a pickle.
    """
    if result.joblib:
        ctx.saw("joblib")
    unsafe = 0
    for found in result.imports.values():
        judgement = judge(found.module, found.name)
        if judgement.verdict == "safe":
            continue
        if quiet and not _convincing(found, judgement.verdict, result):
            continue
        unsafe += 1
        _report_global(ctx, found, judgement, result, where, note)
    for event in result.events:
        if quiet and event.kind not in ("dynamic-global", "marshal-payload"):
            continue
        severity = EVENT_SEVERITY.get(event.kind, "high")
        unsafe += 1
        ctx.add(
            severity=severity,
            kind=event.kind,
            title=EVENT_TITLES.get(event.kind, event.kind),
            detail=f"{event.message}. Legitimate model pickles never need this; it is how "
            "payloads hide from scanners that only read opcode names." + note,
            where=where,
            subject=event.kind,
            evidence={
                "offset": event.pos,
                "opcode_path": opcode_path(event.value),
                "stream_offset": result.start,
            },
        )
    if result.anomalies and not quiet:
        ctx.add(
            severity="medium",
            kind="malformed-pickle",
            title="Malformed pickle stream",
            detail="The stream does things the unpickler rejects (see evidence). Real "
            "serialisers never write this; it is typical of hand-crafted payloads and of "
            "attempts to desynchronise scanners.",
            where=where,
            subject="malformed",
            evidence={"anomalies": [f"@{pos} {msg}" for pos, msg in result.anomalies[:10]]},
        )
    for child in result.children:
        unsafe += report_stream(
            ctx,
            child,
            where.child(f"object array pickle @ offset {child.start}", key="object-array"),
            depth=depth + 1,
            quiet=quiet,
        )
    if not quiet:
        _follow_nested(ctx, result, where, depth)
        _decode_array_regions(ctx, result, where, depth)
    return unsafe


def _report_global(ctx, found, judgement, result: StreamResult, where: Where, note: str) -> None:
    name = printable(judgement.name)
    called = bool(found.calls)
    verb = "calls" if called else "imports"
    via = {
        "getattr": " through a getattr chain",
        "import": " through a dynamic import",
        "STACK_GLOBAL": "",
        "GLOBAL": "",
        "INST": " (INST)",
    }.get(found.how, "")
    if judgement.verdict == "dangerous":
        title = f"Pickle {verb} {name} ({judgement.category})"
        detail = (
            f"Loading this pickle {verb} {name}{via}, a callable known to be dangerous "
            f"({judgement.category}). This is how malicious models run code on load."
        )
    else:
        title = f"Pickle {verb} unlisted global {name}"
        detail = (
            f"Loading this pickle {verb} {name}{via}, which is not on the allowlist of "
            "globals known to be safe; the unpickler would import and may run it."
        )
    calls = [f"@{pos} {how} {preview(args)}" for pos, how, args in found.calls]
    evidence = {
        "global": name,
        "category": judgement.category,
        "how": found.how,
        "opcode_path": opcode_path(found.value) + calls[:1],
        "references": found.count,
        "stream_offset": result.start,
        "protocol": result.proto,
    }
    if called:
        evidence["calls"] = calls
    ctx.add(
        severity=judgement.severity,
        kind="dangerous-global" if judgement.verdict == "dangerous" else "unlisted-global",
        title=title,
        detail=detail + note,
        where=where,
        subject=judgement.name,
        evidence=evidence,
    )


def _follow_nested(ctx: ScanContext, result: StreamResult, where: Where, depth: int) -> None:
    """Scan payloads handed to ``pickle.loads`` & co, and bytes that look like pickles."""
    claimed = {
        blob.tobytes()
        for _, blob, _, speculative in result.nested
        if not speculative and len(blob) <= 1 << 20
    }
    for pos, blob, reason, speculative in result.nested:
        if speculative and len(blob) <= 1 << 20 and blob.tobytes() in claimed:
            continue  # the same bytes are scanned as a loader's argument
        here = where.child(f"nested pickle ({reason}) @ offset {pos}", key=f"nested:{reason}")
        if depth + 1 > ctx.limits.max_depth:
            if not speculative:
                ctx.not_scanned(here, "nested pickle", "nesting limit reached", subject="depth")
            continue
        if speculative:
            probe = PickleVM(
                blob, 0, ctx.limits, ctx.budget, depth=depth + 1, max_opcodes=SPECULATIVE_OPCODES
            ).run()
            report_stream(ctx, probe, here, depth=depth + 1, quiet=True)
            continue
        scan_pickles(ctx, blob, here, label="stream", depth=depth + 1)


def _decode_array_regions(ctx: ScanContext, result: StreamResult, where: Where, depth: int) -> None:
    """Read joblib's inline array bytes the way plain ``pickle.load`` would.

    joblib skips them, but ``pickle.load`` on the same (uncompressed) file would execute
    them as opcodes: a payload can hide there from one loader and not the other.
    """
    blob = result.blob
    if not result.regions or blob is None:
        return
    for start, _end in result.regions[:1000]:
        probe = PickleVM(
            blob, start, ctx.limits, ctx.budget, max_opcodes=CARVE_OPCODES, speculative=True
        ).run()
        if probe.imports or probe.events:
            report_stream(
                ctx,
                probe,
                where.child(f"inline array data @ offset {start}", key="array-data"),
                depth=depth + 1,
                quiet=True,
                note=" The bytes sit where joblib expects raw array data, so joblib.load "
                "skips them but pickle.load executes them.",
            )


def carve(
    ctx: ScanContext, blob: Blob, start: int, end: int, where: Where, *, text: bool = False
) -> int:
    """Hunt for pickle payloads in bytes that were not parsed; returns streams reported.

    Tries every offset matching ``CARVE_CANDIDATES`` (bounded), runs a short symbolic
    decode there and reports only convincing unsafe globals, so random binary data and prose
    do not produce noise. ``text`` marks plain text, where an unfinished search is only low.
    """
    reported = 0
    tried = 0
    spent = 0
    resume = start
    limit = ctx.limits.max_carve_candidates
    for match in CARVE_CANDIDATES.finditer(blob.base, blob.start + start, blob.start + end):
        at = match.start() - blob.start
        if at < resume:
            continue
        tried += 1
        if tried > limit or spent > CARVE_BUDGET:
            # Text is not executable by any loader, so an unfinished search there is low.
            ctx.not_scanned(
                where,
                f"bytes from offset {at} searched for hidden pickles",
                "the search budget for hidden pickles ran out",
                subject="carve-limit",
                severity="low" if text else "medium",
                kind="not-searched" if text else "not-scanned",
            )
            break
        if tried % 256 == 0:
            ctx.budget.check_time()
        probe = PickleVM(
            blob, at, ctx.limits, ctx.budget, max_opcodes=CARVE_OPCODES, speculative=True
        ).run()
        spent += probe.opcodes
        decoded_to = max(probe.end, probe.error_pos, at + 1)
        if probe.opcodes >= CARVE_LONG_RUN:
            # A long run of valid opcodes was followed as one stream: starting again at
            # every offset inside it would make the search quadratic.
            resume = decoded_to
        if not probe.imports and not probe.events:
            continue
        found = report_stream(
            ctx, probe, where.child(f"carved pickle @ offset {at}", key="carved"), quiet=True
        )
        if found:
            reported += 1
            resume = decoded_to
    return reported


def _convincing(found, verdict: str, result: StreamResult) -> bool:
    """Whether a global from a speculative decode is worth reporting.

    Carved bytes are not known to be a pickle: text like ``cat\ndog\n`` decodes as a
    GLOBAL. Known-dangerous names are always reported; other names only when the decode
    also calls them and reaches STOP, which random bytes practically never do.
    """
    if not _plausible(found.module, found.name):
        return False
    return verdict == "dangerous" or (bool(found.calls) and result.complete)


def _plausible(module: str, name: str) -> bool:
    """Names an unpickler could actually import (filters noise from carved garbage)."""
    return bool(IDENTIFIER.match(module)) and (not name or bool(IDENTIFIER.match(name)))
