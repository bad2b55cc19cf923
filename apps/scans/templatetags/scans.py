"""Template tags that put scan information on other apps' pages (the registry's asset pages).

`{% asset_scans version %}` renders the latest scan of each kind over an asset, its open
findings by severity and, for those who may, a "Start a scan" button. The registry template
only includes scans/inc/asset_scans_section.html; what it shows is decided here and in
apps.scans.selectors.
"""

from django import template

from apps.accounts import permissions as perms
from apps.registry.models import DatasetVersion, Deployment, ModelVersion
from apps.scans import scanners, selectors, services
from apps.scans.choices import TargetType
from apps.scans.models import ScanRun

register = template.Library()

TARGET_TYPES = {
    ModelVersion: TargetType.MODEL_VERSION,
    DatasetVersion: TargetType.DATASET_VERSION,
    Deployment: TargetType.DEPLOYMENT,
}


@register.inclusion_tag("scans/inc/asset_scans.html", takes_context=True)
def asset_scans(context, asset) -> dict:
    user = context["request"].user
    target_type = TARGET_TYPES[type(asset)]
    available = scanners.registered()
    titles = {name: available[name].title for name in scanners.scanners_for(target_type)}
    return {
        "asset": asset,
        "target_type": target_type,
        "latest": selectors.latest_scans_for(
            user=user, target_type=target_type, target_id=asset.pk, scanner_titles=titles
        ),
        "open_counts": selectors.open_finding_counts(
            user=user, target_type=target_type, target_id=asset.pk
        ),
        "can_start": bool(titles)
        and perms.can_create(user, ScanRun, services.target_team(target_type, asset)),
    }


@register.inclusion_tag("scans/inc/severity_badge.html")
def severity_badge(severity: str, label: str = "") -> dict:
    return {"severity": severity, "label": label or severity.capitalize()}


@register.inclusion_tag("scans/inc/status_badge.html")
def scan_status_badge(status: str, label: str = "") -> dict:
    return {"status": status, "label": label or status.capitalize()}
