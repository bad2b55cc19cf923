from django.db import models


class AuditAction(models.TextChoices):
    """What an audit entry records. Add names as features arrive; never reuse one."""

    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    LOGIN_SUCCEEDED = "login_succeeded", "Login succeeded"
    LOGIN_FAILED = "login_failed", "Login failed"
    LOGOUT = "logout", "Logout"
    ACCESS_DENIED = "access_denied", "Access denied"
    DOWNLOAD = "download", "Download"
    EXPORT = "export", "Export"
    REPORT_GENERATED = "report_generated", "Report generated"


class Interface(models.TextChoices):
    """Through which door the action came in."""

    WEB = "web", "Web"
    API = "api", "API"
    COMMAND = "command", "Command"
    WORKER = "worker", "Worker"
