from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "apps.scans"
    label = "scans"
    verbose_name = "Scans"

    def ready(self) -> None:
        from apps.scans import checks  # noqa: F401 - registers the system checks
