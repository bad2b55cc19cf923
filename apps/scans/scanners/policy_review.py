"""Policy review scanner: the gaps in an asset's access policy and endpoint controls.

A thin plug-in over apps.policies.review: each gap becomes a finding with its ATLAS technique
and severity, so policy gaps live with every other finding (triage, the deployment gate).

- a model version: the review of its model (who may download the artifact, whether a high-risk
  model has a policy) and of each active deployment of this version (endpoint controls);
- a deployment: the review of that deployment;
- a dataset version: the review of its dataset (who may download sensitive data).
"""

from apps.policies.review import (
    ARTIFACT_COLLECTION,
    EXFILTRATION_CYBER,
    EXFILTRATION_VIA_API,
    EXTRACT_MODEL,
    INFERENCE_API_ACCESS,
    INVERT_MODEL,
    Gap,
    policy_review,
)
from apps.scans.choices import TargetType
from apps.scans.scanners.base import FindingData, ScanContext, Scanner


def _finding(gap: Gap, *, asset: str, prefix: str = "") -> FindingData:
    return FindingData(
        severity=gap.severity,
        key=f"{prefix}{gap.key}",
        title=gap.title,
        detail=f"{gap.detail} {gap.fix}",
        atlas_technique=gap.technique,
        location=asset,
        evidence={"rule": gap.rule, "fix": gap.fix, "asset": asset},
    )


class PolicyReviewScanner(Scanner):
    name = "policy-review"
    title = "Access policy review"
    description = (
        "Reviews the access policy and endpoint controls of the model (and this version's active "
        "deployments), the deployment or the dataset: unauthenticated or unthrottled public "
        "endpoints, full scores, missing query logging, role-wide downloads of high-risk models "
        "or sensitive data, high-risk assets without a policy."
    )
    version = "1"
    targets = frozenset(
        {TargetType.MODEL_VERSION, TargetType.DEPLOYMENT, TargetType.DATASET_VERSION}
    )
    atlas_techniques = (EXTRACT_MODEL, INVERT_MODEL, EXFILTRATION_VIA_API, INFERENCE_API_ACCESS,
                        ARTIFACT_COLLECTION, EXFILTRATION_CYBER)

    def scan(self, context: ScanContext) -> list[FindingData]:
        target = context.target
        if context.target_type == TargetType.DEPLOYMENT:
            return [_finding(gap, asset=f"deployment #{target.pk}")
                    for gap in policy_review(target)]
        if context.target_type == TargetType.DATASET_VERSION:
            return [_finding(gap, asset=f"dataset {target.dataset.name}")
                    for gap in policy_review(target.dataset)]
        findings = [_finding(gap, asset=f"model {target.model.name}")
                    for gap in policy_review(target.model)]
        deployments = list(
            target.deployments.filter(is_active=True)
            .select_related("model_version", "model_version__model")
            .order_by("id")
        )
        for index, deployment in enumerate(deployments, start=1):
            findings.extend(
                _finding(gap, asset=f"deployment #{deployment.pk}",
                         prefix=f"deployment-{deployment.pk}:")
                for gap in policy_review(deployment)
            )
            context.progress(index / len(deployments))
        return findings
