"""Account pages: sign-in (two steps), two-factor set-up, API tokens, and user management.

- User management is refused (403) to anyone but administrators; the services check again.
- Two-factor and token pages act on the signed-in user's own account; administrators also
  see and revoke everyone's API tokens (apps.accounts.permissions.scope_api_tokens).
- Pages that show a secret (the TOTP secret, backup codes, a new API token) are never cached.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import lockout, selectors, services, twofactor
from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.forms import (
    ApiTokenCreateForm,
    ConfirmWithCodeForm,
    LoginForm,
    OneTimeCodeForm,
    TotpSetupForm,
    UserCreateForm,
    UserRoleForm,
    UserSearchForm,
)
from apps.accounts.models import User
from apps.core.exceptions import ApplicationError
from apps.core.views_utils import (
    call_service,
    form_status,
    get_or_404,
    paginate,
    raise_for_access,
    render_form,
)
from apps.registry import selectors as registry_selectors

NEW_TOKEN_SESSION_KEY = "mlgov_new_api_token"  # noqa: S105 - a session key name


def require_user_admin(user) -> None:
    if not perms.can_create(user, User):
        raise PermissionDenied("Only administrators manage users.")


def _safe_next(request, default: str = "") -> str:
    """The `next` parameter when it points into this site, else `default` (or home)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or reverse("registry:home")


# --- Sign-in ----------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's sign-in page; a user who needs a second factor goes on to the code prompt (or
    to set one up) instead of the page they asked for, which they reach afterwards."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_success_url(self):
        url = super().get_success_url()
        if twofactor.is_pending(self.request):
            return twofactor.next_step_url(self.request, next_url=url)
        return url


def _locked_out(request, error: lockout.LockedOut):
    """End the half-finished sign-in and show the lock-out page (429)."""
    logout(request)
    return render(request, lockout.LOCKED_OUT_TEMPLATE, {"message": error.message},
                  status=error.status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """Second sign-in step: a code from the authenticator app or a backup code."""
    next_url = _safe_next(request)
    if not twofactor.is_pending(request):
        return redirect(next_url)
    if not selectors.user_has_two_factor(request.user):
        return redirect(twofactor.next_step_url(request, next_url=next_url))
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.second_factor_verify(request=request, user=request.user,
                                                   code=form.cleaned_data["otp"])
        except lockout.LockedOut as exc:
            return _locked_out(request, exc)
        except ApplicationError as exc:  # a wrong code, or too many in a row (django-otp)
            form.add_error("otp", exc.message)
            form.error_status = exc.status
        else:
            twofactor.complete(request, device)
            return redirect(next_url)
    context = {"form": form, "next": next_url}
    return render(request, "accounts/two_factor_verify.html", context,
                  status=form_status(form))


def _backup_codes_page(request, codes: list[str], *, next_url: str, first_time: bool):
    context = {"codes": codes, "next": next_url, "first_time": first_time,
               "nav_section": "security"}
    return render(request, "accounts/backup_codes.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """Set up an authenticator app: QR code (or typed secret), then a code to confirm it."""
    next_url = _safe_next(request)
    if selectors.user_has_two_factor(request.user):
        if twofactor.is_pending(request):
            return redirect(twofactor.next_step_url(request, next_url=next_url))
        messages.info(request, "Two-factor authentication is already set up.")
        return redirect("accounts:security")
    key = twofactor.enrolment_key(request.session)
    form = TotpSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = call_service(form, services.totp_device_confirm, user=request.user, key=key,
                              code=form.cleaned_data["otp"])
        if result:
            device, codes = result
            twofactor.complete(request, device)
            return _backup_codes_page(request, codes, next_url=next_url, first_time=True)
    uri = twofactor.otpauth_uri(request.user, key)
    context = {
        "form": form,
        "next": next_url,
        "qr_svg": twofactor.qr_svg(uri),
        "otpauth_uri": uri,
        "secret": twofactor.base32_secret(key),
        "required": selectors.user_requires_two_factor(request.user),
        "pending": twofactor.is_pending(request),
        "nav_section": "security",
    }
    return render(request, "accounts/two_factor_setup.html", context, status=form_status(form))


@never_cache
@login_required
@require_GET
def security(request):
    """The signed-in user's sign-in security: two-factor status, backup codes, API tokens."""
    user = request.user
    device = selectors.totp_device_get(user)
    return render(request, "accounts/security.html", {
        "nav_section": "security",
        "device": device,
        "required": selectors.user_requires_two_factor(user),
        "backup_codes_left": selectors.backup_codes_left(user) if device else 0,
        "codes_form": ConfirmWithCodeForm(prefix="codes"),
        "disable_form": ConfirmWithCodeForm(prefix="disable"),
    })


def _security_form_error(request, form, exc):
    raise_for_access(exc)
    if isinstance(exc, lockout.LockedOut):
        return _locked_out(request, exc)
    form.add_error("otp", exc.message)
    form.error_status = exc.status
    user = request.user
    device = selectors.totp_device_get(user)
    context = {
        "nav_section": "security",
        "device": device,
        "required": selectors.user_requires_two_factor(user),
        "backup_codes_left": selectors.backup_codes_left(user) if device else 0,
        "codes_form": form if form.prefix == "codes" else ConfirmWithCodeForm(prefix="codes"),
        "disable_form": form if form.prefix == "disable"
        else ConfirmWithCodeForm(prefix="disable"),
    }
    return render(request, "accounts/security.html", context, status=form_status(form))


@never_cache
@login_required
@require_POST
def backup_codes_regenerate(request):
    form = ConfirmWithCodeForm(request.POST, prefix="codes")
    if not form.is_valid():
        return _security_form_error(request, form, ApplicationError(
            "Enter a current code to confirm.", field="otp"))
    try:
        codes = services.backup_codes_regenerate(request=request, user=request.user,
                                                 code=form.cleaned_data["otp"])
    except ApplicationError as exc:
        return _security_form_error(request, form, exc)
    return _backup_codes_page(request, codes, next_url=reverse("accounts:security"),
                              first_time=False)


@login_required
@require_POST
def two_factor_disable(request):
    form = ConfirmWithCodeForm(request.POST, prefix="disable")
    if not form.is_valid():
        return _security_form_error(request, form, ApplicationError(
            "Enter a current code to confirm.", field="otp"))
    try:
        services.two_factor_disable(request=request, user=request.user,
                                    code=form.cleaned_data["otp"])
    except ApplicationError as exc:
        return _security_form_error(request, form, exc)
    messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:security")


# --- API tokens -------------------------------------------------------------------------------


def _token_list_context(request, form) -> dict:
    tokens = selectors.api_token_list(user=request.user)
    # Administrators see everyone's tokens (scope_api_tokens), so the list names the owner.
    show_owner = request.user.is_superuser or request.user.role == Role.ADMINISTRATOR
    return {
        "nav_section": "tokens",
        "form": form,
        "page_obj": paginate(request, tokens),
        "show_owner": show_owner,
        "ttl_hours": settings.API_TOKEN_TTL_HOURS,
    }


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """The caller's API tokens (everyone's for administrators) and a form to create one."""
    form = ApiTokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = call_service(form, services.token_create, user=request.user,
                              name=form.cleaned_data["name"],
                              read_only=form.cleaned_data["read_only"])
        if result:
            info, raw = result
            # Shown once, on the next page (POST-redirect-GET), then gone from the session.
            request.session[NEW_TOKEN_SESSION_KEY] = {"id": info.pk, "token": raw}
            return redirect("accounts:token-created")
    return render(request, "accounts/token_list.html", _token_list_context(request, form),
                  status=form_status(form))


@never_cache
@login_required
@require_GET
def token_created(request):
    """The new token, this one time; reloading the page does not show it again."""
    stashed = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if not stashed:
        messages.info(request, "A token is shown only once, right after it is created.")
        return redirect("accounts:token-list")
    info = get_or_404(selectors.api_token_get, user=request.user, pk=stashed["id"])
    return render(request, "accounts/token_created.html",
                  {"nav_section": "tokens", "info": info, "token": stashed["token"]})


@login_required
@require_POST
def token_revoke(request, pk):
    info = get_or_404(selectors.api_token_get, user=request.user, pk=pk)
    try:
        services.token_revoke(actor=request.user, token=info.token)
    except ApplicationError as exc:
        raise_for_access(exc)
        raise
    messages.success(request, f"Token \u201c{info.name or info.token.token_key}\u201d revoked.")
    return redirect("accounts:token-list")


# --- Users (administrators) ---------------------------------------------------------------------


def _user_list_context(request, role_form=None, role_form_user=None) -> dict:
    search = UserSearchForm(request.GET)
    users = registry_selectors.user_list(user=request.user).order_by("username").annotate(
        has_two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    )
    filters = search.filters()
    if q := filters.get("q"):
        users = users.filter(
            Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
            | Q(email__icontains=q)
        )
    if role := filters.get("role"):
        users = users.filter(role=role)
    return {
        "nav_section": "users",
        "filter_form": search,
        "is_filtered": bool(filters),
        "page_obj": paginate(request, users),
        "roles": UserRoleForm.base_fields["role"].choices,
        "role_form": role_form,
        "role_form_user": role_form_user,
    }


@login_required
@require_GET
def user_list(request):
    require_user_admin(request.user)
    return render(request, "accounts/user_list.html", _user_list_context(request))


@login_required
@require_POST
def user_set_role(request, pk):
    require_user_admin(request.user)
    target = get_or_404(registry_selectors.user_list(user=request.user).get, pk=pk)
    form = UserRoleForm(request.POST)
    if form.is_valid() and call_service(form, services.user_set_role, actor=request.user,
                                        user=target, role=form.cleaned_data["role"]):
        messages.success(request, f"{target.username} is now {target.get_role_display()}.")
        return redirect("accounts:user-list")
    context = _user_list_context(request, role_form=form, role_form_user=target)
    return render(request, "accounts/user_list.html", context, status=form_status(form))


@login_required
@require_POST
def user_two_factor_reset(request, pk):
    """An administrator removes a user's authenticator app (e.g. a lost phone)."""
    require_user_admin(request.user)
    target = get_or_404(registry_selectors.user_list(user=request.user).get, pk=pk)
    try:
        services.two_factor_reset(actor=request.user, user=target)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Two-factor authentication of {target.username} was reset.")
    return redirect("accounts:user-list")


@login_required
@require_http_methods(["GET", "POST"])
def user_create(request):
    require_user_admin(request.user)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "password_confirm"}
        user = call_service(form, services.user_create, actor=request.user, **data)
        if user:
            messages.success(request, f"User {user.username} created.")
            return redirect("accounts:user-list")
    return render_form(request, "accounts/user_form.html", {"nav_section": "users"}, form)
