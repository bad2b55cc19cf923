"""Models of the threats app, one module per area, re-exported here.

- catalogue: the MITRE ATLAS reference catalogue (tactics, techniques, mitigations), global
  reference data that every active user reads and only the importer writes.
- assessments: the threat model of registry assets (assessed threats, applied mitigations,
  evidence, risk acceptances, suggested threats), owned by the asset's team.
"""

from apps.threats.models.assessments import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)
from apps.threats.models.catalogue import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)

__all__ = [
    "AppliedMitigation",
    "CatalogueVersion",
    "Evidence",
    "Mitigation",
    "MitigationTechnique",
    "RiskAcceptance",
    "Tactic",
    "Technique",
    "ThreatAssessment",
    "ThreatSuggestion",
]
