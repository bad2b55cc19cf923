"""Values of the symbolic pickle machine, what a stream run yields, and how both are shown.

Every value remembers the opcode that made it (``pos``/``op``) and the values it was made
from (``deps``): following ``deps`` back gives the "opcode path" shown as evidence.
"""

from __future__ import annotations

from .blob import Blob

__all__ = [
    "BUFFER",
    "CALL",
    "CONST",
    "DICT",
    "LIST",
    "MAX_ITEMS",
    "OPNAMES",
    "PERSID",
    "REF",
    "SET",
    "TUPLE",
    "UNKNOWN",
    "Big",
    "Call",
    "Event",
    "Fatal",
    "Import",
    "Invalid",
    "OverLimit",
    "Stop",
    "StreamResult",
    "Truncated",
    "V",
    "opcode_path",
    "preview",
    "ref_name",
    "text_of",
]

# fmt: off
OPNAMES = {
    ord("("): "MARK", ord("."): "STOP", ord("0"): "POP", ord("1"): "POP_MARK",
    ord("2"): "DUP", ord("F"): "FLOAT", ord("I"): "INT", ord("J"): "BININT",
    ord("K"): "BININT1", ord("L"): "LONG", ord("M"): "BININT2", ord("N"): "NONE",
    ord("P"): "PERSID", ord("Q"): "BINPERSID", ord("R"): "REDUCE", ord("S"): "STRING",
    ord("T"): "BINSTRING", ord("U"): "SHORT_BINSTRING", ord("V"): "UNICODE",
    ord("X"): "BINUNICODE", ord("a"): "APPEND", ord("b"): "BUILD", ord("c"): "GLOBAL",
    ord("d"): "DICT", ord("}"): "EMPTY_DICT", ord("e"): "APPENDS", ord("g"): "GET",
    ord("h"): "BINGET", ord("i"): "INST", ord("j"): "LONG_BINGET", ord("l"): "LIST",
    ord("]"): "EMPTY_LIST", ord("o"): "OBJ", ord("p"): "PUT", ord("q"): "BINPUT",
    ord("r"): "LONG_BINPUT", ord("s"): "SETITEM", ord("t"): "TUPLE", ord(")"): "EMPTY_TUPLE",
    ord("u"): "SETITEMS", ord("G"): "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1",
    0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
    0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", ord("B"): "BINBYTES",
    ord("C"): "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
    0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
    0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
    0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}
"""Every opcode of protocols 0-5 (``pickletools.opcodes``), by byte value."""
# fmt: on

# Value kinds.
CONST, TUPLE, LIST, DICT, SET, REF, CALL, PERSID, BUFFER, UNKNOWN = range(10)

# Value kinds.
CONST, TUPLE, LIST, DICT, SET, REF, CALL, PERSID, BUFFER, UNKNOWN = range(10)

MAX_ITEMS = 256
"""Items remembered per list/dict/set; enough for argument tuples and wrapper states."""


class V:
    """A symbolic value: what it is (``kind``/``data``) and which opcode made it."""

    __slots__ = ("kind", "pos", "op", "data", "deps")

    def __init__(self, kind: int, pos: int, op: int, data=None, deps: tuple = ()) -> None:
        self.kind = kind
        self.pos = pos
        self.op = op
        self.data = data
        self.deps = deps


class Big:
    """A string/bytes constant left in the file: its type and absolute extent."""

    __slots__ = ("type", "start", "length", "encoding")

    def __init__(self, type_: type, start: int, length: int, encoding: str = "") -> None:
        self.type = type_
        self.start = start
        self.length = length
        self.encoding = encoding


class Call:
    """The result of calling ``func`` (REDUCE, NEWOBJ, INST, OBJ...), plus any BUILD state."""

    __slots__ = ("func", "args", "kwargs", "how", "state")

    def __init__(self, func: V, args: V | None, kwargs: V | None, how: str) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.how = how
        self.state = None


class Import:
    """One global the stream reaches, how, and where it is called."""

    __slots__ = ("module", "name", "how", "value", "count", "calls")

    def __init__(self, module: str, name: str, how: str, value: V) -> None:
        self.module = module
        self.name = name
        self.how = how
        self.value = value
        self.count = 0
        self.calls: list[tuple[int, str, V]] = []


class Event:
    """Something suspicious that is not a plain global: a kind, message and value."""

    __slots__ = ("kind", "pos", "message", "value")

    def __init__(self, kind: str, pos: int, message: str, value: V | None) -> None:
        self.kind = kind
        self.pos = pos
        self.message = message
        self.value = value


class StreamResult:
    """Everything learned from one pickle stream (offsets relative to the scanned blob)."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = start
        self.status = "stop"
        self.error = ""
        self.error_pos = start
        self.imports: dict[tuple[str, str], Import] = {}
        self.events: list[Event] = []
        self.anomalies: list[tuple[int, str]] = []
        self.nested: list[tuple[int, Blob, str, bool]] = []
        self.persids: list[V] = []
        self.regions: list[tuple[int, int]] = []
        self.children: list[StreamResult] = []
        self.opcodes = 0
        self.proto = 0
        self.value: V | None = None
        self.joblib = False
        self.blob: Blob | None = None

    @property
    def complete(self) -> bool:
        return self.status == "stop"


class Stop(Exception):  # noqa: N818 - control flow, not an error
    """STOP reached: the stream ended normally."""


class Truncated(Exception):  # noqa: N818
    """The data ended inside an opcode or before STOP."""


class Invalid(Exception):  # noqa: N818
    """A byte that is not an opcode, or an argument the unpickler would reject."""


class Fatal(Exception):  # noqa: N818
    """The machine cannot know where the stream continues (e.g. unsized inline data)."""


class OverLimit(Exception):  # noqa: N818
    """A bound of ``Limits`` was reached inside the stream."""


def text_of(value: V):
    """The constant str/bytes a value stands for (memo reads included), else ``None``."""
    if value.kind == CONST and isinstance(value.data, str | bytes):
        return value.data
    return None


def ref_name(value: V) -> str:
    module, name = value.data
    return f"{module}.{name}" if name else module


def preview(value: V | None, depth: int = 0) -> str:
    """A short, safe rendering of a symbolic value for evidence and messages."""
    if value is None:
        return "?"
    kind, data = value.kind, value.data
    if kind == CONST:
        if isinstance(data, Big):
            return f"<{data.type.__name__} of {data.length} bytes>"
        text = repr(data)
        return text if len(text) <= 80 else text[:77] + "..."
    if kind == REF:
        return ref_name(value)
    if depth >= 2:
        return "..."
    if kind == TUPLE:
        inner = ", ".join(preview(item, depth + 1) for item in data[:6])
        more = ", ..." if len(data) > 6 else ""
        return f"({inner}{more}{',' if len(data) == 1 else ''})"
    if kind == LIST:
        return f"[{', '.join(preview(item, depth + 1) for item in data[:6])}]"
    if kind == DICT:
        return (
            "{"
            + ", ".join(f"{preview(k, depth + 1)}: {preview(v, depth + 1)}" for k, v in data[:4])
            + "}"
        )
    if kind == SET:
        return "{" + ", ".join(preview(item, depth + 1) for item in data[:6]) + "}"
    if kind == CALL:
        if data is None:
            return "<build>"
        return f"{preview(data.func, depth + 1)}{preview(data.args, depth + 1)}"
    if kind == PERSID:
        return f"persistent_load({preview(data, depth + 1)})"
    return f"<{data}>"


def opcode_path(value: V | None, limit: int = 24) -> list[str]:
    """The opcodes that produced ``value``, in stream order: the evidence trail.

    Walks the value's provenance (operands, memo reads, call arguments) breadth-first and
    keeps the first ``limit`` steps, so huge argument lists cannot blow the report up.
    """
    if value is None:
        return []
    seen: set[int] = set()
    queue = [value]
    steps: list[V] = []
    while queue and len(steps) < limit:
        node = queue.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        steps.append(node)
        queue.extend(node.deps[:8])
    steps.sort(key=lambda node: node.pos)
    return [f"@{node.pos} {OPNAMES.get(node.op, '?')} {preview(node, 1)}" for node in steps]
