"""Reads of the threats app, scoped through apps.accounts.permissions and joined for their pages.

Every list costs a fixed number of queries, whatever its length.
"""

from django.db.models import Prefetch, QuerySet

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.threats.models import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)

# --- ATLAS catalogue ----------------------------------------------------------------------------


def catalogue_version_current(*, user: User) -> CatalogueVersion | None:
    """The ATLAS release imported last (what the catalogue now reflects), or None."""
    return perms.scope(CatalogueVersion.objects.all(), user).order_by("-imported_at").first()


def tactic_list(*, user: User) -> QuerySet[Tactic]:
    """Tactics in matrix order, retired ones included (the API filters them)."""
    return perms.scope(Tactic.objects.all(), user).order_by("matrix_order", "atlas_id")


def technique_list(*, user: User) -> QuerySet[Technique]:
    """Techniques and sub-techniques with their parent, tactics, sub-techniques and mitigations.

    Only current (not retired) sub-techniques and mitigation links are prefetched.
    """
    return (
        perms.scope(Technique.objects.all(), user)
        .select_related("parent")
        .prefetch_related(
            Prefetch("tactics", queryset=Tactic.objects.order_by("matrix_order", "atlas_id")),
            Prefetch(
                "subtechniques",
                queryset=Technique.objects.filter(is_retired=False).order_by("atlas_id"),
                to_attr="current_subtechniques",
            ),
            Prefetch(
                "mitigation_links",
                queryset=MitigationTechnique.objects.filter(is_retired=False)
                .select_related("mitigation")
                .order_by("mitigation__atlas_id"),
                to_attr="current_mitigation_links",
            ),
        )
        .order_by("atlas_id")
    )


def mitigation_list(*, user: User) -> QuerySet[Mitigation]:
    """Mitigations with their current technique links."""
    return (
        perms.scope(Mitigation.objects.all(), user)
        .prefetch_related(
            Prefetch(
                "technique_links",
                queryset=MitigationTechnique.objects.filter(is_retired=False)
                .select_related("technique")
                .order_by("technique__atlas_id"),
                to_attr="current_technique_links",
            )
        )
        .order_by("atlas_id")
    )


def catalogue_object_get(queryset: QuerySet, *, key: str):
    """One catalogue object by ATLAS id (AML.T0010.003) or numeric id; DoesNotExist if absent."""
    if key.isdecimal():  # not isdigit(): "²" is a digit that int() refuses
        return queryset.get(pk=int(key))
    return queryset.get(atlas_id=key)


def catalogue_matrix(*, user: User, include_retired: bool = False) -> QuerySet[Tactic]:
    """Tactics in matrix order, each with `matrix_techniques` (top-level, by id), each of those
    with `matrix_subtechniques`: the ATLAS matrix for the catalogue page, in three queries.
    """
    techniques = Technique.objects.order_by("atlas_id")
    tactics = tactic_list(user=user)
    if not include_retired:
        techniques = techniques.filter(is_retired=False)
        tactics = tactics.filter(is_retired=False)
    return tactics.prefetch_related(
        Prefetch(
            "techniques",
            queryset=techniques.filter(parent__isnull=True).prefetch_related(
                Prefetch("subtechniques", queryset=techniques, to_attr="matrix_subtechniques")
            ),
            to_attr="matrix_techniques",
        )
    )
