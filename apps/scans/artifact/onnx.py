"""ONNX models, read with a tiny protobuf walker (the ``onnx`` package is not needed).

ONNX has no code, but two things reach outside the model: tensors stored as *external
data* name a file path (``../../`` or absolute paths read files the model should not see),
and nodes in *custom operator domains* need a native operator library that is not part of
the artifact (onnxruntime-extensions' ``PyOp`` even runs Python). Both are reported;
local functions defined in the model itself are standard ops and are fine.
"""

from __future__ import annotations

from .blob import Blob
from .context import ScanContext, printable
from .report import Where

__all__ = ["scan_onnx"]

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
STANDARD_DOMAINS = frozenset(
    (
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
        "org.pytorch.aten",
    )
)
PYTHON_OPS = frozenset(("PyOp", "PythonOp", "PythonOpGrad", "PyFunc"))
MAX_DEPTH = 64
MAX_MESSAGES = 2_000_000

# Which fields of which message hold which sub-message (onnx/onnx.proto).
SCHEMA = {
    "model": {7: "graph", 8: "opset", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {13: "entry"},
    "function": {7: "node"},
    "opset": {},
    "entry": {},
}
STRINGS = {
    "node": {3: "name", 4: "op_type", 7: "domain"},
    "tensor": {8: "name"},
    "function": {1: "name", 10: "domain"},
    "entry": {1: "key", 2: "value"},
    "opset": {1: "domain"},
}


class _Malformed(Exception):  # noqa: N818
    pass


def scan_onnx(ctx: ScanContext, blob: Blob, where: Where) -> None:
    ctx.saw("onnx")
    try:
        nodes, functions, external = _walk(ctx, blob)
    except _Malformed as exc:
        ctx.not_scanned(where, "ONNX model", str(exc), subject="onnx-malformed")
        return
    reported: set[tuple[str, str]] = set()
    for domain, op_type in nodes:
        if (domain, op_type) in reported or (domain, op_type) in functions:
            continue
        if op_type in PYTHON_OPS:
            reported.add((domain, op_type))
            ctx.add(
                severity="high",
                kind="onnx-python-op",
                title=f"ONNX node runs Python ({printable(op_type)})",
                detail="This operator executes Python code registered with the runtime "
                "(onnxruntime-extensions); it is not part of the model and cannot be verified.",
                where=where,
                subject=f"{domain}:{op_type}",
                evidence={"domain": printable(domain), "op_type": printable(op_type)},
            )
        elif domain not in STANDARD_DOMAINS:
            reported.add((domain, op_type))
            ctx.add(
                severity="medium",
                kind="onnx-custom-op",
                title=f"ONNX custom operator {printable(domain)}::{printable(op_type)}",
                detail="The operator comes from a custom domain: running the model needs a "
                "native operator library that is not part of the artifact and was not scanned.",
                where=where,
                subject=f"{domain}:{op_type}",
                evidence={"domain": printable(domain), "op_type": printable(op_type)},
            )
    for tensor, location in external:
        _report_external(ctx, where, tensor, location)


def _report_external(ctx: ScanContext, where: Where, tensor: str, location: str) -> None:
    normalised = location.replace("\\", "/")
    escapes = (
        normalised.startswith(("/", "~"))
        or ".." in normalised.split("/")
        or (len(location) > 1 and location[1] == ":")
        or "://" in location
        or "\x00" in location
    )
    if escapes:
        ctx.add(
            severity="high",
            kind="onnx-external-path",
            title="ONNX external data path escapes the model directory",
            detail=f"Tensor {printable(tensor)!r} loads its data from {printable(location)!r}, "
            "outside the model's folder: loading the model reads that file.",
            where=where,
            subject=location,
            evidence={"tensor": printable(tensor), "location": printable(location)},
        )
    else:
        ctx.add(
            severity="low",
            kind="onnx-external-data",
            title="ONNX model keeps tensors in an external file",
            detail=f"Tensor data is read from {printable(location)!r}, which is not part of "
            "this artifact; scan that file separately.",
            where=where,
            subject=location,
            evidence={"tensor": printable(tensor), "location": printable(location)},
        )
        ctx.unreadable.append(f"{where}: external data file {printable(location)!r}")


def _walk(ctx: ScanContext, blob: Blob):
    """Visit the model's messages; returns (node domains/op types, local functions, external)."""
    data = blob.base
    nodes: list[tuple[str, str]] = []
    functions: set[tuple[str, str]] = set()
    external: list[tuple[str, str]] = []
    stack = [("model", blob.start, blob.end, 0)]
    messages = 0
    while stack:
        kind, start, end, depth = stack.pop()
        messages += 1
        if messages % 4096 == 0:
            ctx.budget.check_time()
        if messages > MAX_MESSAGES or depth > MAX_DEPTH:
            raise _Malformed("more nested messages than we walk")
        strings: dict[str, str] = {}
        location = None
        for number, wire, a, b in _fields(data, start, end):
            if wire != LEN:
                continue
            child = SCHEMA[kind].get(number)
            if child == "entry":
                entry = _strings(data, a, b, STRINGS["entry"])
                if entry.get("key") == "location":
                    location = entry.get("value", "")
            elif child:
                stack.append((child, a, b, depth + 1))
            elif number in STRINGS.get(kind, {}):
                strings[STRINGS[kind][number]] = bytes(data[a:b]).decode("utf-8", "replace")
        if kind == "node":
            nodes.append((strings.get("domain", ""), strings.get("op_type", "")))
        elif kind == "function":
            functions.add((strings.get("domain", ""), strings.get("name", "")))
        elif kind == "tensor" and location:
            external.append((strings.get("name", ""), location))
    return nodes, functions, external


def _strings(data, start: int, end: int, names: dict[int, str]) -> dict[str, str]:
    found = {}
    for number, wire, a, b in _fields(data, start, end):
        if wire == LEN and number in names:
            found[names[number]] = bytes(data[a:b]).decode("utf-8", "replace")
    return found


def _fields(data, pos: int, end: int):
    """Yield (field number, wire type, start, end) or (number, VARINT, value, 0)."""
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed(f"field number 0 at offset {pos}")
        if wire == VARINT:
            value, pos = _varint(data, pos, end)
            yield number, wire, value, 0
        elif wire == LEN:
            size, pos = _varint(data, pos, end)
            if pos + size > end:
                raise _Malformed(f"field {number} runs past its message at offset {pos}")
            yield number, wire, pos, pos + size
            pos += size
        elif wire == FIXED64:
            pos += 8
        elif wire == FIXED32:
            pos += 4
        else:
            raise _Malformed(f"unsupported wire type {wire} at offset {pos}")
        if pos > end:
            raise _Malformed("fixed-size field runs past its message")


def _varint(data, pos: int, end: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= end:
            raise _Malformed("varint runs past the end of its message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    raise _Malformed("varint longer than 10 bytes")
