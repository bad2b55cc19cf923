from django.db import models


class Role(models.TextChoices):
    """The organisation-wide role of a user. One organisation per installation."""

    DATA_SCIENTIST = "data_scientist", "Data scientist"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    AUDITOR = "auditor", "Auditor"
    ADMINISTRATOR = "administrator", "Administrator"


class TeamRole(models.TextChoices):
    """A member's role inside one team."""

    LEAD = "lead", "Lead"
    MEMBER = "member", "Member"
