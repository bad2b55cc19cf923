"""Risk scoring: likelihood x impact on 1-5 scales, and the band a score falls in.

Pure functions over the settings (MLGOV_RISK_LIKELIHOOD_LABELS, MLGOV_RISK_IMPACT_LABELS,
MLGOV_RISK_BANDS), so services, selectors, exports and tests share one definition. A level
outside 1..5 is an `ApplicationError` naming the field, so every caller answers 400, never 500.
"""

from django.conf import settings

from apps.core.exceptions import ApplicationError
from apps.threats.choices import RiskBand

MIN_LEVEL = 1
MAX_LEVEL = 5
# "High or worse": residual risks in these bands need a mitigation in place or an acceptance.
BAND_RANK = {RiskBand.LOW: 1, RiskBand.MEDIUM: 2, RiskBand.HIGH: 3, RiskBand.CRITICAL: 4}
SEVERE_BANDS = frozenset({RiskBand.HIGH, RiskBand.CRITICAL})
# Colours of the bands on the matrix and in the Navigator layer (the stylesheet uses the same).
BAND_COLOURS = {
    RiskBand.LOW: "#8ec843",
    RiskBand.MEDIUM: "#ffe766",
    RiskBand.HIGH: "#ff9f43",
    RiskBand.CRITICAL: "#e8453c",
}


def validate_level(value, *, field: str) -> int:
    """A likelihood or impact as an int in 1..5; anything else is a 400 on `field`."""
    label = field.replace("_", " ").capitalize()
    level = None
    if isinstance(value, int) and not isinstance(value, bool):  # True would pass as 1
        level = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        level = int(value.strip())
    if level is None:
        raise ApplicationError(
            f"{label} must be a whole number from {MIN_LEVEL} to {MAX_LEVEL}.", field=field
        )
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ApplicationError(
            f"{label} must be from {MIN_LEVEL} to {MAX_LEVEL}, not {level}.", field=field
        )
    return level


def risk_score(likelihood: int, impact: int) -> int:
    """likelihood x impact (1-25), both checked."""
    return validate_level(likelihood, field="likelihood") * validate_level(impact, field="impact")


def _bands() -> list[tuple[int, str]]:
    bands = sorted((int(minimum), str(band)) for minimum, band in settings.MLGOV_RISK_BANDS)
    unknown = [band for _, band in bands if band not in RiskBand.values]
    if not bands or unknown:
        raise ValueError(f"MLGOV_RISK_BANDS names unknown bands {unknown}; use {RiskBand.values}")
    return bands


def risk_band(score: int | None) -> str:
    """The band of a score: the band of the highest threshold it reaches ("" when unscored)."""
    if score is None:
        return ""
    band = ""
    for minimum, name in _bands():
        if score >= minimum:
            band = name
    return band or _bands()[0][1]


def band_rank(band: str) -> int:
    """Order of bands for "worse than" comparisons (0 for unscored)."""
    return BAND_RANK.get(band, 0)


def is_severe(band: str) -> bool:
    """High or critical: a residual risk the threat model may not leave unaddressed."""
    return band in SEVERE_BANDS


def level_choices(kind: str) -> list[tuple[int, str]]:
    """(level, "3 - Possible") pairs for forms, from the configured labels."""
    labels = (
        settings.MLGOV_RISK_LIKELIHOOD_LABELS if kind == "likelihood"
        else settings.MLGOV_RISK_IMPACT_LABELS
    )
    return [(level, f"{level} - {label}") for level, label in enumerate(labels, start=MIN_LEVEL)]


def level_label(kind: str, level: int | None) -> str:
    """The configured label of a level ("" when unscored)."""
    if level is None:
        return ""
    return dict(level_choices(kind)).get(level, str(level))
