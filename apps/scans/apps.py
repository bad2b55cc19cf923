from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "apps.scans"
    label = "scans"
    verbose_name = "Scans"

    def ready(self) -> None:
        from apps.accounts import permissions as perms
        from apps.accounts.choices import Role
        from apps.scans import checks  # noqa: F401 - registers the system checks

        # Write rules of this app's models, in the one table apps.accounts.permissions reads:
        # team data scientists and compliance officers start and cancel scans (auditors read
        # only); triage of findings is the compliance officers' decision alone.
        perms.WRITE_RULES.setdefault(
            "scans.scanrun",
            perms.WriteRule(
                team_writers=frozenset({Role.DATA_SCIENTIST}),
                global_writers=frozenset({Role.COMPLIANCE_OFFICER}),
            ),
        )
        perms.WRITE_RULES.setdefault(
            "scans.finding",
            perms.WriteRule(
                team_writers=frozenset(), global_writers=frozenset({Role.COMPLIANCE_OFFICER})
            ),
        )
