"""A symbolic pickle machine: follows the unpickler's stack and memo without running anything.

``pickletools.genops`` only decodes opcodes; scanners built on it lose track of *values*, and
that is what the published bypasses exploit: module and attribute names fetched from the
memo or built by calls before ``STACK_GLOBAL``, ``MEMOIZE`` indices that are not a simple
counter, callables reached through ``getattr`` chains, payloads after raw array data.
This machine mirrors CPython's ``_pickle.c``/``pickle.py`` closely enough to know what each
``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``, ``NEWOBJ``, ``REDUCE`` and ``BUILD`` acts on,
with every value remembering the opcodes that produced it (the evidence "opcode path").

Deliberately conservative where the real unpickler would stop with an error (stack
underflow, missing memo entry...): the anomaly is recorded and decoding goes on with a
placeholder, so a payload placed after a deliberate error is still seen.

Nothing is imported, called or unpickled; the only values materialised are small constants.
"""

from __future__ import annotations

import codecs
import struct

from .blob import Blob
from .limits import Budget, Limits, TimeLimitReached
from .pickle_calls import CallOps
from .pickle_values import (
    BUFFER,
    CONST,
    DICT,
    LIST,
    MAX_ITEMS,
    OPNAMES,
    REF,
    SET,
    TUPLE,
    UNKNOWN,
    Big,
    Event,
    Fatal,
    Invalid,
    OverLimit,
    Stop,
    StreamResult,
    Truncated,
    V,
    opcode_path,
    preview,
    ref_name,
)

__all__ = ["OPNAMES", "PickleVM", "StreamResult", "V", "opcode_path", "preview"]

MAX_CONST = 1 << 16
"""Strings/bytes longer than this stay in the file (a ``Big`` reference), not in memory."""

CHECK_EVERY = 4096

MAX_LINE = 1 << 16
"""Longest GLOBAL/INST/GET/PUT/INT line we decode; real ones are short."""

_UNPACK_D = struct.Struct(">d").unpack_from


class PickleVM(CallOps):
    """Run one pickle stream symbolically from ``start`` (relative to ``blob``) to STOP."""

    def __init__(
        self,
        blob: Blob,
        start: int,
        limits: Limits,
        budget: Budget,
        *,
        depth: int = 0,
        max_opcodes: int | None = None,
        speculative: bool = False,
    ) -> None:
        self.blob = blob
        self.data = blob.base
        self.origin = blob.start
        self.end = blob.end
        self.start = blob.start + start
        self.limits = limits
        self.budget = budget
        self.depth = depth
        self.max_opcodes = max_opcodes or limits.max_pickle_opcodes
        self.speculative = speculative
        self.stack: list[V] = []
        self.metastack: list[list[V]] = []
        self.saved = 0
        self.memo: dict[int, V] = {}
        self.result = StreamResult(start)
        self.result.blob = blob

    # ------------------------------------------------------------------ driver

    def run(self) -> StreamResult:
        result = self.result
        dispatch = _dispatch_table(type(self))
        data = self.data
        end = self.end
        pos = self.start
        count = 0
        next_check = min(CHECK_EVERY, self.max_opcodes)
        at = pos
        try:
            while True:
                if pos >= end:
                    raise Truncated("data ended before STOP")
                at = pos
                handler = dispatch[data[pos]]
                if handler is None:
                    raise Invalid(f"invalid opcode 0x{data[pos]:02x}")
                pos = handler(self, pos + 1, at)
                count += 1
                if count >= next_check:
                    self._check(count)
                    next_check = min(count + CHECK_EVERY, self.max_opcodes)
        except Stop:
            result.status = "stop"
            pos = at + 1
            if self.stack:
                result.value = self.stack[-1]
        except Truncated as exc:
            self._fail("truncated", str(exc), at)
        except Invalid as exc:
            self._fail("invalid", str(exc), at)
        except Fatal as exc:
            self._fail("error", str(exc), at)
        except OverLimit as exc:
            self._fail("limit", str(exc), at)
        except TimeLimitReached as exc:
            self._fail("limit", str(exc), at)
        except (RecursionError, MemoryError) as exc:  # defensive: keep what we learned
            self._fail("limit", f"resources exhausted ({type(exc).__name__})", at)
        result.opcodes = count
        result.end = (pos if result.status == "stop" else at) - self.origin
        return result

    def _fail(self, status: str, message: str, at: int) -> None:
        self.result.status = status
        self.result.error = message
        self.result.error_pos = at - self.origin

    def _check(self, count: int) -> None:
        self.budget.check_time()
        if count >= self.max_opcodes:
            raise OverLimit(f"opcode limit of {self.max_opcodes} reached")
        live = len(self.stack) + len(self.memo) + self.saved + len(self.metastack)
        if live > self.limits.max_pickle_values:
            raise OverLimit(f"value limit of {self.limits.max_pickle_values} reached")

    # ------------------------------------------------------------------ helpers

    def _rel(self, at: int) -> int:
        return at - self.origin

    def _anomaly(self, at: int, message: str) -> None:
        if len(self.result.anomalies) < 50:
            self.result.anomalies.append((self._rel(at), message))

    def _event(self, kind: str, at: int, message: str, value: V | None) -> None:
        if len(self.result.events) < 200:
            self.result.events.append(Event(kind, self._rel(at), message, value))

    def _need(self, p: int, n: int) -> None:
        if n < 0 or p + n > self.end:
            raise Truncated(f"argument of {n} bytes runs past the end of the data")

    def _uint(self, p: int, n: int) -> int:
        self._need(p, n)
        return int.from_bytes(self.data[p : p + n], "little")

    def _line(self, p: int) -> tuple[bytes, int]:
        nl = self.data.find(b"\n", p, self.end)
        if nl < 0:
            raise Truncated("no newline before the end of the data")
        return self.data[p:nl], nl + 1

    def _short_line(self, p: int, what: str) -> tuple[bytes, int]:
        nl = self.data.find(b"\n", p, min(self.end, p + MAX_LINE))
        if nl < 0:
            if self.end - p > MAX_LINE:
                raise Invalid(f"{what} line longer than {MAX_LINE} bytes")
            raise Truncated("no newline before the end of the data")
        return self.data[p:nl], nl + 1

    def _push(self, kind: int, at: int, data=None, deps: tuple = ()) -> V:
        value = V(kind, at - self.origin, self.data[at], data, deps)
        self.stack.append(value)
        return value

    def _pop(self, at: int) -> V:
        if self.stack:
            return self.stack.pop()
        self._anomaly(at, f"{self._name(at)} on an empty stack")
        return V(UNKNOWN, self._rel(at), self.data[at], "stack underflow")

    def _top(self, at: int) -> V:
        if self.stack:
            return self.stack[-1]
        self._anomaly(at, f"{self._name(at)} on an empty stack")
        return self._push(UNKNOWN, at, "stack underflow")

    def _pop_mark(self, at: int) -> list[V]:
        items = self.stack
        if not self.metastack:
            self._anomaly(at, f"{self._name(at)} without a MARK")
            self.stack = []
            return items
        self.stack = self.metastack.pop()
        self.saved -= len(self.stack)
        return items

    def _name(self, at: int) -> str:
        return OPNAMES.get(self.data[at], "?")

    def _const_text(self, p: int, n: int, at: int, encoding: str) -> V:
        """Push a str constant of ``n`` raw bytes at ``p`` (decoded lazily when large)."""
        self._need(p, n)
        if n > MAX_CONST:
            return self._push(CONST, at, Big(str, p, n, encoding))
        raw = self.data[p : p + n]
        try:
            text = (
                raw.decode(encoding, "surrogatepass")
                if encoding == "utf-8"
                else (raw.decode(encoding))
            )
        except (UnicodeDecodeError, ValueError):
            self._anomaly(at, f"string constant is not valid {encoding}")
            text = raw.decode("latin-1")
        return self._push(CONST, at, text)

    def _const_bytes(self, p: int, n: int, at: int, type_: type = bytes) -> V:
        self._need(p, n)
        if n > MAX_CONST:
            value = self._push(CONST, at, Big(type_, p, n))
        else:
            value = self._push(CONST, at, type_(self.data[p : p + n]))
        if n >= 4 and self.data[p] == 0x80 and 2 <= self.data[p + 1] <= 5:
            self._nested(at, Blob(self.data, p, p + n), "bytes constant holding a pickle", True)
        return value

    def _nested(self, at: int, blob: Blob, reason: str, speculative: bool) -> None:
        if len(self.result.nested) < 32 and len(blob) > 1:
            self.result.nested.append((self._rel(at), blob, reason, speculative))

    # ------------------------------------------------------------------ framing & control

    def op_proto(self, p: int, at: int) -> int:
        version = self._uint(p, 1)
        if version > 5:
            raise Invalid(f"unsupported pickle protocol {version}")
        self.result.proto = version
        return p + 1

    def op_frame(self, p: int, at: int) -> int:
        length = self._uint(p, 8)
        if p + 8 + length > self.end:
            self._anomaly(at, f"FRAME of {length} bytes runs past the end of the data")
        return p + 8

    def op_stop(self, p: int, at: int) -> int:
        raise Stop

    def op_mark(self, p: int, at: int) -> int:
        self.metastack.append(self.stack)
        self.saved += len(self.stack)
        self.stack = []
        return p

    def op_pop(self, p: int, at: int) -> int:
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark(at)  # CPython: POP on an empty frame discards the MARK
        return p

    def op_pop_mark(self, p: int, at: int) -> int:
        self._pop_mark(at)
        return p

    def op_dup(self, p: int, at: int) -> int:
        self.stack.append(self._top(at))
        return p

    # ------------------------------------------------------------------ constants

    def op_none(self, p: int, at: int) -> int:
        self._push(CONST, at, None)
        return p

    def op_newtrue(self, p: int, at: int) -> int:
        self._push(CONST, at, True)
        return p

    def op_newfalse(self, p: int, at: int) -> int:
        self._push(CONST, at, False)
        return p

    def op_int(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "INT")
        if line == b"00":
            value = False
        elif line == b"01":
            value = True
        else:
            try:
                value = int(line, 0)
            except ValueError:
                try:
                    value = int(line)
                except ValueError:
                    raise Invalid("INT argument is not a number") from None
        self._push(CONST, at, value)
        return p

    def op_binint(self, p: int, at: int) -> int:
        self._need(p, 4)
        self._push(CONST, at, int.from_bytes(self.data[p : p + 4], "little", signed=True))
        return p + 4

    def op_binint1(self, p: int, at: int) -> int:
        self._push(CONST, at, self._uint(p, 1))
        return p + 1

    def op_binint2(self, p: int, at: int) -> int:
        self._push(CONST, at, self._uint(p, 2))
        return p + 2

    def op_long(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "LONG")
        if line.endswith(b"L"):
            line = line[:-1]
        try:
            value = int(line, 0)
        except ValueError:
            try:
                value = int(line)
            except ValueError:
                raise Invalid("LONG argument is not a number") from None
        self._push(CONST, at, value)
        return p

    def _long_n(self, p: int, at: int, size_bytes: int) -> int:
        self._need(p, size_bytes)
        n = int.from_bytes(self.data[p : p + size_bytes], "little", signed=size_bytes == 4)
        if n < 0:
            raise Invalid("LONG4 with a negative byte count")
        p += size_bytes
        self._need(p, n)
        if n > 64:
            self._push(CONST, at, Big(int, p, n))
        else:
            self._push(CONST, at, int.from_bytes(self.data[p : p + n], "little", signed=True))
        return p + n

    def op_long1(self, p: int, at: int) -> int:
        return self._long_n(p, at, 1)

    def op_long4(self, p: int, at: int) -> int:
        return self._long_n(p, at, 4)

    def op_float(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "FLOAT")
        try:
            value = float(line)
        except ValueError:
            raise Invalid("FLOAT argument is not a number") from None
        self._push(CONST, at, value)
        return p

    def op_binfloat(self, p: int, at: int) -> int:
        self._need(p, 8)
        self._push(CONST, at, _UNPACK_D(self.data, p)[0])
        return p + 8

    def op_string(self, p: int, at: int) -> int:
        line, p = self._line(p)
        if len(line) < 2 or line[:1] != line[-1:] or line[:1] not in (b"'", b'"'):
            raise Invalid("STRING argument is not quoted")
        body = line[1:-1]
        if len(body) > MAX_CONST:
            start = p - 1 - len(line) + 1
            self._push(CONST, at, Big(str, start, len(body), "escape"))
            return p
        try:
            raw = codecs.escape_decode(body)[0]
        except ValueError:
            raise Invalid("STRING argument has a bad escape") from None
        self._push(CONST, at, raw.decode("latin-1"))
        return p

    def op_binstring(self, p: int, at: int) -> int:
        self._need(p, 4)
        n = int.from_bytes(self.data[p : p + 4], "little", signed=True)
        if n < 0:
            raise Invalid("BINSTRING with a negative length")
        self._const_text(p + 4, n, at, "latin-1")
        return p + 4 + n

    def op_short_binstring(self, p: int, at: int) -> int:
        n = self._uint(p, 1)
        self._const_text(p + 1, n, at, "latin-1")
        return p + 1 + n

    def op_unicode(self, p: int, at: int) -> int:
        start = p
        line, p = self._line(p)
        if len(line) > MAX_CONST:
            self._push(CONST, at, Big(str, start, len(line), "raw-unicode-escape"))
            return p
        try:
            text = line.decode("raw-unicode-escape")
        except UnicodeDecodeError:
            raise Invalid("UNICODE argument has a bad escape") from None
        self._push(CONST, at, text)
        return p

    def op_binunicode(self, p: int, at: int) -> int:
        n = self._uint(p, 4)
        self._const_text(p + 4, n, at, "utf-8")
        return p + 4 + n

    def op_short_binunicode(self, p: int, at: int) -> int:
        n = self._uint(p, 1)
        self._const_text(p + 1, n, at, "utf-8")
        return p + 1 + n

    def op_binunicode8(self, p: int, at: int) -> int:
        n = self._uint(p, 8)
        self._const_text(p + 8, n, at, "utf-8")
        return p + 8 + n

    def op_binbytes(self, p: int, at: int) -> int:
        n = self._uint(p, 4)
        self._const_bytes(p + 4, n, at)
        return p + 4 + n

    def op_short_binbytes(self, p: int, at: int) -> int:
        n = self._uint(p, 1)
        self._const_bytes(p + 1, n, at)
        return p + 1 + n

    def op_binbytes8(self, p: int, at: int) -> int:
        n = self._uint(p, 8)
        self._const_bytes(p + 8, n, at)
        return p + 8 + n

    def op_bytearray8(self, p: int, at: int) -> int:
        n = self._uint(p, 8)
        self._const_bytes(p + 8, n, at, bytearray)
        return p + 8 + n

    def op_next_buffer(self, p: int, at: int) -> int:
        self._push(BUFFER, at, "out-of-band buffer")
        return p

    def op_readonly_buffer(self, p: int, at: int) -> int:
        self._top(at)
        return p

    # ------------------------------------------------------------------ containers

    def op_empty_tuple(self, p: int, at: int) -> int:
        self._push(TUPLE, at, ())
        return p

    def _tuple_n(self, p: int, at: int, n: int) -> int:
        items = tuple(reversed([self._pop(at) for _ in range(n)]))
        self._push(TUPLE, at, items, items)
        return p

    def op_tuple1(self, p: int, at: int) -> int:
        return self._tuple_n(p, at, 1)

    def op_tuple2(self, p: int, at: int) -> int:
        return self._tuple_n(p, at, 2)

    def op_tuple3(self, p: int, at: int) -> int:
        return self._tuple_n(p, at, 3)

    def op_tuple(self, p: int, at: int) -> int:
        items = tuple(self._pop_mark(at))
        self._push(TUPLE, at, items, items[:MAX_ITEMS])
        return p

    def op_empty_list(self, p: int, at: int) -> int:
        self._push(LIST, at, [])
        return p

    def op_list(self, p: int, at: int) -> int:
        self._push(LIST, at, self._pop_mark(at)[:MAX_ITEMS])
        return p

    def op_empty_dict(self, p: int, at: int) -> int:
        self._push(DICT, at, [])
        return p

    def op_dict(self, p: int, at: int) -> int:
        items = self._pop_mark(at)
        if len(items) % 2:
            self._anomaly(at, "DICT with an odd number of items")
        pairs = list(zip(items[0::2], items[1::2], strict=False))[:MAX_ITEMS]
        self._push(DICT, at, pairs)
        return p

    def op_empty_set(self, p: int, at: int) -> int:
        self._push(SET, at, [])
        return p

    def op_frozenset(self, p: int, at: int) -> int:
        self._push(SET, at, self._pop_mark(at)[:MAX_ITEMS])
        return p

    def _into(self, target: V, at: int, items: list, kind: int, what: str) -> None:
        """Add items to a container; note when the target is not a plain container."""
        if target.kind == kind:
            room = MAX_ITEMS - len(target.data)
            if room > 0:
                target.data.extend(items[:room])
        elif target.kind == REF:
            self._event(
                "mutates-global",
                at,
                f"{self._name(at)} {what} the global object {ref_name(target)} itself",
                target,
            )
        elif target.kind in (CONST, TUPLE, BUFFER):
            self._anomaly(at, f"{self._name(at)} on a value that cannot take items")

    def op_append(self, p: int, at: int) -> int:
        value = self._pop(at)
        self._into(self._top(at), at, [value], LIST, "appends to")
        return p

    def op_appends(self, p: int, at: int) -> int:
        items = self._pop_mark(at)
        self._into(self._top(at), at, items, LIST, "appends to")
        return p

    def op_setitem(self, p: int, at: int) -> int:
        value = self._pop(at)
        key = self._pop(at)
        self._into(self._top(at), at, [(key, value)], DICT, "sets items on")
        return p

    def op_setitems(self, p: int, at: int) -> int:
        items = self._pop_mark(at)
        if len(items) % 2:
            self._anomaly(at, "SETITEMS with an odd number of items")
        pairs = list(zip(items[0::2], items[1::2], strict=False))
        self._into(self._top(at), at, pairs, DICT, "sets items on")
        return p

    def op_additems(self, p: int, at: int) -> int:
        items = self._pop_mark(at)
        self._into(self._top(at), at, items, SET, "adds items to")
        return p

    # ------------------------------------------------------------------ memo

    def _get(self, at: int, key: int) -> None:
        value = self.memo.get(key)
        if value is None:
            self._anomaly(at, f"memo entry {key} read before it was written")
            self._push(UNKNOWN, at, f"missing memo {key}")
            return
        # A fresh node sharing the payload: mutations still reach the original object, and
        # the opcode path shows the memo read.
        self._push(value.kind, at, value.data, (value,))

    def op_get(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "GET")
        try:
            key = int(line)
        except ValueError:
            raise Invalid("GET argument is not a number") from None
        self._get(at, key)
        return p

    def op_binget(self, p: int, at: int) -> int:
        self._get(at, self._uint(p, 1))
        return p + 1

    def op_long_binget(self, p: int, at: int) -> int:
        self._get(at, self._uint(p, 4))
        return p + 4

    def _put(self, at: int, key: int) -> None:
        if key < 0:
            self._anomaly(at, "negative memo index")
        self.memo[key] = self._top(at)

    def op_put(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "PUT")
        try:
            key = int(line)
        except ValueError:
            raise Invalid("PUT argument is not a number") from None
        self._put(at, key)
        return p

    def op_binput(self, p: int, at: int) -> int:
        self._put(at, self._uint(p, 1))
        return p + 1

    def op_long_binput(self, p: int, at: int) -> int:
        self._put(at, self._uint(p, 4))
        return p + 4

    def op_memoize(self, p: int, at: int) -> int:
        # CPython stores at len(memo), the number of *distinct* keys, not a running count:
        # mixing PUT and MEMOIZE makes this overwrite or skip indices, which scanners that
        # count MEMOIZE opcodes get wrong.
        self.memo[len(self.memo)] = self._top(at)
        return p


_TABLES: dict[type, list] = {}


def _dispatch_table(cls: type) -> list:
    """Opcode byte -> handler function (``None`` for bytes that are not opcodes), per class."""
    table = _TABLES.get(cls)
    if table is None:
        table = [None] * 256
        for code, name in OPNAMES.items():
            table[code] = getattr(cls, "op_" + name.lower())
        _TABLES[cls] = table
    return table
