"""Static scanner for unsafe model artifacts (pickles and the containers that carry them).

Pure Python, no Django: the scan engine's plug-in wraps ``analyse``. Nothing in an artifact is
ever imported, unpickled or executed. See ``analyser.analyse`` for the contract and
``allowlist`` for the policy on globals.

Reads: raw pickles (protocols 0-5, every stream in the file, with or without PROTO); joblib
files (uncompressed, zlib, gzip, bz2, lzma, xz and pre-0.10 ``ZF`` files, inline array data
skipped exactly); PyTorch zip and legacy checkpoints; NumPy ``.npy``/``.npz``; zip and tar
archives, nested; gzip/bz2/xz/lzma/zlib wrappers; Keras ``.keras`` and HDF5 model configs;
ONNX graphs; safetensors headers.

Cannot read, and says so in ``Report.unreadable`` with a finding of at least medium:
LZ4 and Zstandard compression, 7-Zip and RAR archives, TorchScript code, TensorFlow
SavedModels and any other unrecognised format. HDF5 datasets (weights) are not inspected
(reported as low: Keras never executes them). Zip members flagged as encrypted are read as if
they were not, because PyTorch ignores the flag.
"""

from .analyser import analyse
from .dispatch import UNSUPPORTED as UNSUPPORTED_FORMATS
from .limits import Limits
from .report import SEVERITIES, Finding, Report

__all__ = ["SEVERITIES", "UNSUPPORTED_FORMATS", "Finding", "Limits", "Report", "analyse"]
