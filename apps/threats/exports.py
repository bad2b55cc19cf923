"""Exports of the threat model: an ATT&CK Navigator layer (JSON) and the threat register (CSV).

Pure builders over what apps.threats.selectors_assessments reads, so they are tested without a
database and the views only stream their output.

Navigator layer: format 4.5 (github.com/mitre-attack/attack-navigator, layers/LAYERFORMATv4_5.md)
for the ATLAS Navigator's "atlas-atlas" domain. Each assessed technique (sub-techniques as
their own entries) gets its worst open residual score (1-25, coloured by risk band) and a
comment with its counts. Entries carry no `tactic`: without one, the Navigator shows the
annotation under every tactic of the technique, which is what a per-technique score means, and
it does not depend on tactic short names that ATLAS has renamed between releases.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from apps.threats import risk
from apps.threats.choices import AcceptanceStatus, AssessmentStatus, RiskBand
from apps.threats.models import ThreatAssessment

LAYER_VERSIONS = {"layer": "4.5", "navigator": "5.1.0"}
LAYER_DOMAIN = "atlas-atlas"
HANDLED_COLOUR = "#c7e9c0"  # assessed, nothing open: mitigated, accepted
UNSCORED_COLOUR = "#d9d9d9"


def navigator_layer(
    *, name: str, description: str, techniques: Iterable[dict], generated_at: datetime,
    catalogue_version: str = "",
) -> dict:
    """A Navigator layer from `layer_techniques` rows (atlas_id, count, open_count, worst_open,
    parent_atlas_id)."""
    rows = list(techniques)
    parents_with_subs = {row["parent_atlas_id"] for row in rows if row["parent_atlas_id"]}
    entries = []
    for row in rows:
        worst_open = row["worst_open"]
        entry = {
            "techniqueID": row["atlas_id"],
            "comment": (
                f"{row['count']} assessed, {row['open_count']} open; worst open residual "
                f"risk: {_describe(worst_open, row['open_count'])}."
            ),
            "enabled": True,
        }
        if worst_open is not None:
            entry["score"] = worst_open
            entry["color"] = risk.BAND_COLOURS[risk.risk_band(worst_open)]
        elif row["open_count"]:
            entry["color"] = UNSCORED_COLOUR
        else:
            entry["color"] = HANDLED_COLOUR
        if row["atlas_id"] in parents_with_subs:
            entry["showSubtechniques"] = True
        entries.append(entry)
    return {
        "name": name[:100],
        "versions": dict(LAYER_VERSIONS),
        "domain": LAYER_DOMAIN,
        "description": description,
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True,
                   "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": entries,
        "gradient": {
            "colors": [risk.BAND_COLOURS[RiskBand.LOW], risk.BAND_COLOURS[RiskBand.MEDIUM],
                       risk.BAND_COLOURS[RiskBand.CRITICAL]],
            "minValue": 1,
            "maxValue": risk.MAX_LEVEL * risk.MAX_LEVEL,
        },
        "legendItems": [
            *({"label": f"{label} open residual risk", "color": risk.BAND_COLOURS[band]}
              for band, label in RiskBand.choices),
            {"label": "Open, not scored", "color": UNSCORED_COLOUR},
            {"label": "Handled (mitigated or accepted)", "color": HANDLED_COLOUR},
        ],
        "metadata": [
            {"name": "generated_at", "value": generated_at.isoformat()},
            {"name": "atlas_version", "value": catalogue_version or "unknown"},
            {"name": "generator", "value": "mlgov"},
        ],
    }


def _describe(score: int | None, open_count: int) -> str:
    if score is not None:
        return f"{score} ({risk.risk_band(score)})"
    return "not scored" if open_count else "none"


# --- Threat register ----------------------------------------------------------------------------

REGISTER_HEADER = [
    "asset_kind", "asset", "team", "technique_id", "technique", "tactics", "likelihood",
    "impact", "inherent_score", "inherent_band", "residual_score", "residual_band", "status",
    "mitigations", "acceptance", "owners", "rationale", "updated_by", "updated_at",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that spreadsheets show as text, never run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _asset_name(assessment: ThreatAssessment) -> str:
    if assessment.deployment_id:
        deployment = assessment.deployment
        version = deployment.model_version
        return f"{version.model.name} {version.version} in {deployment.environment}"
    return (assessment.model or assessment.dataset).name


def _acceptance(assessment: ThreatAssessment) -> str:
    for acceptance in assessment.acceptances.all():  # newest first (prefetched)
        until = acceptance.expires_at.date().isoformat()
        if acceptance.status == AcceptanceStatus.APPROVED:
            who = acceptance.decided_by.username if acceptance.decided_by else "?"
            state = "expired" if getattr(assessment, "acceptance_expired", False) else "approved"
            return f"{state} by {who} until {until}"
        if acceptance.status == AcceptanceStatus.PENDING:
            return f"requested until {until}, awaiting approval"
        return f"{acceptance.status} ({until})"
    return ""


def register_row(assessment: ThreatAssessment) -> list[str]:
    """One register line for an assessment read through `register_rows`."""
    mitigations = list(assessment.mitigations.all())
    status = getattr(assessment, "effective_status", assessment.status)
    return [_cell(v) for v in (
        assessment.asset_kind,
        _asset_name(assessment),
        assessment.team.name,
        assessment.technique.atlas_id,
        assessment.technique.name,
        "; ".join(t.name for t in assessment.technique.tactics.all()),
        assessment.likelihood,
        assessment.impact,
        assessment.inherent_score,
        assessment.inherent_band,
        assessment.residual_score,
        assessment.residual_band,
        AssessmentStatus(status).label,
        "; ".join(f"{m.display_name} ({m.get_status_display().lower()})" for m in mitigations),
        _acceptance(assessment),
        "; ".join(sorted({m.owner.username for m in mitigations if m.owner})),
        assessment.rationale,
        assessment.updated_by.username if assessment.updated_by else "",
        assessment.updated_at.isoformat(),
    )]


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def register_csv_lines(assessments: Iterable[ThreatAssessment]) -> Iterator[str]:
    """The register as CSV text, one line at a time (header first)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(REGISTER_HEADER)
    for assessment in assessments:
        yield writer.writerow(register_row(assessment))
