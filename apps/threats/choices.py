from django.db import models


class Maturity(models.TextChoices):
    """How far an ATLAS technique has been shown to work (ATLAS `maturity`)."""

    FEASIBLE = "feasible", "Feasible"
    DEMONSTRATED = "demonstrated", "Demonstrated"
    REALIZED = "realized", "Realized"


class CatalogueKind(models.TextChoices):
    """The kinds of ATLAS object an import counts separately (keys of an import report)."""

    TACTICS = "tactics", "Tactics"
    TECHNIQUES = "techniques", "Techniques"
    SUBTECHNIQUES = "sub-techniques", "Sub-techniques"
    MITIGATIONS = "mitigations", "Mitigations"
    LINKS = "links", "Mitigation-technique links"


# --- Threat assessments -------------------------------------------------------------------------


class AssetKind(models.TextChoices):
    """What a threat-model record is about: a registry model, dataset or deployment."""

    MODEL = "model", "Model"
    DATASET = "dataset", "Dataset"
    DEPLOYMENT = "deployment", "Deployment"


class RiskBand(models.TextChoices):
    """Bands of a likelihood x impact score; thresholds come from MLGOV_RISK_BANDS."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class AssessmentStatus(models.TextChoices):
    """Where a threat stands. `accepted` is only reached through an approved RiskAcceptance."""

    OPEN = "open", "Open"
    MITIGATED = "mitigated", "Mitigated"
    ACCEPTED = "accepted", "Accepted"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class AssessmentOrigin(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    SUGGESTED = "suggested", "Suggested by a rule"


class MitigationStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    IMPLEMENTED = "implemented", "Implemented"
    VERIFIED = "verified", "Verified"


class AcceptanceStatus(models.TextChoices):
    """A risk acceptance's life: requested, then approved or rejected; approved ones expire."""

    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
