"""Hooks that are not services: sign-in events from django.contrib.auth, and the task scope.

- Every password check that fails (web form or API token login, both go through
  `authenticate()`) sends `user_login_failed`; a web sign-in sends `user_logged_in`. The API
  token login records its success in apps.accounts.services.token_issue, since it never
  calls `login()`.
- Celery tasks run with interface "worker" and the task id as request id; refusals raised in
  a task are written when it ends.
"""

from celery.signals import task_postrun, task_prerun
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit import context
from apps.audit.choices import AuditAction, Interface
from apps.audit.services import audit_record

_task_tokens: dict[str, object] = {}


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditAction.LOGIN_SUCCEEDED, obj=user, actor=user,
                 changes={"method": "password"})


@receiver(user_logged_out, dispatch_uid="audit_user_logged_out")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditAction.LOGOUT, obj=user, actor=user)


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already replaced the password in `credentials`; only the name is kept.
    attempted = str(credentials.get("username", "") or "")
    audit_record(action=AuditAction.LOGIN_FAILED, actor_name=attempted,
                 object_type="accounts.user", object_repr=attempted,
                 changes={"username": attempted})


@task_prerun.connect(weak=False, dispatch_uid="audit_task_prerun")
def _task_started(task_id=None, task=None, **kwargs) -> None:
    scope = context.AuditScope(interface=Interface.WORKER, request_id=str(task_id or "")[:64])
    _task_tokens[task_id] = context.bind(scope)


@task_postrun.connect(weak=False, dispatch_uid="audit_task_postrun")
def _task_finished(task_id=None, task=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is None:
        return
    scope = context.current()
    try:
        if scope is not None:
            scope.flush()
    finally:
        try:
            context.reset(token)
        except ValueError:  # bound in another context (a pool that switched threads): drop it
            pass
