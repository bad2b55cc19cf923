from django.db import models


class AssetKind(models.TextChoices):
    """What an access policy governs: a model, a dataset or a deployment of the registry."""

    MODEL = "model", "Model"
    DATASET = "dataset", "Dataset"
    DEPLOYMENT = "deployment", "Deployment"


class GrantPermission(models.TextChoices):
    """What a grant allows. mlgov enforces `download` itself; the others are recorded policy for
    the systems that serve and deploy models."""

    VIEW = "view", "View"
    DOWNLOAD = "download", "Download the artifact or data"
    DEPLOY = "deploy", "Deploy"
    QUERY = "query", "Query the endpoint"


class PrincipalType(models.TextChoices):
    """Who a grant is for: every member of a team, everyone with an organisation role, or one
    person."""

    TEAM = "team", "Team"
    ROLE = "role", "Role"
    USER = "user", "User"


# Which permissions make sense on which kind of asset: a dataset is not deployed or queried, and
# a deployment has no file of its own to download (its model's policy covers the artifact).
PERMISSIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    AssetKind.MODEL: (
        GrantPermission.VIEW, GrantPermission.DOWNLOAD, GrantPermission.DEPLOY,
        GrantPermission.QUERY,
    ),
    AssetKind.DATASET: (GrantPermission.VIEW, GrantPermission.DOWNLOAD),
    AssetKind.DEPLOYMENT: (GrantPermission.VIEW, GrantPermission.DEPLOY, GrantPermission.QUERY),
}
