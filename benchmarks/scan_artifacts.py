"""Benchmark the unsafe-artifact scanner against picklescan and modelscan, side by side.

Builds its own files under a temporary directory, scans them with every available tool in
the same run, prints a table (case, tool, MB/s, recall, precision) and writes JSON to
``benchmarks/results/scan_artifacts.json``.

Cases:
  (a) a 1 GB PyTorch-style zip of tensors with a pickle hidden in an oddly named member;
  (b) a 100 MB pickle of numpy arrays, plus the same with a payload after the arrays;
  (c) 1,000 small pickles (10 % carry a payload);
  (d) the test corpus (tests/scans/artifact_corpus.py), files named with the usual
      extension for their format so the peers' extension-based dispatch gets its chance.

"Flagged" means: ours, a finding of severity high or critical; picklescan, at least one
file reported infected (its "dangerous" globals); modelscan, any issue at all. Errors
count as not flagged and are reported.

The peers are not project dependencies: install them in a separate environment, e.g.

    python -m venv /tmp/scan-bench-venv
    /tmp/scan-bench-venv/bin/pip install numpy scikit-learn joblib picklescan modelscan
    /tmp/scan-bench-venv/bin/python benchmarks/scan_artifacts.py --scale 0.01

``--scale 0.01`` is a quick check; ``--scale 1`` needs about 1.3 GB free in the temp dir.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from apps.scans.artifact import analyse  # noqa: E402
from tests.scans.artifact_corpus import (  # noqa: E402
    CALL_TARGETS,
    A,
    benign_samples,
    malicious_samples,
    torch_state_dict_pickle,
)

MB = 1_000_000
EXTENSIONS = {
    "pickle": ".pkl",
    "joblib": ".joblib",
    "pytorch-zip": ".pt",
    "pytorch-legacy": ".pt",
    "numpy": ".npy",
    "numpy-npz": ".npz",
    "zip": ".zip",
    "tar": ".tar.gz",
    "gzip": ".pkl.gz",
    "bz2": ".pkl.bz2",
    "xz": ".pkl.xz",
    "keras": ".keras",
    "hdf5": ".h5",
    "onnx": ".onnx",
    "safetensors": ".safetensors",
}


@dataclass
class Case:
    name: str
    description: str
    files: list[tuple[Path, bool]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path, _ in self.files)


# --------------------------------------------------------------------------- builders


def build_torch_zip(workdir: Path, scale: float) -> Case:
    """(a) ~1 GB of stored tensor members, data.pkl, and a pickle in an odd member."""
    total = max(int(1_000 * MB * scale), 4 * MB)
    members = max(4, round(128 * scale))
    numel = total // members // 4
    specs = {
        f"layers.{i}.weight": SimpleNamespace(
            dtype=np.dtype("float32"), shape=(numel,), strides=(4,), itemsize=4, size=numel
        )
        for i in range(members)
    }
    chunk = np.random.default_rng(0).random(numel, dtype="float32").tobytes()
    hidden = A.proto(4) + A.EMPTY_DICT + A.unicode("step") + A.global_("os", "system")
    hidden += A.args("true") + A.REDUCE + A.SETITEM + A.STOP
    path = workdir / "a_checkpoint.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", torch_state_dict_pickle(specs))
        archive.writestr("archive/byteorder", b"little")
        for key in range(members):
            archive.writestr(f"archive/data/{key}", chunk)
        archive.writestr("archive/.data/.telemetry~7f", hidden)
        archive.writestr("archive/version", b"3\n")
    return Case("a", "PyTorch-style zip of tensors, pickle hidden in an odd member", [(path, True)])


def build_array_pickle(workdir: Path, scale: float) -> Case:
    """(b) a ~100 MB pickle of numpy arrays, and the same with a payload after the arrays."""
    count = 100
    numel = max(int(125_000 * scale), 1_000)
    arrays = [np.random.default_rng(i).random(numel) for i in range(count)]
    clean = workdir / "b_arrays.pkl"
    clean.write_bytes(_pickle(arrays))
    tail = workdir / "b_arrays_tail_payload.pkl"
    body = _pickle(arrays)
    # Same list, one more element: a call of os.system after 100 MB of array bytes.
    payload = A.global_("os", "system") + A.args("true") + A.REDUCE
    assert body.endswith(b"e.")
    tail.write_bytes(body[:-2] + payload + b"e.")
    return Case(
        "b",
        "pickle of numpy arrays (clean, and with a payload at the end)",
        [(clean, False), (tail, True)],
    )


def build_small_pickles(workdir: Path, scale: float) -> Case:
    """(c) many small pickles; one in ten carries a payload (varied targets and forms)."""
    import pickle

    count = max(20, round(1_000 * scale))
    folder = workdir / "c_small"
    folder.mkdir()
    files = []
    rng = np.random.default_rng(7)
    for i in range(count):
        path = folder / f"model_{i:04d}.pkl"
        if i % 10 == 9:
            module, name, args = CALL_TARGETS[(i // 10) % len(CALL_TARGETS)]
            build = A.stack_call if (i // 10) % 2 else A.call
            path.write_bytes(build(module, name, *args))
            files.append((path, True))
        else:
            value = {"id": i, "weights": rng.random(16), "labels": ["a", "b"], "bias": 0.5}
            path.write_bytes(pickle.dumps(value, protocol=2 + i % 4))
            files.append((path, False))
    return Case("c", f"{count} small pickles", files)


def build_corpus(workdir: Path) -> Case:
    """(d) the frozen test corpus, each file named with its format's usual extension."""
    folder = workdir / "d_corpus"
    folder.mkdir()
    files = []
    for index, sample in enumerate(malicious_samples() + benign_samples()):
        name = f"{index:03d}_{'m' if sample.malicious else 'b'}{EXTENSIONS[sample.container]}"
        path = folder / name
        path.write_bytes(sample.data)
        files.append((path, sample.malicious))
    return Case("d", "test corpus", files)


def _pickle(value) -> bytes:
    import pickle

    return pickle.dumps(value, protocol=4)


# --------------------------------------------------------------------------- tools


class Tool:
    name = ""

    def version(self) -> str:
        return "-"

    def flagged(self, path: Path) -> bool:
        raise NotImplementedError


class Ours(Tool):
    name = "mlgov artifact"

    def version(self) -> str:
        return "this repository"

    def flagged(self, path: Path) -> bool:
        return analyse(path).max_severity in ("high", "critical")


class PickleScan(Tool):
    name = "picklescan"

    def __init__(self) -> None:
        from picklescan.scanner import scan_file_path

        self._scan = scan_file_path

    def version(self) -> str:
        return metadata.version("picklescan")

    def flagged(self, path: Path) -> bool:
        return self._scan(str(path)).infected_files > 0


class ModelScanTool(Tool):
    name = "modelscan"

    def __init__(self) -> None:
        from modelscan.modelscan import ModelScan

        self._scanner = ModelScan()

    def version(self) -> str:
        return metadata.version("modelscan")

    def flagged(self, path: Path) -> bool:
        report = self._scanner.scan(str(path))
        return bool(report.get("issues"))


def available_tools(names: list[str]) -> tuple[list[Tool], dict[str, str]]:
    tools: list[Tool] = []
    missing: dict[str, str] = {}
    for name, factory in (("ours", Ours), ("picklescan", PickleScan), ("modelscan", ModelScanTool)):
        if name not in names:
            continue
        try:
            tools.append(factory())
        except ImportError as exc:
            missing[name] = f"not installed ({exc})"
    return tools, missing


# --------------------------------------------------------------------------- running


def run_case(case: Case, tool: Tool) -> dict:
    tp = fp = fn = tn = errors = 0
    started = time.perf_counter()
    for path, malicious in case.files:
        try:
            with _quiet():
                flagged = tool.flagged(path)
        except Exception:  # noqa: BLE001 - a peer crashing is a result, not a benchmark failure
            errors += 1
            flagged = False
        if malicious and flagged:
            tp += 1
        elif malicious:
            fn += 1
        elif flagged:
            fp += 1
        else:
            tn += 1
    seconds = time.perf_counter() - started
    size = case.size
    return {
        "files": len(case.files),
        "bytes": size,
        "seconds": round(seconds, 4),
        "mb_per_s": round(size / MB / seconds, 1) if seconds else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "errors": errors,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
    }


@contextlib.contextmanager
def _quiet():
    """Peers print and log per file; keep the table readable."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def print_table(results: dict) -> None:
    header = f"{'case':<5}{'tool':<16}{'MB/s':>10}{'recall':>8}{'precision':>11}"
    header += f"{'TP/FP/FN':>12}{'errors':>8}{'seconds':>9}"
    print(header)
    print("-" * len(header))
    for case, tools in results.items():
        for tool, row in tools.items():
            if "skipped" in row:
                print(f"{case:<5}{tool:<16}{row['skipped']:>10}")
                continue
            counts = f"{row['tp']}/{row['fp']}/{row['fn']}"
            print(
                f"{case:<5}{tool:<16}{_fmt(row['mb_per_s']):>10}{_fmt(row['recall']):>8}"
                f"{_fmt(row['precision']):>11}{counts:>12}{row['errors']:>8}"
                f"{row['seconds']:>9.2f}"
            )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size factor for cases a-c")
    parser.add_argument("--cases", default="abcd", help="which cases to run, e.g. 'ad'")
    parser.add_argument("--tools", default="ours,picklescan,modelscan")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build files")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "scan_artifacts.json"
    )
    parser.add_argument("--keep", action="store_true", help="keep the built files")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)

    workdir = Path(tempfile.mkdtemp(prefix="scan-bench-", dir=args.workdir))
    try:
        builders = {
            "a": lambda: build_torch_zip(workdir, args.scale),
            "b": lambda: build_array_pickle(workdir, args.scale),
            "c": lambda: build_small_pickles(workdir, args.scale),
            "d": lambda: build_corpus(workdir),
        }
        started = time.perf_counter()
        cases = [builders[key]() for key in args.cases if key in builders]
        print(f"built {len(cases)} cases in {time.perf_counter() - started:.1f} s under {workdir}")
        tools, missing = available_tools(args.tools.split(","))
        results: dict = {}
        for case in cases:
            results[case.name] = {}
            for tool in tools:
                results[case.name][tool.name] = run_case(case, tool)
            for name, why in missing.items():
                results[case.name][name] = {"skipped": "missing", "why": why}
        print_table(results)
        document = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "scale": args.scale,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
            },
            "tools": {tool.name: tool.version() for tool in tools} | missing,
            "cases": {
                case.name: {
                    "description": case.description,
                    "files": len(case.files),
                    "bytes": case.size,
                }
                for case in cases
            },
            "results": results,
            "flagged_means": {
                "mlgov artifact": "a finding of severity high or critical",
                "picklescan": "infected_files > 0",
                "modelscan": "any issue reported",
            },
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.output}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
