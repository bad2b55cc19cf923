from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Login, logout and Celery task hooks: connected once the app registry is ready.
        from apps.audit import signals  # noqa: F401
