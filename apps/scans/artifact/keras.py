"""Keras model configs: ``config.json`` in ``.keras`` zips, ``model_config`` in HDF5 files.

Keras runs code from a config in two ways: ``Lambda`` layers carry marshalled Python
bytecode (or name a function to import), and objects name the ``module`` they are imported
from (Keras 3 imports it; a config naming ``os``/``builtins`` is a known RCE). Both are
judged here; custom registered objects, which need user code we cannot see, are reported too.

There is no HDF5 library here (and none is needed): Keras 2 stores the config as a JSON
string attribute, which is found in the raw bytes and parsed. Datasets (the weights) are not
inspected; the report says so.
"""

from __future__ import annotations

import json
import re

from .allowlist import judge
from .blob import Blob
from .context import ScanContext, printable
from .report import Where

__all__ = ["check_config", "scan_hdf5", "scan_json"]

KERAS_MODULES = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")
CONFIG_START = re.compile(rb'\{\s*"(?:class_name|module|loss|optimizer_config)"\s*:')
"""Where a Keras JSON document (model_config, training_config) may start in raw HDF5 bytes."""
CONFIG_MARKERS = (b"model_config", b"keras_version")
FIRST_WINDOW = 1 << 20
MAX_NODES = 2_000_000
RISKY_TF_OPS = ("io.", "py_func", "py_function", "numpy_function", "script_ops", "debugging")


def scan_json(ctx: ScanContext, blob: Blob, where: Where) -> None:
    """A JSON document: parsed (bounded) and checked as a Keras config if it is one."""
    if len(blob) > ctx.limits.max_json_bytes:
        ctx.not_scanned(
            where, "JSON document", "larger than the JSON size limit", subject="json-size"
        )
        return
    try:
        document = json.loads(blob.tobytes())
    except (ValueError, RecursionError):
        from .pickle_scan import carve

        ctx.saw("text")
        carve(ctx, blob, 0, len(blob), where, text=True)
        return
    ctx.saw("json")
    check_config(ctx, document, where)


def scan_hdf5(ctx: ScanContext, blob: Blob, where: Where) -> None:
    """HDF5 (Keras 2 ``.h5``): find and check the JSON model config in the raw bytes."""
    ctx.saw("hdf5")
    has_marker = any(blob.find(marker) >= 0 for marker in CONFIG_MARKERS)
    configs = 0
    resume = 0
    for match in CONFIG_START.finditer(blob.base, blob.start, blob.end):
        at = match.start() - blob.start
        if at < resume:
            continue  # inside a config already parsed
        ctx.budget.check_time()
        document, end = _decode_at(ctx, blob, at)
        if not isinstance(document, dict):
            continue
        configs += 1
        ctx.saw("keras")
        check_config(ctx, document, where.child(f"JSON config @ offset {at}", key="config"))
        resume = end
    if has_marker and not configs:
        ctx.not_scanned(
            where,
            "Keras model config",
            "the file names a model config but no readable JSON config was found",
            subject="hdf5-config",
        )
    ctx.unreadable.append(f"{where}: HDF5 datasets (weights) not inspected")
    ctx.add(
        severity="low",
        kind="hdf5-partial",
        title="HDF5 read without an HDF5 parser",
        detail="The model config was located in the raw bytes and checked; the HDF5 datasets "
        "(the weights, numbers that Keras never executes) were not inspected.",
        where=where,
        subject="hdf5-partial",
        evidence={"configs_found": configs},
    )


def _decode_at(ctx: ScanContext, blob: Blob, at: int):
    """Parse the JSON object starting at ``at``; widen the window if it was cut."""
    decoder = json.JSONDecoder()
    window = FIRST_WINDOW
    while True:
        raw = blob.read(at, window)
        text = raw.decode("utf-8", "replace")
        try:
            document, end = decoder.raw_decode(text)
            return document, at + len(text[:end].encode("utf-8", "replace"))
        except RecursionError:
            return None, at + 1
        except ValueError as exc:
            cut = getattr(exc, "pos", 0) >= len(text) - 16 and len(raw) == window
            if not cut or window >= ctx.limits.max_json_bytes:
                return None, at + 1
            window = min(window * 4, ctx.limits.max_json_bytes)


def check_config(ctx: ScanContext, document, where: Where) -> None:
    """Walk a config (iteratively: hostile nesting cannot exhaust the stack)."""
    stack = [(document, "$")]
    nodes = 0
    while stack:
        node, path = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            ctx.not_scanned(where, "model config", "too many JSON nodes", subject="json-nodes")
            return
        if isinstance(node, dict):
            _check_object(ctx, node, path, where)
            stack.extend((value, f"{path}.{key}") for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{index}]") for index, value in enumerate(node))


def _check_object(ctx: ScanContext, node: dict, path: str, where: Where) -> None:
    class_name = node.get("class_name")
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    if class_name in ("Lambda", "__lambda__"):
        _report_lambda(ctx, node, config, path, where)
    module = node.get("module")
    if isinstance(module, str) and module and not module.startswith(KERAS_MODULES):
        name = class_name if isinstance(class_name, str) else ""
        if name == "function":  # Keras 3 functions: {"class_name": "function", "config": name}
            raw = node.get("config")
            name = raw if isinstance(raw, str) else str(config.get("name", ""))
        judgement = judge(module, name)
        ctx.add(
            severity="critical" if judgement.verdict == "dangerous" else "high",
            kind="keras-module",
            title=f"Keras config imports {printable(judgement.name)}",
            detail=f"Deserialising this config imports module {printable(module)!r} "
            f"({judgement.category or 'not part of Keras'}); Keras configs naming arbitrary "
            "modules are a known way to run code on load.",
            where=where,
            subject=judgement.name,
            evidence={"json_path": path, "module": printable(module), "class_name": name},
        )
    registered = node.get("registered_name")
    if (
        isinstance(registered, str)
        and ">" in registered
        and not registered.startswith(KERAS_MODULES)
    ):
        ctx.add(
            severity="medium",
            kind="keras-custom-object",
            title=f"Keras custom object {printable(registered)}",
            detail="The model needs a custom object registered by user code that is not part "
            "of the artifact; what it does cannot be verified here.",
            where=where,
            subject=registered,
            evidence={"json_path": path},
        )
    if class_name == "TFOpLambda":
        function = str(config.get("function", ""))
        if any(token in function for token in RISKY_TF_OPS):
            ctx.add(
                severity="high",
                kind="keras-tf-op",
                title=f"Keras TFOpLambda calls tf.{printable(function)}",
                detail="The layer calls a TensorFlow function that reaches files or Python.",
                where=where,
                subject=function,
                evidence={"json_path": path},
            )


def _report_lambda(ctx: ScanContext, node: dict, config: dict, path: str, where: Where) -> None:
    if node.get("class_name") == "Lambda":
        function = config.get("function")
        if isinstance(function, dict) and function.get("class_name") == "__lambda__":
            return  # Keras 3: the nested ``__lambda__`` object carries the code; reported there
    else:
        function = {"config": config}
    function_type = config.get("function_type", "lambda")
    evidence = {"json_path": path, "layer": printable(str(config.get("name", "")))}
    if isinstance(function, list) and function:
        evidence["bytecode_base64_chars"] = len(str(function[0]))
    elif isinstance(function, dict):
        code = (function.get("config") or {}).get("code", "")
        evidence["bytecode_base64_chars"] = len(str(code))
    elif isinstance(function, str):
        evidence["function"] = printable(function)
    if function_type == "function" and isinstance(function, str):
        module = str(config.get("module", ""))
        judgement = judge(module, function)
        title = f"Keras Lambda layer calls {printable(judgement.name)}"
        severity = "critical" if judgement.verdict == "dangerous" else "high"
    else:
        title = "Keras Lambda layer with serialized Python bytecode"
        severity = "critical"
    ctx.add(
        severity=severity,
        kind="keras-lambda",
        title=title,
        detail="Lambda layers carry Python code (marshalled bytecode or an importable "
        "function) that runs when the model is loaded or called; it cannot be verified "
        "statically.",
        where=where,
        subject=f"lambda:{path}",
        evidence=evidence,
    )
