"""Assets of the threat model: registry models, datasets and deployments, seen uniformly.

Threat-model records point at an asset through three nullable keys (model, dataset,
deployment). This module is the one place that knows how to find an asset for a user (through
the registry selectors, so scope is the registry's), which team owns it, how to name it, and
which facts about it the suggestion rules read (`asset_facts`).
"""

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q
from django.urls import reverse

from apps.accounts.models import User
from apps.core.exceptions import ApplicationError, NotInScope
from apps.registry import selectors as registry_selectors
from apps.registry.choices import Exposure, LineageRole, OutputGranularity
from apps.registry.models import Dataset, Deployment, LineageLink, MLModel, ModelVersion, Team
from apps.threats.choices import AssetKind

ASSET_MODELS: dict[str, type[Model]] = {
    AssetKind.MODEL: MLModel,
    AssetKind.DATASET: Dataset,
    AssetKind.DEPLOYMENT: Deployment,
}
EXPOSED = (Exposure.PUBLIC, Exposure.PARTNER)
# URL segment of each kind on the threat-model pages (/threats/models/<pk>/ ...).
URL_SEGMENTS = {
    AssetKind.MODEL: "models",
    AssetKind.DATASET: "datasets",
    AssetKind.DEPLOYMENT: "deployments",
}


@dataclass(frozen=True)
class AssetRef:
    """An asset by kind and id, without loading it."""

    kind: str
    pk: int

    def field_values(self) -> dict[str, int]:
        """Keyword arguments that point a record's asset keys at this asset."""
        return {f"{self.kind}_id": self.pk}

    def q(self, prefix: str = "") -> Q:
        """A filter for records about this asset (optionally through a relation `prefix`)."""
        return Q(**{f"{prefix}{self.kind}_id": self.pk})


def asset_kind_of(asset: Model) -> str:
    for kind, model in ASSET_MODELS.items():
        if isinstance(asset, model):
            return kind
    raise TypeError(f"{type(asset).__name__} is not a threat-model asset")


def asset_ref(asset: Model) -> AssetRef:
    return AssetRef(asset_kind_of(asset), asset.pk)


def asset_of(record) -> Model:
    """The asset a threat-model record is about (uses loaded relations when present)."""
    return record.asset


def asset_get(*, user: User, kind: str, pk) -> Model:
    """The asset the user may see, joined with its team; NotInScope (404) otherwise."""
    getters = {
        AssetKind.MODEL: registry_selectors.model_get,
        AssetKind.DATASET: registry_selectors.dataset_get,
        AssetKind.DEPLOYMENT: registry_selectors.deployment_get,
    }
    if kind not in getters:
        raise ApplicationError(
            f"Unknown asset kind {kind!r}; use model, dataset or deployment.", field="asset"
        )
    try:
        return getters[kind](user=user, pk=int(pk))
    except (ObjectDoesNotExist, TypeError, ValueError):
        raise NotInScope(f"{AssetKind(kind).label} not found.", field=kind) from None


def asset_team(asset: Model) -> Team:
    """The team that owns the asset (a deployment belongs to its model's team)."""
    if isinstance(asset, Deployment):
        return asset.model_version.model.team
    return asset.team


def asset_label(asset: Model) -> str:
    """A short human name: "credit-scorer", "loans-2024", "credit-scorer 1.1 in production"."""
    if isinstance(asset, Deployment):
        version = asset.model_version
        return f"{version.model.name} {version.version} in {asset.environment}"
    return asset.name


def asset_threat_model_url(asset: Model) -> str:
    kind = asset_kind_of(asset)
    return reverse("threats:asset", args=[URL_SEGMENTS[kind], asset.pk])


# --- Facts the suggestion rules read ------------------------------------------------------------

# Every fact a rule may name, with what it means (docs/threat-suggestions.md lists them too).
FACTS = {
    "kind": "model, dataset or deployment",
    "risk_tier": "EU AI Act risk tier of the model (blank for a dataset)",
    "lifecycle_status": "lifecycle of the model (blank for a dataset)",
    "artifact_formats": "serialization formats of the model's registered versions",
    "exposures": "exposure of each active deployment (internal, partner, public)",
    "exposed_endpoint": "an active deployment is reachable by partners or the public",
    "public_endpoint": "an active deployment is public",
    "exposed_scores": "an exposed deployment returns scores (rounded or full)",
    "exposed_full_scores": "an exposed deployment returns full scores",
    "exposed_without_authentication": "an exposed deployment needs no authentication",
    "exposed_without_rate_limit": "an exposed deployment has no rate limit",
    "production_deployment": "an active deployment is in production",
    "data_sources": "sources of the training data (internal, vendor, public, crowdsourced, "
    "synthetic, scraped)",
    "personal_data": "the (training) data holds personal data",
    "health_data": "the (training) data holds health data",
    "financial_data": "the (training) data holds financial data",
}


def _deployment_facts(deployments: list[Deployment]) -> dict:
    active = [d for d in deployments if d.is_active]
    exposed = [d for d in active if d.exposure in EXPOSED]
    scores = (OutputGranularity.ROUNDED_SCORES, OutputGranularity.FULL_SCORES)
    return {
        "exposures": sorted({d.exposure for d in active}),
        "exposed_endpoint": bool(exposed),
        "public_endpoint": any(d.exposure == Exposure.PUBLIC for d in active),
        "exposed_scores": any(d.output_granularity in scores for d in exposed),
        "exposed_full_scores": any(
            d.output_granularity == OutputGranularity.FULL_SCORES for d in exposed
        ),
        "exposed_without_authentication": any(not d.requires_authentication for d in exposed),
        "exposed_without_rate_limit": any(d.rate_limit_per_minute is None for d in exposed),
        "production_deployment": any(d.environment == "production" for d in active),
    }


def _data_facts(datasets: list[Dataset]) -> dict:
    return {
        "data_sources": sorted({d.source for d in datasets}),
        "personal_data": any(d.has_personal_data for d in datasets),
        "health_data": any(d.has_health_data for d in datasets),
        "financial_data": any(d.has_financial_data for d in datasets),
    }


def _training_datasets(version_filter: Q) -> list[Dataset]:
    dataset_ids = LineageLink.objects.filter(
        version_filter, role=LineageRole.TRAINING
    ).values("dataset_version__dataset_id")
    return list(Dataset.objects.filter(pk__in=dataset_ids))


def asset_facts(asset: Model) -> dict:
    """What the suggestion rules know about an asset: plain values (strings, lists, booleans).

    A model's facts cover all its versions, its active deployments and its training data, so
    its threat model stands on its own; a deployment's cover that deployment, its version and
    that version's training data; a dataset's cover the dataset. Three queries at most.
    """
    facts = dict.fromkeys(FACTS, False)
    facts.update(kind=asset_kind_of(asset), risk_tier="", lifecycle_status="",
                 artifact_formats=[], exposures=[], data_sources=[])
    if isinstance(asset, MLModel):
        facts.update(risk_tier=asset.risk_tier, lifecycle_status=asset.lifecycle_status)
        facts["artifact_formats"] = sorted(
            set(ModelVersion.objects.filter(model=asset).values_list("format", flat=True))
        )
        facts.update(_deployment_facts(list(
            Deployment.objects.filter(model_version__model=asset, is_active=True)
        )))
        facts.update(_data_facts(_training_datasets(Q(model_version__model=asset))))
    elif isinstance(asset, Deployment):
        model = asset.model_version.model
        facts.update(risk_tier=model.risk_tier, lifecycle_status=model.lifecycle_status)
        facts["artifact_formats"] = [asset.model_version.format]
        facts.update(_deployment_facts([asset]))
        facts.update(_data_facts(_training_datasets(Q(model_version_id=asset.model_version_id))))
    else:
        facts.update(_data_facts([asset]))
    return facts
