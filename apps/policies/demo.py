"""Access policies for the demo models (apps.registry.demo seeds them; this adds policies).

Two examples, through the same services as the pages and the API:
- breast-cancer-screening (Clinical AI, high risk, a public deployment without authentication,
  rate limit or query logging that returns full scores): a policy that lets every data
  scientist download the artifact, so the review shows gaps on the model and its deployment;
- digit-recogniser (Credit Risk, an internal, authenticated, rate-limited deployment): the
  owning team may view and download, its deployment logs queries: no gaps.

Idempotent: an asset that already has a policy is left alone.
"""

from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.policies import services
from apps.policies.assets import asset_field
from apps.policies.choices import GrantPermission
from apps.policies.models import AccessPolicy
from apps.registry.models import Deployment, MLModel

WITH_GAPS = "breast-cancer-screening"
WITHOUT_GAPS = "digit-recogniser"


def _ensure(actor: User, asset, label: str, **fields) -> tuple[bool, str]:
    if AccessPolicy.objects.filter(**asset_field(asset)).exists():
        return False, f"access policy of {label}"
    services.policy_create(actor=actor, asset=asset, **fields)
    return True, f"access policy of {label}"


def seed_demo_policies(*, actor: User) -> list[tuple[bool, str]]:
    """Create the demo policies that are missing; `actor` should be a compliance officer.

    Returns (created, what) pairs for the seed report. Models that are not there are skipped.
    """
    done: list[tuple[bool, str]] = []
    for model in MLModel.objects.filter(name__in=[WITH_GAPS, WITHOUT_GAPS]).select_related("team"):
        deployments = Deployment.objects.filter(model_version__model=model, is_active=True)
        if model.name == WITH_GAPS:
            done.append(_ensure(actor, model, model.name, notes="Demo: too broad on purpose.",
                                grants=[{"permission": GrantPermission.DOWNLOAD,
                                         "role": Role.DATA_SCIENTIST}]))
            for deployment in deployments:
                done.append(_ensure(actor, deployment, f"{model.name} deployment #{deployment.pk}",
                                    grants=[{"permission": GrantPermission.QUERY,
                                             "team": model.team}]))
        else:
            team_grants = [{"permission": GrantPermission.VIEW, "team": model.team},
                           {"permission": GrantPermission.DOWNLOAD, "team": model.team}]
            done.append(_ensure(actor, model, model.name, grants=team_grants,
                                notes="Demo: the owning team only."))
            for deployment in deployments:
                done.append(_ensure(actor, deployment, f"{model.name} deployment #{deployment.pk}",
                                    query_logging_enabled=True,
                                    grants=[{"permission": GrantPermission.QUERY,
                                             "team": model.team}]))
    return done
