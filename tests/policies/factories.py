import factory

from apps.policies.choices import GrantPermission, PrincipalType
from apps.policies.models import AccessPolicy, PolicyGrant
from tests.registry.factories import MLModelFactory


class AccessPolicyFactory(factory.django.DjangoModelFactory):
    """A policy on a model by default; pass dataset= or deployment= (and model=None) instead."""

    class Meta:
        model = AccessPolicy

    model = factory.SubFactory(MLModelFactory)
    team = factory.LazyAttribute(
        lambda o: (o.model.team if o.model else o.dataset.team if o.dataset
                   else o.deployment.model_version.model.team)
    )
    dataset = None
    deployment = None


class PolicyGrantFactory(factory.django.DjangoModelFactory):
    """A grant to a team by default (the policy's own team)."""

    class Meta:
        model = PolicyGrant

    policy = factory.SubFactory(AccessPolicyFactory)
    permission = GrantPermission.DOWNLOAD
    principal_type = PrincipalType.TEAM
    principal_team = factory.LazyAttribute(lambda o: o.policy.team)
