"""Integrity scanner: are the stored bytes still the ones registered?

mlgov stores artifacts and datasets by content and records their SHA-256 at registration. This
scanner re-reads the stored file through the storage API, hashes it again and compares the
result with the recorded digest and, when the pipeline supplies one, with the digest it expected.
A difference means the file was changed behind mlgov's back (or the pipeline built something
else than what was registered): critical either way.
"""

import hashlib

from apps.scans.choices import Severity, TargetType
from apps.scans.scanners.base import FindingData, ScanContext, Scanner, ScannerInput

CHUNK_BYTES = 1024 * 1024

MANIPULATE_MODEL = "AML.T0018"  # Manipulate AI Model
POISON_TRAINING_DATA = "AML.T0020"  # Poison Training Data
SUPPLY_CHAIN_MODEL = "AML.T0010.003"  # AI Supply Chain Compromise: Model
SUPPLY_CHAIN_DATA = "AML.T0010.002"  # AI Supply Chain Compromise: Data


class IntegrityScanner(Scanner):
    name = "integrity"
    title = "Stored file integrity"
    description = (
        "Re-hashes the stored artifact or dataset file and compares it with the SHA-256 recorded "
        "at registration and with an expected digest, when one is given."
    )
    version = "1"
    targets = frozenset({TargetType.MODEL_VERSION, TargetType.DATASET_VERSION})
    inputs = (
        ScannerInput(
            name="expected_sha256",
            kind="sha256",
            help="The SHA-256 the building pipeline computed; any difference is reported.",
        ),
    )
    atlas_techniques = (MANIPULATE_MODEL, SUPPLY_CHAIN_MODEL, POISON_TRAINING_DATA,
                        SUPPLY_CHAIN_DATA)

    def scan(self, context: ScanContext) -> list[FindingData]:
        target = context.target
        is_model = context.target_type == TargetType.MODEL_VERSION
        storage_name = target.artifact if is_model else target.file
        what = "artifact" if is_model else "dataset file"
        tampering = MANIPULATE_MODEL if is_model else POISON_TRAINING_DATA
        supply_chain = SUPPLY_CHAIN_MODEL if is_model else SUPPLY_CHAIN_DATA
        evidence = {
            "storage_name": storage_name,
            "recorded_sha256": target.sha256,
            "recorded_size": target.size,
        }
        try:
            actual_sha256, actual_size = self._hash(context, storage_name, target.size)
        except OSError as exc:
            return [
                FindingData(
                    severity=Severity.CRITICAL,
                    key="stored-file-unreadable",
                    title=f"The stored {what} cannot be read, so its integrity was not checked",
                    detail=f"Reading {storage_name} failed ({type(exc).__name__}: {exc}). The "
                    f"registered bytes may have been removed or replaced.",
                    atlas_technique=tampering,
                    location=storage_name,
                    evidence={**evidence, "error": str(exc)},
                )
            ]
        evidence.update({"actual_sha256": actual_sha256, "actual_size": actual_size})
        findings = []
        if actual_sha256 != target.sha256:
            findings.append(
                FindingData(
                    severity=Severity.CRITICAL,
                    key="digest-mismatch:registered",
                    title=f"The stored {what} differs from the one registered",
                    detail=f"The stored bytes hash to {actual_sha256} ({actual_size} bytes), "
                    f"not to the {target.sha256} ({target.size} bytes) recorded at "
                    f"registration: the file was changed outside mlgov. Do not load or deploy "
                    f"it; register the intended file again and investigate who could write "
                    f"to the storage.",
                    atlas_technique=tampering,
                    location=storage_name,
                    evidence={**evidence, "related_techniques": [supply_chain]},
                )
            )
        expected = context.params.get("expected_sha256")
        if expected and actual_sha256 != expected:
            findings.append(
                FindingData(
                    severity=Severity.CRITICAL,
                    key="digest-mismatch:expected",
                    title=f"The stored {what} is not the one the pipeline expected",
                    detail=f"The stored bytes hash to {actual_sha256}; the pipeline expected "
                    f"{expected}. What is registered is not what was built.",
                    atlas_technique=supply_chain,
                    location=storage_name,
                    evidence={**evidence, "expected_sha256": expected,
                              "related_techniques": [tampering]},
                )
            )
        return findings

    @staticmethod
    def _hash(context: ScanContext, storage_name: str, expected_size: int) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with context.open_file(storage_name) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                context.progress(min(size / expected_size, 1.0) if expected_size else 1.0)
        return digest.hexdigest(), size
