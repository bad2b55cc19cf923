import sys

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class ThreatsConfig(AppConfig):
    name = "apps.threats"
    label = "threats"
    verbose_name = "Threat modeling"

    def ready(self) -> None:
        post_migrate.connect(install_shipped_catalogue, sender=self)


def install_shipped_catalogue(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """After `migrate` (and test-database set-up or flush), install the shipped ATLAS catalogue.

    A post_migrate handler rather than a data migration: it runs the importer with the current
    models (a data migration would run today's importer against yesterday's tables once the
    models grow), and it puts the catalogue back after a flush. The importer decides whether
    anything is to do; it skips when threats tables are not fully migrated yet
    (`migrate <other app>`), and it writes only to the default database.
    """
    if using != DEFAULT_DB_ALIAS or not _threats_fully_migrated(using):
        return
    from apps.threats.services import catalogue_install_shipped

    report = catalogue_install_shipped()
    if report is not None and kwargs.get("verbosity", 1) >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        totals = ", ".join(f"{count} {kind}" for kind, count in report.totals().items())
        stdout.write(f"  Installed the shipped MITRE ATLAS {report.version} catalogue: {totals}\n")


def _threats_fully_migrated(using: str) -> bool:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[using]
    executor = MigrationExecutor(connection)
    if "threats" not in executor.loader.migrated_apps:
        # Runs without migrations (pytest --nomigrations) create tables from the models.
        return "threats_technique" in connection.introspection.table_names()
    targets = executor.loader.graph.leaf_nodes("threats")
    return bool(targets) and not executor.migration_plan(targets)
