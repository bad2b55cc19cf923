"""Template helpers for other apps' pages: whether the viewer may download a version's file."""

from django import template

from apps.policies import selectors
from apps.registry.models import DatasetVersion, ModelVersion

register = template.Library()


@register.simple_tag(takes_context=True)
def download_access(context, version) -> selectors.Decision:
    """The download decision for the page's user on a model or dataset version (two queries:
    the policy and its grants)."""
    user = context["request"].user
    asset = version.model if isinstance(version, ModelVersion) else version.dataset
    return selectors.download_decision(user=user, asset=asset)


@register.filter
def version_kind(version) -> str:
    if isinstance(version, ModelVersion):
        return "model"
    if isinstance(version, DatasetVersion):
        return "dataset"
    return ""
