"""Shared fixtures: one user per role, a team with a data scientist, API clients.

Tests that need a real service (PostgreSQL, Redis, a worker, Chromium) call `require_service`:
in CI (CI=true) a missing service fails the test; elsewhere it is skipped.
"""

import os

import pytest
from rest_framework.test import APIClient

from apps.accounts.choices import Role, TeamRole
from tests.accounts.factories import UserFactory
from tests.registry.factories import TeamFactory, TeamMembershipFactory

PASSWORD = "correct-horse-battery-staple"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_service(name: str, available: bool, why: str = "") -> None:
    """Fail in CI, skip elsewhere, when a real service the test needs is not there."""
    if available:
        return
    message = f"{name} is not available{': ' + why if why else ''}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: real services are required)")
    pytest.skip(message)


@pytest.fixture
def team(db):
    return TeamFactory(name="Credit Risk")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Fraud Detection")


@pytest.fixture
def data_scientist(team):
    user = UserFactory(username="dana", role=Role.DATA_SCIENTIST)
    TeamMembershipFactory(team=team, user=user, role=TeamRole.MEMBER)
    return user


@pytest.fixture
def outsider(other_team):
    """A data scientist of another team: must see nothing of `team`."""
    user = UserFactory(username="oscar", role=Role.DATA_SCIENTIST)
    TeamMembershipFactory(team=other_team, user=user)
    return user


@pytest.fixture
def compliance_officer(db):
    return UserFactory(username="cora", role=Role.COMPLIANCE_OFFICER)


@pytest.fixture
def auditor(db):
    return UserFactory(username="audrey", role=Role.AUDITOR)


@pytest.fixture
def administrator(db):
    return UserFactory(username="adam", role=Role.ADMINISTRATOR)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(db):
    """An API client logged in (session) as the given user."""

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make
