"""Helpers for the ATLAS catalogue tests: the reference file, a small valid document, row counts.

The official ATLAS.yaml is reference material beside the project, not part of it: tests that
compare with it skip when it is absent. Everything else uses `mini_atlas`, a small document in
the same layout that the tests change to make each malformed case.
"""

import copy
import os
from pathlib import Path

import pytest
import yaml

from apps.threats.models import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)

# The reference data sits beside the checkout (../shared), wherever the checkout is.
SHARED_DIR = Path(
    os.environ.get("MLGOV_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared")
)
ATLAS_REFERENCE = SHARED_DIR / "reference" / "atlas" / "ATLAS.yaml"

MINI_ATLAS = {
    "id": "ATLAS",
    "name": "Adversarial Threat Landscape for AI Systems",
    "version": "9.9.0",
    "matrices": [
        {
            "id": "ATLAS",
            "name": "ATLAS Matrix",
            "tactics": [
                {"id": "AML.TA0002", "name": "Reconnaissance", "description": "Our words."},
                {"id": "AML.TA0003", "name": "Resource Development"},
            ],
            "techniques": [
                {
                    "id": "AML.T0000",
                    "name": "Search Open Technical Databases",
                    "tactics": ["AML.TA0002"],
                    "maturity": "demonstrated",
                    "ATT&CK-reference": {
                        "id": "T1596",
                        "url": "https://attack.mitre.org/techniques/T1596/",
                    },
                },
                {
                    "id": "AML.T0002",
                    "name": "Acquire Public AI Artifacts",
                    "tactics": ["AML.TA0003", "AML.TA0002"],
                    "maturity": "realized",
                },
                {
                    "id": "AML.T0002.000",
                    "name": "Datasets",
                    "subtechnique-of": "AML.T0002",
                    "maturity": "realized",
                },
            ],
            "mitigations": [
                {
                    "id": "AML.M0000",
                    "name": "Limit Public Release of Information",
                    "category": ["Policy"],
                    "ml-lifecycle": ["Business and Data Understanding"],
                    "techniques": [{"id": "AML.T0000", "use": "How it applies."}],
                },
            ],
        }
    ],
}


@pytest.fixture
def atlas_reference() -> Path:
    if not ATLAS_REFERENCE.exists():
        pytest.skip(f"{ATLAS_REFERENCE} (reference material beside the project) is absent")
    return ATLAS_REFERENCE


@pytest.fixture(scope="session")
def atlas_reference_document() -> dict:
    """The official ATLAS.yaml parsed once per session (tests must not change it)."""
    if not ATLAS_REFERENCE.exists():
        pytest.skip(f"{ATLAS_REFERENCE} (reference material beside the project) is absent")
    return yaml.safe_load(ATLAS_REFERENCE.read_text(encoding="utf-8"))


@pytest.fixture
def mini_atlas() -> dict:
    """A fresh copy of a small valid ATLAS document to modify."""
    return copy.deepcopy(MINI_ATLAS)


@pytest.fixture
def write_yaml(tmp_path):
    """Write a document (or raw text) to an ATLAS.yaml in a temporary folder; returns its path."""

    def write(document, name: str = "ATLAS.yaml") -> Path:
        path = tmp_path / name
        if isinstance(document, bytes):
            path.write_bytes(document)
        elif isinstance(document, str):
            path.write_text(document, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    return write


def catalogue_snapshot() -> dict:
    """Every catalogue row's content, to prove a refused import changed nothing at all."""
    return {
        "versions": list(CatalogueVersion.objects.values_list("version", "source", "imported_at")),
        "tactics": list(Tactic.objects.values_list("atlas_id", "name", "is_retired")),
        "techniques": list(
            Technique.objects.values_list("atlas_id", "name", "parent_id", "is_retired")
        ),
        "technique_tactics": sorted(
            Technique.tactics.through.objects.values_list("technique_id", "tactic_id")
        ),
        "mitigations": list(Mitigation.objects.values_list("atlas_id", "name", "is_retired")),
        "links": list(
            MitigationTechnique.objects.values_list(
                "mitigation_id", "technique_id", "use", "is_retired"
            )
        ),
    }


@pytest.fixture
def snapshot():
    return catalogue_snapshot


# --- Threat model (assessments, suggestions) ----------------------------------------------------


@pytest.fixture
def risky_model(team):
    """A demo-like model: a pickle artifact and a public, unauthenticated, full-scores,
    unlimited production deployment, trained on public health data."""
    from tests.threats.factories import risky_model_for

    return risky_model_for(team)


@pytest.fixture
def second_officer(db):
    """Another compliance officer (acceptances are approved by someone other than the requester)."""
    from apps.accounts.choices import Role
    from tests.accounts.factories import UserFactory

    return UserFactory(username="carl", role=Role.COMPLIANCE_OFFICER)
