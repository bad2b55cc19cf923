"""Globals, calls and BUILD for the symbolic pickle machine (a mixin of ``PickleVM``).

This is where the bypasses are undone: ``STACK_GLOBAL`` operands are followed through the
memo and through folded calls (``_codecs.encode`` with rot13...), ``getattr``/``__import__``
chains become references judged like any global, payloads handed to ``pickle.loads`` or
``marshal.loads`` are queued for scanning, and joblib's inline array data is skipped exactly
as ``joblib.load`` does, instead of being misread as opcodes.
"""

from __future__ import annotations

import codecs
import re

from .blob import Blob
from .pickle_values import (
    BUFFER,
    CALL,
    CONST,
    DICT,
    LIST,
    MAX_ITEMS,
    PERSID,
    REF,
    TUPLE,
    UNKNOWN,
    Big,
    Call,
    Fatal,
    Import,
    V,
    preview,
    ref_name,
    text_of,
)

__all__ = ["CallOps"]

MAX_MATERIALISE = 256 << 20
"""Largest nested payload copied out of a text constant to be scanned as a pickle."""

LOADER_NAMES = frozenset(("loads", "load", "_loads", "_load", "load_from_bytes"))
MARSHAL_MODULES = frozenset(("marshal",))
IMPORTERS = frozenset(
    (
        ("builtins", "__import__"),
        ("__builtin__", "__import__"),
        ("importlib", "import_module"),
        ("importlib", "__import__"),
        ("importlib._bootstrap", "_gcd_import"),
        ("_frozen_importlib", "_gcd_import"),
    )
)
GETATTRS = frozenset((("builtins", "getattr"), ("__builtin__", "getattr")))
ENCODERS = frozenset((("_codecs", "encode"), ("codecs", "encode")))
JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
RECONSTRUCTORS = frozenset((("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor")))
DTYPE_NAME = re.compile(r"^[<>|=]?([a-zA-Z])(\d*)")
LATIN1_NAMES = frozenset(("latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"))


class CallOps:
    """Opcode handlers that resolve globals and calls; mixed into ``PickleVM``.

    Relies on the machine's stack helpers (``_push``, ``_pop``, ``_top``, ``_pop_mark``,
    ``_anomaly``, ``_event``, ``_nested``, ``_short_line``, ``_uint``, ``_need``, ``_rel``).
    """

    # ------------------------------------------------------------------ globals

    def _decode_name(self, raw: bytes, at: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._anomaly(at, "global name is not valid UTF-8")
            return raw.decode("utf-8", "surrogateescape")

    def _global_ref(self, at: int, module: str, name: str, how: str, deps: tuple = ()) -> V:
        value = V(REF, self._rel(at), self.data[at], (module, name), deps)
        self._note_import(module, name, how, value)
        return value

    def _note_import(self, module: str, name: str, how: str, value: V) -> None:
        key = (module, name)
        found = self.result.imports.get(key)
        if found is None:
            if len(self.result.imports) >= 2000:
                return
            found = self.result.imports[key] = Import(module, name, how, value)
        found.count += 1
        if module == JOBLIB_WRAPPER[0]:
            self.result.joblib = True

    def op_global(self, p: int, at: int) -> int:
        module, p = self._short_line(p, "GLOBAL")
        name, p = self._short_line(p, "GLOBAL")
        ref = self._global_ref(
            at, self._decode_name(module, at), self._decode_name(name, at), "GLOBAL"
        )
        self.stack.append(ref)
        return p

    def op_stack_global(self, p: int, at: int) -> int:
        name = self._pop(at)
        module = self._pop(at)
        texts = [text_of(module), text_of(name)]
        if all(isinstance(text, bytes) for text in texts):
            self._anomaly(at, "STACK_GLOBAL operands are bytes (CPython refuses them)")
            texts = [text.decode("utf-8", "surrogateescape") for text in texts]
        if all(isinstance(text, str) for text in texts):
            self.stack.append(
                self._global_ref(at, texts[0], texts[1], "STACK_GLOBAL", (module, name))
            )
            return p
        self._event(
            "dynamic-global",
            at,
            "STACK_GLOBAL names computed at load time: module "
            f"{preview(module)}, name {preview(name)}",
            V(UNKNOWN, self._rel(at), self.data[at], "dynamic global", (module, name)),
        )
        self._push(UNKNOWN, at, "dynamic global", (module, name))
        return p

    def _ext(self, p: int, at: int, size: int) -> int:
        code = self._uint(p, size)
        value = self._push(UNKNOWN, at, f"extension {code}")
        self._event(
            "extension-code",
            at,
            f"{self._name(at)} {code}: a global looked up in the copyreg extension registry, "
            "which the file does not name",
            value,
        )
        return p + size

    def op_ext1(self, p: int, at: int) -> int:
        return self._ext(p, at, 1)

    def op_ext2(self, p: int, at: int) -> int:
        return self._ext(p, at, 2)

    def op_ext4(self, p: int, at: int) -> int:
        return self._ext(p, at, 4)

    def op_persid(self, p: int, at: int) -> int:
        line, p = self._short_line(p, "PERSID")
        pid = V(CONST, self._rel(at), self.data[at], line.decode("latin-1"))
        self._persid(at, pid)
        return p

    def op_binpersid(self, p: int, at: int) -> int:
        self._persid(at, self._pop(at))
        return p

    def _persid(self, at: int, pid: V) -> None:
        if len(self.result.persids) < 100_000:
            self.result.persids.append(pid)
        self._push(PERSID, at, pid, (pid,))

    # ------------------------------------------------------------------ calls

    def op_reduce(self, p: int, at: int) -> int:
        args = self._pop(at)
        func = self._pop(at)
        self.stack.append(self._call(at, func, args, None, "REDUCE"))
        return p

    def op_newobj(self, p: int, at: int) -> int:
        args = self._pop(at)
        cls = self._pop(at)
        self.stack.append(self._call(at, cls, args, None, "NEWOBJ"))
        return p

    def op_newobj_ex(self, p: int, at: int) -> int:
        kwargs = self._pop(at)
        args = self._pop(at)
        cls = self._pop(at)
        self.stack.append(self._call(at, cls, args, kwargs, "NEWOBJ_EX"))
        return p

    def op_inst(self, p: int, at: int) -> int:
        module, p = self._short_line(p, "INST")
        name, p = self._short_line(p, "INST")
        items = tuple(self._pop_mark(at))
        cls = self._global_ref(
            at, self._decode_name(module, at), self._decode_name(name, at), "INST"
        )
        args = V(TUPLE, self._rel(at), self.data[at], items, items[:MAX_ITEMS])
        self.stack.append(self._call(at, cls, args, None, "INST"))
        return p

    def op_obj(self, p: int, at: int) -> int:
        items = self._pop_mark(at)
        if not items:
            self._anomaly(at, "OBJ without a class")
            self._push(UNKNOWN, at, "OBJ without a class")
            return p
        cls, rest = items[0], tuple(items[1:])
        args = V(TUPLE, self._rel(at), self.data[at], rest, rest[:MAX_ITEMS])
        self.stack.append(self._call(at, cls, args, None, "OBJ"))
        return p

    def _call(self, at: int, func: V, args: V, kwargs: V | None, how: str) -> V:
        """Model ``func(*args)``: record the call and fold the few calls that matter."""
        deps = (func, args) if kwargs is None else (func, args, kwargs)
        result = V(CALL, self._rel(at), self.data[at], Call(func, args, kwargs, how), deps)
        if func.kind == REF:
            module, name = func.data
            found = self.result.imports.get((module, name))
            if found is not None and len(found.calls) < 5:
                found.calls.append((self._rel(at), how, args))  # rendered when reported
            folded = self._fold(at, func, args, result)
            if folded is not None:
                return folded
        elif func.kind in (CALL, UNKNOWN, PERSID, BUFFER):
            self._event(
                "computed-call",
                at,
                f"{how} calls a value computed at load time ({preview(func)})",
                result,
            )
        else:
            self._anomaly(at, f"{how} on a value that is not callable ({preview(func)})")
        return result

    def _fold(self, at: int, func: V, args: V, result: V) -> V | None:
        """Evaluate the calls that build names or reach objects, so bypasses resolve.

        ``getattr(obj, "name")`` and ``__import__("mod")`` become references judged like any
        global; ``_codecs.encode`` (how protocols 0-2 spell bytes, and a way to hide names
        with rot13) is computed for the codecs that cannot run code.
        """
        ref = func.data
        items = args.data if args.kind in (TUPLE, LIST) else None
        if items is None:
            return None
        if ref in GETATTRS and len(items) >= 2:
            target, attr = items[0], text_of(items[1])
            if target.kind == REF and isinstance(attr, str):
                module, name = target.data
                chained = f"{name}.{attr}" if name else attr
                value = V(REF, self._rel(at), self.data[at], (module, chained), result.deps)
                self._note_import(module, chained, "getattr", value)
                return value
            self._event(
                "dynamic-attribute",
                at,
                f"getattr on {preview(target)} with attribute {preview(items[1])}",
                result,
            )
            return None
        if ref in IMPORTERS and items:
            module = text_of(items[0])
            if isinstance(module, str):
                value = V(REF, self._rel(at), self.data[at], (module, ""), result.deps)
                self._note_import(module, "", "import", value)
                return value
            return None
        if ref in ENCODERS and len(items) >= 2:
            return self._fold_encode(at, items, result)
        if ref[1].rsplit(".", 1)[-1] in LOADER_NAMES and items:
            self._loader_payload(at, ref, items[0])
        return None

    def _fold_encode(self, at: int, items: tuple, result: V) -> V | None:
        text, encoding = text_of(items[0]), text_of(items[1])
        if not isinstance(encoding, str):
            return None
        encoding = encoding.lower()
        if isinstance(items[0].data, Big) and encoding in LATIN1_NAMES:
            raw = self._materialise(items[0])
            if raw is None:
                return None
            value = V(CONST, self._rel(at), self.data[at], raw, result.deps)
            return value
        if not isinstance(text, str):
            return None
        try:
            if encoding in LATIN1_NAMES:
                folded = text.encode("latin-1")
            elif encoding in ("rot13", "rot_13", "rot-13"):
                folded = codecs.encode(text, "rot13")
            elif encoding in ("utf-8", "utf8", "ascii"):
                folded = text.encode(encoding)
            else:
                return None
        except (UnicodeError, LookupError):
            return None
        value = V(CONST, self._rel(at), self.data[at], folded, result.deps)
        if isinstance(folded, bytes) and folded[:1] == b"\x80":
            self._nested(at, Blob(folded), "encoded bytes holding a pickle", True)
        return value

    def _materialise(self, value: V) -> bytes | None:
        """Bytes of a large text/bytes constant, for nested scanning (bounded)."""
        big = value.data
        if not isinstance(big, Big) or big.length > MAX_MATERIALISE:
            return None
        raw = self.data[big.start : big.start + big.length]
        if big.type in (bytes, bytearray):
            return bytes(raw)
        try:
            if big.encoding == "utf-8":
                return raw.decode("utf-8", "surrogatepass").encode("latin-1")
            if big.encoding == "raw-unicode-escape":
                return raw.decode("raw-unicode-escape").encode("latin-1")
            if big.encoding == "escape":
                return codecs.escape_decode(raw)[0]
            return bytes(raw)
        except (UnicodeError, ValueError):
            return None

    def _loader_payload(self, at: int, ref: tuple[str, str], payload: V) -> None:
        """A call to ``*.loads``/``*.load`` with a constant: scan that payload too."""
        if payload.kind != CONST:
            return
        data = payload.data
        if isinstance(data, Big):
            if data.type in (bytes, bytearray):
                blob = Blob(self.data, data.start, data.start + data.length)
            else:
                raw = self._materialise(payload)
                blob = Blob(raw) if raw is not None else None
        elif isinstance(data, bytes | bytearray):
            blob = Blob(bytes(data))
        elif isinstance(data, str) and data[:1] == "\x80":
            blob = Blob(data.encode("latin-1", "replace"))  # protocol 0-2 spelling of bytes
        else:
            blob = None  # a path or a name: not a payload we can read
        if blob is None:
            return
        if ref[0] in MARSHAL_MODULES:
            self._event(
                "marshal-payload",
                at,
                f"{ref[0]}.{ref[1]} decodes {len(blob)} bytes of marshalled Python code",
                payload,
            )
            return
        self._nested(at, blob, f"argument of {ref[0]}.{ref[1]}", False)

    # ------------------------------------------------------------------ BUILD

    def op_build(self, p: int, at: int) -> int:
        state = self._pop(at)
        inst = self._top(at)
        dunders = _dunder_keys(state)
        if dunders:
            # BUILD with {"__setstate__": f} then BUILD(x) calls f(x) without any REDUCE;
            # real state never sets dunder attributes.
            self._event(
                "dunder-state",
                at,
                f"BUILD sets the attribute(s) {', '.join(dunders)} on {preview(inst)}",
                V(CALL, self._rel(at), self.data[at], None, (inst, state)),
            )
        if inst.kind == REF:
            self._event(
                "mutates-global",
                at,
                f"BUILD sets state on the global object {ref_name(inst)} itself "
                f"(state {preview(state)})",
                V(CALL, self._rel(at), self.data[at], None, (inst, state)),
            )
            return p
        if inst.kind != CALL:
            if inst.kind not in (UNKNOWN, PERSID):
                self._anomaly(at, f"BUILD on a value without state ({preview(inst)})")
            return p
        inst.data.state = state
        if _instance_class(inst) == JOBLIB_WRAPPER:
            return self._joblib_array(p, at, state)
        return p

    def _joblib_array(self, p: int, at: int, state: V) -> int:
        """Skip the raw array bytes joblib writes right after a ``NumpyArrayWrapper``.

        Mirrors ``NumpyArrayWrapper.read_array``: object arrays are a nested pickle stream
        (scanned as such), other arrays are an optional alignment padding then exactly
        ``prod(shape) * itemsize`` bytes. The skipped region is remembered so it can also be
        decoded the way plain ``pickle.load`` would see it.
        """
        self.result.joblib = True
        shape = _state_item(state, "shape")
        dtype = _state_item(state, "dtype")
        count = _shape_count(shape)
        layout = _dtype_layout(dtype)
        if count is None or layout is None:
            raise Fatal("joblib array wrapper with a shape or dtype we cannot size")
        itemsize, has_object = layout
        if has_object:
            if self.depth >= 8:
                raise Fatal("joblib object arrays nested too deeply")
            child = type(self)(
                self.blob,
                p - self.origin,
                self.limits,
                self.budget,
                depth=self.depth + 1,
            ).run()
            self.result.children.append(child)
            if not child.complete:
                raise Fatal(f"joblib object array pickle did not end cleanly ({child.error})")
            return self.origin + child.end
        region_start = p  # pickle.load would read from here, padding byte included
        alignment = _state_item(state, "numpy_array_alignment_bytes")
        if alignment is not None and not (alignment.kind == CONST and alignment.data is None):
            padding = self._uint(p, 1)
            p += 1 + padding
        size = count * itemsize
        self._need(p, size)
        if len(self.result.regions) < 10_000:
            self.result.regions.append((region_start - self.origin, p - self.origin + size))
        return p + size


def _dunder_keys(state: V) -> list[str]:
    """Dunder attribute names a BUILD state would set (dict state, or (dict, slots))."""
    parts = [state]
    if state.kind == TUPLE and len(state.data) == 2:
        parts = list(state.data)
    names = []
    for part in parts:
        if part.kind != DICT:
            continue
        for key, _value in part.data:
            text = text_of(key)
            if isinstance(text, str) and text.startswith("__") and text.endswith("__"):
                names.append(text)
    return names[:5]


def _instance_class(inst: V) -> tuple[str, str] | None:
    """The class an instance was built from (NEWOBJ/INST/OBJ, or copyreg._reconstructor)."""
    call: Call = inst.data
    func = call.func
    if func.kind != REF:
        return None
    if func.data in RECONSTRUCTORS and call.args is not None and call.args.kind == TUPLE:
        first = call.args.data[0] if call.args.data else None
        return first.data if first is not None and first.kind == REF else None
    return func.data


def _state_item(state: V, key: str) -> V | None:
    if state.kind != DICT:
        return None
    for k, v in state.data:
        if k.kind == CONST and k.data == key:
            return v
    return None


def _shape_count(shape: V | None) -> int | None:
    if shape is None or shape.kind not in (TUPLE, LIST):
        return None
    count = 1
    for dim in shape.data:
        if dim.kind != CONST or type(dim.data) is not int or dim.data < 0:
            return None
        count *= dim.data
    return count


def _dtype_layout(dtype: V | None) -> tuple[int, bool] | None:
    """(itemsize, has Python objects) of a pickled ``numpy.dtype(name, align, copy)``."""
    if dtype is None or dtype.kind != CALL or dtype.data.args is None:
        return None
    call: Call = dtype.data
    if call.func.kind != REF or call.func.data[1] != "dtype":
        return None
    args = call.args.data if call.args.kind == TUPLE else ()
    name = text_of(args[0]) if args else None
    if not isinstance(name, str):
        return None
    match = DTYPE_NAME.match(name)
    if not match:
        return None
    kind, digits = match.group(1), match.group(2)
    state = call.state.data if call.state is not None and call.state.kind == TUPLE else ()
    elsize = state[5].data if len(state) > 5 and state[5].kind == CONST else -1
    flags = state[7].data if len(state) > 7 and state[7].kind == CONST else 0
    has_object = kind == "O" or (isinstance(flags, int) and bool(flags & 1))
    if isinstance(elsize, int) and not isinstance(elsize, bool) and elsize > 0:
        return elsize, has_object
    if not digits:
        return (8, has_object) if kind == "O" else None
    size = int(digits) * (4 if kind == "U" else 1)
    return size, has_object
