"""A frozen corpus of malicious and benign model artifacts, built in memory.

Frozen *before* the scanner was tuned: every malicious sample must be flagged high or
critical, no benign one above low. Payloads are harmless (``true``, ``pass``, example.com)
and nothing here is ever loaded: the scanner is static, and the tests only read bytes.

Malicious samples cover each container the scanner reads and each published bypass class
(memo confusion, names built on the stack, nested loads/marshal, popped call results,
payloads after large binary data or after an invalid opcode, the INST/OBJ/NEWOBJ/REDUCE/
BUILD forms, getattr attribute chains), with call targets well beyond ``os.system``.
Benign samples are real scikit-learn models and pipelines (pickled and joblib-dumped at
every compression), numpy arrays, plain data at every protocol, hand-built PyTorch-style
checkpoints (zip and legacy), safetensors, Keras configs and ONNX graphs.

Also used by ``benchmarks/scan_artifacts.py`` (case d), so it imports nothing from Django.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Sample", "benign_samples", "malicious_samples", "pickle_asm", "torch_zip"]


@dataclass(frozen=True)
class Sample:
    """One corpus file: its bytes and what it exercises."""

    name: str
    data: bytes
    malicious: bool
    container: str
    technique: str = ""


# --------------------------------------------------------------------------- assembler


class pickle_asm:  # noqa: N801 - reads like a namespace of opcode emitters
    """Opcode emitters for hand-built pickles (the bypasses real picklers never write)."""

    MARK, STOP, POP, POP_MARK, DUP = b"(", b".", b"0", b"1", b"2"
    TUPLE, EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"t", b")", b"\x85", b"\x86", b"\x87"
    EMPTY_DICT, EMPTY_LIST, SETITEMS, SETITEM, APPENDS = b"}", b"]", b"u", b"s", b"e"
    REDUCE, BUILD, NEWOBJ, NEWOBJ_EX, OBJ = b"R", b"b", b"\x81", b"\x92", b"o"
    STACK_GLOBAL, MEMOIZE, NONE, NEWTRUE, NEWFALSE = b"\x93", b"\x94", b"N", b"\x88", b"\x89"

    @staticmethod
    def proto(version: int) -> bytes:
        return b"\x80" + bytes([version])

    @staticmethod
    def global_(module: str, name: str) -> bytes:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def inst(module: str, name: str) -> bytes:
        return b"i" + module.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def string0(text: str) -> bytes:
        return b"V" + text.encode("raw-unicode-escape") + b"\n"

    @staticmethod
    def unicode(text: str) -> bytes:
        raw = text.encode()
        if len(raw) < 256:
            return b"\x8c" + bytes([len(raw)]) + raw
        return b"X" + struct.pack("<I", len(raw)) + raw

    @staticmethod
    def binbytes(raw: bytes) -> bytes:
        if len(raw) < 256:
            return b"C" + bytes([len(raw)]) + raw
        return b"B" + struct.pack("<I", len(raw)) + raw

    @staticmethod
    def binbytes8(raw: bytes) -> bytes:
        return b"\x8e" + struct.pack("<Q", len(raw)) + raw

    @staticmethod
    def int_(value: int) -> bytes:
        if 0 <= value < 256:
            return b"K" + bytes([value])
        return b"J" + struct.pack("<i", value)

    @staticmethod
    def binput(index: int) -> bytes:
        return b"q" + bytes([index])

    @staticmethod
    def binget(index: int) -> bytes:
        return b"h" + bytes([index])

    @classmethod
    def args(cls, *values: str) -> bytes:
        return cls.MARK + b"".join(cls.unicode(value) for value in values) + cls.TUPLE

    @classmethod
    def call(cls, module: str, name: str, *values: str, proto: int = 2) -> bytes:
        """``module.name(*values)`` with GLOBAL + REDUCE."""
        return (
            cls.proto(proto) + cls.global_(module, name) + cls.args(*values) + cls.REDUCE + cls.STOP
        )

    @classmethod
    def stack_call(cls, module: str, name: str, *values: str) -> bytes:
        """``module.name(*values)`` with STACK_GLOBAL (protocol 4)."""
        return (
            cls.proto(4)
            + cls.unicode(module)
            + cls.MEMOIZE
            + cls.unicode(name)
            + cls.MEMOIZE
            + cls.STACK_GLOBAL
            + cls.MEMOIZE
            + cls.args(*values)
            + cls.REDUCE
            + cls.STOP
        )


A = pickle_asm


# --------------------------------------------------------------------------- containers


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_gz_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def joblib_bytes(value, compress=0) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(value, buffer, compress=compress)
    return buffer.getvalue()


TORCH_DTYPE = {"float32": ("FloatStorage", 4), "int64": ("LongStorage", 8)}


def torch_state_dict_pickle(tensors: dict[str, np.ndarray], *, extra: bytes = b"") -> bytes:
    """The ``data.pkl`` torch.save writes for an OrderedDict of tensors (protocol 2).

    Each tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, shape, stride,
    requires_grad, hooks)`` with the storage a persistent id ``('storage', type, key,
    'cpu', numel)``, exactly the shape real checkpoints have. ``extra`` is spliced in as
    one more dict value (for malicious variants).
    """
    out = [A.proto(2), A.global_("collections", "OrderedDict"), A.EMPTY_TUPLE, A.REDUCE, A.MARK]
    for key, (name, array) in enumerate(tensors.items()):
        storage, _ = TORCH_DTYPE[str(array.dtype)]
        stride = tuple(int(s // array.itemsize) for s in array.strides)
        out += [
            A.unicode(name),
            A.global_("torch._utils", "_rebuild_tensor_v2"),
            A.MARK,
            A.MARK,
            A.unicode("storage"),
            A.global_("torch", storage),
            A.unicode(str(key)),
            A.unicode("cpu"),
            A.int_(array.size),
            A.TUPLE,
            b"Q",
            A.int_(0),
            A.MARK,
            *[A.int_(dim) for dim in array.shape],
            A.TUPLE,
            A.MARK,
            *[A.int_(s) for s in stride],
            A.TUPLE,
            A.NEWFALSE,
            A.global_("collections", "OrderedDict"),
            A.EMPTY_TUPLE,
            A.REDUCE,
            A.TUPLE,
            A.REDUCE,
        ]
    if extra:
        out += [A.unicode("extra"), extra]
    out += [A.SETITEMS, A.STOP]
    return b"".join(out)


def torch_zip(
    tensors: dict[str, np.ndarray],
    *,
    data_pkl: bytes | None = None,
    extra_members: dict[str, bytes] | None = None,
    prefix: str = "archive",
) -> bytes:
    """A ``torch.save`` style zip: data.pkl, data/<key> storages, version, byteorder."""
    members = {f"{prefix}/data.pkl": data_pkl or torch_state_dict_pickle(tensors)}
    members[f"{prefix}/byteorder"] = b"little"
    for key, array in enumerate(tensors.values()):
        members[f"{prefix}/data/{key}"] = np.ascontiguousarray(array).tobytes()
    members[f"{prefix}/version"] = b"3\n"
    members[f"{prefix}/.data/serialization_id"] = b"1234567890123456789012345678901234567890"
    members.update(extra_members or {})
    return zip_of(members)


def torch_legacy(tensors: dict[str, np.ndarray], *, main: bytes | None = None) -> bytes:
    """A pre-1.6 ``torch.save`` file: five pickles then the raw storages."""
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps(
            {
                "protocol_version": 1001,
                "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4},
            },
            protocol=2,
        ),
        main or torch_state_dict_pickle(tensors),
        pickle.dumps([str(key) for key in range(len(tensors))], protocol=2),
    ]
    for array in tensors.values():
        parts.append(struct.pack("<q", array.size) + np.ascontiguousarray(array).tobytes())
    return b"".join(parts)


def safetensors_bytes(tensors: dict[str, np.ndarray], trailing: bytes = b"") -> bytes:
    codes = {"float32": "F32", "int64": "I64", "float16": "F16"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": codes[str(array.dtype)],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs) + trailing


def fake_hdf5(config: dict) -> bytes:
    """HDF5 signature plus a Keras-2-like ``model_config`` JSON attribute in the raw bytes."""
    body = b"model_config\x00" + json.dumps(config).encode() + b"\x00" * 64
    return b"\x89HDF\r\n\x1a\n" + b"\x00" * 504 + body + b"keras_version\x002.15.0\x00"


def keras_config(layers: list[dict]) -> dict:
    return {
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": layers},
        "keras_version": "2.15.0",
        "backend": "tensorflow",
    }


LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAEAAAABAAAAQwAAAHMEAAAAfABTAKkBTqkAKQHaAXhyAQAAAHIB"
"""Base64 of marshalled bytecode for ``lambda x: x``, as Keras stores Lambda layers."""

DENSE = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"name": "dense", "units": 4, "activation": "relu"},
    "registered_name": None,
}


def onnx_model(nodes: list[tuple[str, str]], external: str | None = None) -> bytes:
    """A minimal ModelProto: ir_version, opset_import, graph of (domain, op_type) nodes."""

    def field(number: int, payload: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    graph = b""
    for index, (domain, op_type) in enumerate(nodes):
        node = field(1, b"x") + field(2, f"y{index}".encode()) + field(4, op_type.encode())
        if domain:
            node += field(7, domain.encode())
        graph += field(1, node)
    if external is not None:
        entry = field(1, b"location") + field(2, external.encode())
        tensor = field(8, b"weight") + field(13, entry) + _varint(14 << 3) + _varint(1)
        graph += field(5, tensor)
    graph += field(2, b"main_graph")
    opset = field(1, b"") + _varint(2 << 3) + _varint(17)
    return _varint(1 << 3) + _varint(8) + field(2, b"pytorch") + field(8, opset) + field(7, graph)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# --------------------------------------------------------------------------- malicious


class _Payload:
    """An object whose pickle calls ``target(*args)`` (the __reduce__ classic)."""

    def __init__(self, target, *args) -> None:
        self.target, self.args = target, args

    def __reduce__(self):
        return self.target, self.args


CALL_TARGETS = [
    # (module, name, args): process spawning, code execution, module loading, network,
    # file deletion, profilers/debuggers/interpreters from the standard library, gadgets.
    ("os", "system", ("true",)),
    ("posix", "system", ("true",)),
    ("os", "popen", ("true",)),
    ("os", "execv", ("/bin/true", "true")),
    ("os", "spawnlp", ("true",)),
    ("subprocess", "Popen", ("true",)),
    ("subprocess", "check_output", ("true",)),
    ("subprocess", "getoutput", ("true",)),
    ("pty", "spawn", ("true",)),
    ("asyncio", "create_subprocess_shell", ("true",)),
    ("multiprocessing.util", "spawnv_passfds", ("true",)),
    ("_posixsubprocess", "fork_exec", ("true",)),
    ("builtins", "eval", ("1+1",)),
    ("builtins", "exec", ("pass",)),
    ("builtins", "compile", ("pass", "x", "exec")),
    ("runpy", "run_path", ("/dev/null",)),
    ("code", "InteractiveInterpreter.runsource", ("pass",)),
    ("timeit", "timeit", ("pass",)),
    ("numpy.testing._private.utils", "runstring", ("pass", "{}")),
    ("builtins", "__import__", ("os",)),
    ("importlib", "import_module", ("os",)),
    ("pkgutil", "resolve_name", ("os:system",)),
    ("socket", "create_connection", ("example.com:80",)),
    ("urllib.request", "urlopen", ("http://example.com/",)),
    ("http.client", "HTTPConnection", ("example.com",)),
    ("webbrowser", "open", ("http://example.com/",)),
    ("shutil", "rmtree", ("/nonexistent",)),
    ("os", "remove", ("/nonexistent",)),
    ("pathlib", "Path.unlink", ("/nonexistent",)),
    ("cProfile", "run", ("pass",)),
    ("profile", "run", ("pass",)),
    ("pdb", "run", ("pass",)),
    ("bdb", "Bdb.run", ("pass",)),
    ("trace", "Trace.runctx", ("pass",)),
    ("pydoc", "pipepager", ("x", "true")),
    ("ensurepip", "_run_pip", ("--version",)),
    ("uuid", "_get_command_stdout", ("true",)),
    ("ctypes", "CDLL", ("libc.so.6",)),
    ("operator", "methodcaller", ("system", "true")),
    ("functools", "partial", ("true",)),
    ("torch.hub", "load", ("example/repo", "model")),
    ("pickle", "loads", ("x",)),
    ("marshal", "loads", ("x",)),
    ("builtins", "getattr", ("os", "system")),
    ("numpy", "load", ("/nonexistent",)),
    ("some_unknown_package.module", "Thing", ("x",)),
]


def _raw_pickle_samples() -> list[Sample]:
    samples = []
    for module, name, args in CALL_TARGETS:
        samples.append(
            Sample(
                f"call-{module}.{name}",
                A.call(module, name, *args),
                True,
                "pickle",
                "REDUCE of a dangerous callable",
            )
        )
    for proto in range(6):
        samples.append(
            Sample(
                f"reduce-protocol-{proto}",
                pickle.dumps(_Payload(eval, "1"), protocol=proto),
                True,
                "pickle",
                f"__reduce__ payload, protocol {proto}",
            )
        )
    return samples


def _bypass_samples() -> list[Sample]:
    inner = A.call("os", "system", "true")
    big = b"\x00" * (2 << 20)
    samples = [
        Sample(
            "memo-memoize-confusion",
            b"".join(
                [
                    A.proto(4),
                    A.unicode("os"),
                    A.binput(0),
                    A.unicode("datetime"),
                    A.binput(2),
                    # MEMOIZE stores at len(memo) == 2, overwriting 'datetime' with 'system':
                    A.unicode("system"),
                    A.MEMOIZE,
                    A.POP,
                    A.POP,
                    A.POP,
                    A.binget(0),
                    A.binget(2),
                    A.STACK_GLOBAL,
                    A.args("true"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "PUT/MEMOIZE index confusion",
        ),
        Sample(
            "memo-get-names",
            b"".join(
                [
                    A.proto(4),
                    A.unicode("subprocess"),
                    A.binput(7),
                    A.POP,
                    A.unicode("getoutput"),
                    A.binput(9),
                    A.POP,
                    A.binget(7),
                    A.binget(9),
                    A.STACK_GLOBAL,
                    A.args("true"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "names fetched from the memo",
        ),
        Sample(
            "stack-built-names-rot13",
            b"".join(
                [
                    A.proto(4),
                    A.global_("_codecs", "encode"),
                    A.MARK,
                    A.unicode("bf"),
                    A.unicode("rot13"),
                    A.TUPLE,
                    A.REDUCE,
                    A.global_("_codecs", "encode"),
                    A.MARK,
                    A.unicode("flfgrz"),
                    A.unicode("rot13"),
                    A.TUPLE,
                    A.REDUCE,
                    A.STACK_GLOBAL,
                    A.args("true"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "STACK_GLOBAL names computed by allowlisted calls",
        ),
        Sample(
            "stack-built-names-join",
            b"".join(
                [
                    A.proto(4),
                    A.global_("builtins", "str.join"),
                    A.MARK,
                    A.unicode(""),
                    A.MARK,
                    A.unicode("o"),
                    A.unicode("s"),
                    b"l",
                    A.TUPLE,
                    A.REDUCE,
                    A.unicode("system"),
                    A.STACK_GLOBAL,
                    A.args("true"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "module name built by str.join",
        ),
        Sample(
            "nested-pickle-loads",
            A.proto(2)
            + A.global_("pickle", "loads")
            + A.MARK
            + A.binbytes(inner)
            + A.TUPLE
            + A.REDUCE
            + A.STOP,
            True,
            "pickle",
            "nested pickle.loads",
        ),
        Sample(
            "nested-marshal-function",
            b"".join(
                [
                    A.proto(2),
                    A.global_("types", "FunctionType"),
                    A.MARK,
                    A.global_("marshal", "loads"),
                    A.MARK,
                    A.binbytes(b"\xe3" + b"\x00" * 40),
                    A.TUPLE,
                    A.REDUCE,
                    A.EMPTY_DICT,
                    A.TUPLE,
                    A.REDUCE,
                    A.EMPTY_TUPLE,
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "marshal.loads code object turned into a function",
        ),
        Sample(
            "popped-call-result",
            A.proto(2)
            + A.global_("os", "system")
            + A.args("true")
            + A.REDUCE
            + A.POP
            + A.EMPTY_DICT
            + A.STOP,
            True,
            "pickle",
            "call result discarded with POP",
        ),
        Sample(
            "popped-call-mark",
            A.proto(2)
            + A.MARK
            + A.global_("subprocess", "call")
            + A.args("true")
            + A.REDUCE
            + A.POP_MARK
            + A.NONE
            + A.STOP,
            True,
            "pickle",
            "call result discarded with POP_MARK",
        ),
        Sample(
            "after-large-binary",
            A.proto(4)
            + A.binbytes8(big)
            + A.POP
            + A.unicode("os")
            + A.unicode("system")
            + A.STACK_GLOBAL
            + A.args("true")
            + A.REDUCE
            + A.STOP,
            True,
            "pickle",
            "payload after 2 MB of bytes",
        ),
        Sample(
            "after-stop",
            pickle.dumps({"weights": [1.0, 2.0]}, protocol=4) + inner,
            True,
            "pickle",
            "second stream after STOP",
        ),
        Sample(
            "after-invalid-opcode",
            pickle.dumps([1, 2, 3], protocol=2)[:-1] + b"\xff" + b"\x00" * 16 + inner,
            True,
            "pickle",
            "payload after an invalid opcode",
        ),
        Sample(
            "after-binary-garbage",
            pickle.dumps({"a": 1}, protocol=4)
            + bytes(range(256)) * 64
            + A.unicode("os")
            + A.unicode("system")
            + A.STACK_GLOBAL
            + A.args("true")
            + A.REDUCE
            + A.STOP,
            True,
            "pickle",
            "STACK_GLOBAL fragment hidden in trailing binary",
        ),
        Sample(
            "inst-form",
            A.MARK + A.string0("true") + A.inst("os", "system") + A.STOP,
            True,
            "pickle",
            "INST",
        ),
        Sample(
            "obj-form",
            A.MARK + A.global_("subprocess", "Popen") + A.unicode("true") + A.OBJ + A.STOP,
            True,
            "pickle",
            "OBJ",
        ),
        Sample(
            "newobj-form",
            A.proto(2) + A.global_("subprocess", "Popen") + A.args("true") + A.NEWOBJ + A.STOP,
            True,
            "pickle",
            "NEWOBJ",
        ),
        Sample(
            "newobj-ex-form",
            A.proto(4)
            + A.global_("subprocess", "Popen")
            + A.args("true")
            + A.EMPTY_DICT
            + A.NEWOBJ_EX
            + A.STOP,
            True,
            "pickle",
            "NEWOBJ_EX",
        ),
        Sample(
            "build-setstate",
            b"".join(
                [
                    A.proto(2),
                    A.global_("collections", "OrderedDict"),
                    A.EMPTY_TUPLE,
                    A.NEWOBJ,
                    A.EMPTY_DICT,
                    A.unicode("__setstate__"),
                    A.global_("os", "system"),
                    A.SETITEM,
                    A.BUILD,
                    A.unicode("true"),
                    A.BUILD,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "BUILD installs __setstate__ then calls it",
        ),
        Sample(
            "build-on-global",
            b"".join(
                [
                    A.proto(2),
                    A.global_("collections", "OrderedDict"),
                    A.EMPTY_DICT,
                    A.unicode("__reduce__"),
                    A.NONE,
                    A.SETITEM,
                    A.BUILD,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "BUILD mutating a class",
        ),
        Sample(
            "getattr-chain",
            b"".join(
                [
                    A.proto(2),
                    A.global_("builtins", "getattr"),
                    A.MARK,
                    A.global_("builtins", "__import__"),
                    A.args("os"),
                    A.REDUCE,
                    A.unicode("system"),
                    A.TUPLE,
                    A.REDUCE,
                    A.args("true"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "getattr(__import__('os'), 'system')",
        ),
        Sample(
            "getattr-chain-allowlisted-base",
            b"".join(
                [
                    A.proto(2),
                    A.global_("builtins", "getattr"),
                    A.MARK,
                    A.global_("collections", "OrderedDict"),
                    A.unicode("fromkeys"),
                    A.TUPLE,
                    A.REDUCE,
                    A.args("ab"),
                    A.REDUCE,
                    A.STOP,
                ]
            ),
            True,
            "pickle",
            "getattr on an allowlisted class",
        ),
        Sample(
            "dotted-name-dunder",
            A.proto(4)
            + A.unicode("collections")
            + A.unicode("OrderedDict.__init__.__globals__")
            + A.STACK_GLOBAL
            + A.STOP,
            True,
            "pickle",
            "protocol 4 dotted name through __globals__",
        ),
        Sample(
            "dotted-name-module-walk",
            A.proto(4)
            + A.unicode("numpy")
            + A.unicode("testing._private.utils.runstring")
            + A.STACK_GLOBAL
            + A.args("pass", "")
            + A.REDUCE
            + A.STOP,
            True,
            "pickle",
            "dotted name from an allowlisted module",
        ),
        Sample(
            "python2-names",
            A.global_("__builtin__", "eval") + A.MARK + b"S'1'\n" + A.TUPLE + A.REDUCE + A.STOP,
            True,
            "pickle",
            "Python 2 module names",
        ),
        Sample(
            "extension-code",
            A.proto(2) + b"\x82\x01" + A.args("true") + A.REDUCE + A.STOP,
            True,
            "pickle",
            "copyreg extension code",
        ),
        Sample(
            "no-proto-no-name", b"(S'true'\nios\nsystem\n.", True, "pickle", "protocol 0, no magic"
        ),
    ]
    return samples


def _container_samples() -> list[Sample]:
    payload = pickle.dumps(_Payload(eval, "1"), protocol=4)
    array = np.arange(2000, dtype="float64")
    tensors = {"layer.weight": np.ones((16, 8), "float32"), "layer.bias": np.zeros(8, "float32")}
    samples = []
    value = {"array": array, "model": _Payload(eval, "1")}  # payload after inline array data
    for compress in (0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)):
        label = compress if isinstance(compress, int) else compress[0]
        samples.append(
            Sample(
                f"joblib-{label}",
                joblib_bytes(value, compress),
                True,
                "joblib",
                "payload after inline numpy array data",
            )
        )
    zf = zlib.compress(payload)
    samples.append(
        Sample(
            "joblib-zfile",
            b"ZF" + hex(len(payload)).encode().ljust(19) + zf,
            True,
            "joblib",
            "pre-0.10 joblib ZF file",
        )
    )
    hidden = torch_state_dict_pickle(
        tensors, extra=A.global_("os", "system") + A.args("true") + A.REDUCE
    )
    samples += [
        Sample("torch-zip-data-pkl", torch_zip(tensors, data_pkl=hidden), True, "pytorch-zip"),
        Sample(
            "torch-zip-odd-member",
            torch_zip(tensors, extra_members={"archive/data/.cache/7f3a": payload}),
            True,
            "pytorch-zip",
            "pickle in an oddly named member",
        ),
        Sample(
            "torch-zip-storage-is-pickle",
            torch_zip({"w": np.ones(4, "float32")}, extra_members={"archive/data/0": payload}),
            True,
            "pytorch-zip",
            "storage member replaced by a pickle",
        ),
        Sample(
            "torch-zip-constants",
            torch_zip(tensors, extra_members={"archive/constants.pkl": payload}),
            True,
            "pytorch-zip",
        ),
        Sample(
            "torch-zip-deflated",
            zip_of({"archive/data.pkl": hidden, "archive/version": b"3\n"}, zipfile.ZIP_DEFLATED),
            True,
            "pytorch-zip",
        ),
        Sample("torch-legacy-main", torch_legacy(tensors, main=hidden), True, "pytorch-legacy"),
        Sample(
            "torch-legacy-appended",
            torch_legacy(tensors) + payload,
            True,
            "pytorch-legacy",
            "payload after the storages",
        ),
        Sample(
            "npy-object-array",
            npy_bytes(np.array([_Payload(eval, "1"), 1], dtype=object)),
            True,
            "numpy",
        ),
        Sample(
            "npz-object-array",
            zip_of(
                {
                    "a.npy": npy_bytes(np.arange(3)),
                    "b.npy": npy_bytes(np.array([_Payload(eval, "1")], dtype=object)),
                },
                zipfile.ZIP_DEFLATED,
            ),
            True,
            "numpy-npz",
        ),
        Sample(
            "npy-trailing-payload",
            npy_bytes(np.arange(10)) + payload,
            True,
            "numpy",
            "payload after array data",
        ),
        Sample(
            "zip-in-zip",
            zip_of({"inner.zip": zip_of({"model.pkl": payload})}),
            True,
            "zip",
            "archive inside an archive",
        ),
        Sample("tar-gz", tar_gz_of({"model/weights.bin": payload}), True, "tar"),
        Sample("gzip-wrapper", gzip.compress(payload), True, "gzip"),
        Sample(
            "gzip-second-member",
            gzip.compress(pickle.dumps([1])) + gzip.compress(payload),
            True,
            "gzip",
            "payload in a second gzip member",
        ),
        Sample("bz2-wrapper", bz2.compress(payload), True, "bz2"),
        Sample("xz-wrapper", lzma.compress(payload), True, "xz"),
        Sample(
            "keras-zip-lambda",
            zip_of(
                {
                    "config.json": json.dumps(
                        {
                            "module": "keras",
                            "class_name": "Sequential",
                            "config": {
                                "layers": [
                                    DENSE,
                                    {
                                        "module": "keras.layers",
                                        "class_name": "Lambda",
                                        "config": {
                                            "name": "l",
                                            "function": {
                                                "class_name": "__lambda__",
                                                "config": {
                                                    "code": LAMBDA_CODE,
                                                    "defaults": None,
                                                    "closure": None,
                                                },
                                            },
                                        },
                                    },
                                ]
                            },
                        }
                    ).encode(),
                    "metadata.json": b'{"keras_version": "3.3.3"}',
                    "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
                }
            ),
            True,
            "keras",
        ),
        Sample(
            "keras-zip-module",
            zip_of(
                {
                    "config.json": json.dumps(
                        {
                            "module": "os",
                            "class_name": "function",
                            "config": "system",
                            "registered_name": None,
                        }
                    ).encode(),
                    "metadata.json": b"{}",
                }
            ),
            True,
            "keras",
            "config naming the os module",
        ),
        Sample(
            "keras-h5-lambda",
            fake_hdf5(
                keras_config(
                    [
                        DENSE,
                        {
                            "class_name": "Lambda",
                            "config": {
                                "name": "lambda",
                                "function": [
                                    LAMBDA_CODE,
                                    None,
                                    None,
                                ],
                                "function_type": "lambda",
                                "module": "__main__",
                            },
                        },
                    ]
                )
            ),
            True,
            "hdf5",
        ),
        Sample(
            "onnx-external-traversal",
            onnx_model([("", "Relu")], external="../../etc/passwd"),
            True,
            "onnx",
            "external data path traversal",
        ),
        Sample("onnx-python-op", onnx_model([("ai.onnx.contrib", "PyOp")]), True, "onnx"),
        Sample(
            "safetensors-trailing-pickle",
            safetensors_bytes(tensors, trailing=payload),
            True,
            "safetensors",
            "pickle after the last tensor",
        ),
    ]
    return samples


@functools.cache
def malicious_samples() -> tuple[Sample, ...]:
    """Every malicious sample (each must be flagged high or critical)."""
    return tuple(_raw_pickle_samples() + _bypass_samples() + _container_samples())


# --------------------------------------------------------------------------- benign


def _sklearn_models() -> dict[str, object]:
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    column = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        (
                            "num",
                            Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                            [0, 1, 2, 3],
                        ),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), [4, 5]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    X_cat = X.copy()
    X_cat[:, 4:] = np.round(X_cat[:, 4:])
    return {
        "logistic": LogisticRegression(max_iter=200).fit(X, y),
        "random-forest": RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y),
        "gradient-boosting": GradientBoostingClassifier(n_estimators=5).fit(X, y),
        "hist-gradient-boosting": HistGradientBoostingClassifier(max_iter=5).fit(X, y),
        "svc-pipeline": Pipeline([("scale", StandardScaler()), ("svc", SVC())]).fit(X, y),
        "column-pipeline": column.fit(X_cat, y),
        "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(X),
        "knn": KNeighborsClassifier().fit(X, y),
        "tree": DecisionTreeClassifier(random_state=0).fit(X, y),
    }


PLAIN_DATA = {
    "text": "héllo",
    "bytes": b"\x00\x01binary",
    "numbers": [1, -2, 3.5, 2**70, complex(1, 2), True, None],
    "tuple": (1, "two", (3,)),
    "set": {1, 2, 3},
    "frozenset": frozenset({"a"}),
    "bytearray": bytearray(b"abc"),
    "nested": {"a": [{"b": ()}], "empty": {}},
}


@functools.cache
def benign_samples() -> tuple[Sample, ...]:
    """Every benign sample (none may be reported above low)."""
    samples = []
    models = _sklearn_models()
    for name, model in models.items():
        for proto in (2, 4, 5):
            samples.append(
                Sample(
                    f"sklearn-{name}-pickle-{proto}",
                    pickle.dumps(model, protocol=proto),
                    False,
                    "pickle",
                )
            )
    for compress in (0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)):
        label = compress if isinstance(compress, int) else compress[0]
        for name in ("random-forest", "column-pipeline", "hist-gradient-boosting"):
            samples.append(
                Sample(
                    f"sklearn-{name}-joblib-{label}",
                    joblib_bytes(models[name], compress),
                    False,
                    "joblib",
                )
            )
    arrays = {
        "float": np.linspace(0, 1, 500).reshape(20, 25),
        "int": np.arange(1000, dtype="int32"),
        "fortran": np.asfortranarray(np.ones((7, 9))),
        "structured": np.zeros(4, dtype=[("x", "<f8"), ("y", "<i4"), ("name", "<U5")]),
        "strings": np.array(["a", "bc"]),
        "bool": np.array([True, False]),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
    }
    for name, array in arrays.items():
        samples.append(Sample(f"npy-{name}", npy_bytes(array), False, "numpy"))
        for proto in range(6):
            samples.append(
                Sample(
                    f"numpy-{name}-pickle-{proto}",
                    pickle.dumps(array, protocol=proto),
                    False,
                    "pickle",
                )
            )
    samples.append(
        Sample("npy-object-strings", npy_bytes(np.array(["a", 1], dtype=object)), False, "numpy")
    )
    npz, npz_compressed = io.BytesIO(), io.BytesIO()
    np.savez(npz, **arrays)
    np.savez_compressed(npz_compressed, **arrays)
    samples += [
        Sample("npz", npz.getvalue(), False, "numpy-npz"),
        Sample("npz-compressed", npz_compressed.getvalue(), False, "numpy-npz"),
    ]
    samples.append(Sample("joblib-arrays", joblib_bytes(arrays), False, "joblib"))
    samples.append(Sample("joblib-arrays-zlib", joblib_bytes(arrays, 3), False, "joblib"))
    for proto in range(6):
        samples.append(
            Sample(f"plain-data-{proto}", pickle.dumps(PLAIN_DATA, protocol=proto), False, "pickle")
        )
    samples.append(
        Sample("two-pickles", pickle.dumps([1]) + pickle.dumps({"b": 2}), False, "pickle")
    )
    tensors = {
        "conv.weight": np.random.default_rng(0).random((8, 4), dtype="float32"),
        "conv.bias": np.zeros(8, "float32"),
        "steps": np.array([3], dtype="int64"),
    }
    samples += [
        Sample("torch-zip", torch_zip(tensors), False, "pytorch-zip"),
        Sample(
            "torch-zip-named", torch_zip(tensors, prefix="resnet_checkpoint"), False, "pytorch-zip"
        ),
        Sample("torch-legacy", torch_legacy(tensors), False, "pytorch-legacy"),
        Sample("torch-zip-gzip", gzip.compress(torch_zip(tensors)), False, "gzip"),
        Sample("safetensors", safetensors_bytes(tensors), False, "safetensors"),
        Sample(
            "keras-zip",
            zip_of(
                {
                    "config.json": json.dumps(
                        {
                            "module": "keras",
                            "class_name": "Sequential",
                            "config": {"layers": [DENSE]},
                        }
                    ).encode(),
                    "metadata.json": b'{"keras_version": "3.3.3"}',
                    "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
                }
            ),
            False,
            "keras",
        ),
        Sample("keras-h5", fake_hdf5(keras_config([DENSE])), False, "hdf5"),
        Sample("onnx", onnx_model([("", "Relu"), ("ai.onnx.ml", "Scaler")]), False, "onnx"),
        Sample(
            "onnx-external-data", onnx_model([("", "Relu")], external="weights.bin"), False, "onnx"
        ),
        Sample(
            "zip-of-models",
            zip_of(
                {
                    "model.joblib": joblib_bytes(models["logistic"]),
                    "README.txt": b"A logistic regression.\n",
                },
                zipfile.ZIP_DEFLATED,
            ),
            False,
            "zip",
        ),
    ]
    return tuple(samples)
