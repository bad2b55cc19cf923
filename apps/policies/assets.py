"""The three kinds of asset a policy governs, and how to find one within a user's scope.

Kept small on purpose: the threat-modeling helpers in apps.threats may offer a richer version;
this module only needs to name, fetch and describe models, datasets and deployments.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404

from apps.accounts.models import User
from apps.policies.choices import AssetKind
from apps.registry import selectors as registry
from apps.registry.models import Dataset, Deployment, MLModel, Team

Asset = MLModel | Dataset | Deployment

_GETTERS = {
    AssetKind.MODEL: registry.model_get,
    AssetKind.DATASET: registry.dataset_get,
    AssetKind.DEPLOYMENT: registry.deployment_get,
}


def asset_kind(asset: Asset) -> str:
    if isinstance(asset, MLModel):
        return AssetKind.MODEL
    if isinstance(asset, Dataset):
        return AssetKind.DATASET
    if isinstance(asset, Deployment):
        return AssetKind.DEPLOYMENT
    raise TypeError(f"{type(asset).__name__} is not a model, dataset or deployment.")


def asset_get(*, user: User, kind: str, pk) -> Asset:
    """One asset the user may see; Http404 for an unknown kind, a bad id or one out of scope."""
    getter = _GETTERS.get(kind)
    if getter is None:
        raise Http404("Unknown kind of asset.")
    try:
        return getter(user=user, pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def asset_team(asset: Asset) -> Team:
    """The owning team (deployments belong to their model's team)."""
    if isinstance(asset, Deployment):
        return asset.model_version.model.team
    return asset.team


def asset_label(asset: Asset) -> str:
    if isinstance(asset, Deployment):
        version = asset.model_version
        return f"{version.model.name} {version.version} in {asset.get_environment_display()}"
    return asset.name


def asset_url(asset: Asset) -> str:
    return asset.get_absolute_url()


def asset_field(asset: Asset) -> dict[str, Asset]:
    """The keyword naming the asset on AccessPolicy: {"model": m}, {"dataset": d}..."""
    return {asset_kind(asset): asset}
