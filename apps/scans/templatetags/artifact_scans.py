"""`{% artifact_verdict version as artifact_scan %}`: the artifact scanner's latest verdict on
a model version, for the registry's version page (which only loads this library).

The query lives in apps.scans.selectors_artifact; this tag only hands its answer to the page.
"""

from django import template

from apps.scans.selectors_artifact import ArtifactVerdict, artifact_verdict_latest

register = template.Library()


@register.simple_tag(takes_context=True)
def artifact_verdict(context, version) -> ArtifactVerdict | None:
    return artifact_verdict_latest(user=context["request"].user, model_version_id=version.pk)
