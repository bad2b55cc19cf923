"""The MITRE ATLAS catalogue: tactics, techniques (and sub-techniques), mitigations.

Global reference data, not owned by a team: `is_reference_data = True` tells
apps.accounts.permissions that every active user may read it; nothing but the importer
(apps.threats.services.catalogue_import) writes it. Rows are never deleted: an id that leaves
the catalogue is marked `is_retired`, so records that point at it (threat assessments, findings)
stay linked across ATLAS versions.
"""

from django.db import models

from apps.threats.choices import Maturity

ATLAS_SITE = "https://atlas.mitre.org"


class CatalogueVersion(models.Model):
    """One ATLAS data release as imported: which version, from where, when, and what it held.

    `source` is "shipped" for the catalogue that comes with mlgov, otherwise the sha256 of the
    imported file, so a re-import of the same file is recognised as such.
    """

    SHIPPED = "shipped"

    version = models.CharField(max_length=32)
    source = models.CharField(max_length=64)
    source_name = models.CharField(max_length=255, blank=True)
    imported_at = models.DateTimeField()
    tactic_count = models.PositiveIntegerField(default=0)
    technique_count = models.PositiveIntegerField(default=0)
    subtechnique_count = models.PositiveIntegerField(default=0)
    mitigation_count = models.PositiveIntegerField(default=0)
    link_count = models.PositiveIntegerField(default=0)
    changes = models.JSONField(default=dict, blank=True)

    scope_team_path = None
    is_reference_data = True

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "source"], name="unique_catalogue_version_source"
            ),
        ]
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"ATLAS {self.version} ({self.source[:12]})"


class CatalogueObject(models.Model):
    """Fields every ATLAS object has. `description` stays blank in the shipped catalogue."""

    url_section = ""

    atlas_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    attack_id = models.CharField("ATT&CK id", max_length=32, blank=True)
    attack_url = models.URLField("ATT&CK URL", max_length=500, blank=True)
    is_retired = models.BooleanField(default=False)

    scope_team_path = None
    is_reference_data = True

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.atlas_id} {self.name}"

    @property
    def url(self) -> str:
        """This object's page on the ATLAS website."""
        return f"{ATLAS_SITE}/{self.url_section}/{self.atlas_id}"


class Tactic(CatalogueObject):
    """An adversary goal, one column of the ATLAS matrix (e.g. AML.TA0002 Reconnaissance)."""

    url_section = "tactics"

    matrix_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["matrix_order", "atlas_id"]


class Technique(CatalogueObject):
    """How an adversary reaches a tactic's goal. A sub-technique (AML.T0000.000) has a parent.

    A sub-technique carries its parent's tactics (ATLAS lists tactics on the parent only), so
    "techniques of tactic X" is one query for both levels.
    """

    url_section = "techniques"

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="subtechniques"
    )
    tactics = models.ManyToManyField(Tactic, related_name="techniques", blank=True)
    maturity = models.CharField(max_length=16, choices=Maturity.choices, blank=True)

    class Meta:
        ordering = ["atlas_id"]

    @property
    def is_subtechnique(self) -> bool:
        return self.parent_id is not None


class Mitigation(CatalogueObject):
    """A safeguard against techniques (e.g. AML.M0015 Adversarial Input Detection)."""

    url_section = "mitigations"

    category = models.JSONField(default=list, blank=True)
    ml_lifecycle = models.JSONField(default=list, blank=True)
    techniques = models.ManyToManyField(
        Technique, through="MitigationTechnique", related_name="mitigations", blank=True
    )

    class Meta:
        ordering = ["atlas_id"]


class MitigationTechnique(models.Model):
    """That a mitigation applies to a technique, and how (`use`, blank in the shipped catalogue).

    Retired, not deleted, when a newer catalogue drops the link, like the objects themselves.
    """

    mitigation = models.ForeignKey(
        Mitigation, on_delete=models.CASCADE, related_name="technique_links"
    )
    technique = models.ForeignKey(
        Technique, on_delete=models.CASCADE, related_name="mitigation_links"
    )
    use = models.TextField(blank=True)
    is_retired = models.BooleanField(default=False)

    scope_team_path = None
    is_reference_data = True

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mitigation", "technique"], name="unique_mitigation_technique"
            ),
        ]
        ordering = ["mitigation__atlas_id", "technique__atlas_id"]

    def __str__(self) -> str:
        return f"{self.mitigation.atlas_id} -> {self.technique.atlas_id}"
