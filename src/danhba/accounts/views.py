"""Log in and out, one's own profile and API keys, users, roles and teams.

Each view parses input, calls one service (the login view calls the throttling services around
Django's ``authenticate``), and renders. Permission checks live in the services and, for whole
pages, in :func:`permission_required`, which answers 403 with a page of its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from danhba.accounts import permissions as perms
from danhba.accounts import services
from danhba.accounts.forms import (
    ApiKeyForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RoleForm,
    SetPasswordForm,
    TeamForm,
    UserCreateForm,
    UserEditForm,
    apply_service_error,
)
from danhba.accounts.hooks import sensitive_field_choices
from danhba.accounts.middleware import LANGUAGE_SESSION_KEY
from danhba.accounts.models import ApiKey, Role, Team, User
from danhba.core.actor import Actor
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.core.log import note_forbidden

View = Callable[..., HttpResponseBase]
# A form sent back with its errors; base.html tells htmx to swap it in like a 200.
FORM_ERRORS = 422


# --- access ---------------------------------------------------------------------------------


def current_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "the view must be behind login_required"
    return user


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    note_forbidden(request, message or "role check")
    return render(request, "accounts/forbidden.html", {"message": message}, status=403)


def permission_required(test: Callable[[User], bool]) -> Callable[[View], View]:
    """Log in first, then ``test(user)`` or a 403 page; service refusals become 403/404 too."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not test(current_user(request)):
                return forbidden(request)
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, exc.message)
            except NotFound as exc:
                raise Http404(exc.message) from None

        return login_required(wrapped)

    return decorator


def can(obj: str, action: str) -> Callable[[User], bool]:
    return lambda user: user.can(obj, action)


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def anyone(user: User) -> bool:
    return user.is_active


def safe_next(request: HttpRequest, default: str = settings.LOGIN_REDIRECT_URL) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(default)


# --- login, logout, language ----------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    target = safe_next(request)
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(target)
    form = LoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        user, blocked = services.login_attempt(actor=Actor.from_request(request), email=email, password=password)
        if blocked:
            # The same answer whether or not the email belongs to anyone.
            form.add_error(None, _("Too many failed attempts. Wait a few minutes, then try again."))
        elif user is None:
            form.add_error(None, _("That email and password do not match an active account."))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # rotates the session key
            services.login_succeeded(actor=Actor.from_request(request))
            return redirect(target)
    next_value = request.POST.get("next") or request.GET.get("next") or ""
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_value, "languages": language_choices()},
        status=FORM_ERRORS if form.errors else 200,
    )


def language_choices() -> list[tuple[str, str]]:
    """Each language named in itself, so people find theirs whatever the page speaks."""
    return [
        (code, unicodedata.normalize("NFC", translation.get_language_info(code)["name_local"]))
        for code, _name in settings.LANGUAGES
    ]


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.logout_recorded(actor=Actor.from_request(request))
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Switch the interface language: for the visitor's session (and a cookie that outlives
    it), and on the profile of a logged-in user."""
    language = request.POST.get("language", "")
    target = safe_next(request, default="accounts:login")
    if language not in dict(settings.LANGUAGES):
        return redirect(target)
    user = request.user
    if isinstance(user, User):
        services.profile_update(
            actor=Actor.from_request(request),
            user=user,
            full_name=user.full_name,
            language=language,
            time_zone=user.time_zone,
        )
    request.session[LANGUAGE_SESSION_KEY] = language
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
    )
    return response


# --- own profile ----------------------------------------------------------------------------


def _api_keys_context(
    request: HttpRequest, owner: User, new_key: str = "", key_form: ApiKeyForm | None = None
) -> dict[str, Any]:
    me = current_user(request)
    own = owner.pk == me.pk
    return {
        "key_owner": owner,
        "own_keys": own,
        "return_to": resolve_url("accounts:profile") if own else resolve_url("accounts:user_edit", owner.pk),
        "keys": ApiKey.objects.filter(user=owner).order_by("-created_at"),
        "new_key": new_key,
        "key_form": key_form or ApiKeyForm(),
        # Keys are made by the person who will hold them; others may only see and revoke them.
        "can_create_key": own,
        "can_revoke_key": own or me.can("apikey", perms.DELETE),
    }


def _profile_page(
    request: HttpRequest,
    *,
    profile_form: ProfileForm | None = None,
    password_form: PasswordChangeForm | None = None,
    new_key: str = "",
    key_form: ApiKeyForm | None = None,
    keys_only: bool = False,
) -> HttpResponse:
    me = current_user(request)
    context = {
        "nav": "profile",
        "profile_form": profile_form
        or ProfileForm(
            initial={
                "full_name": me.full_name,
                "language": me.language,
                "time_zone": me.time_zone or settings.TIME_ZONE,
            }
        ),
        "password_form": password_form or PasswordChangeForm(),
        **_api_keys_context(request, me, new_key=new_key, key_form=key_form),
    }
    template = "accounts/_api_keys.html" if keys_only else "accounts/profile.html"
    failed = any(f is not None and f.errors for f in (profile_form, password_form, key_form))
    return render(request, template, context, status=FORM_ERRORS if failed else 200)


@permission_required(anyone)
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _profile_page(request)
    me = current_user(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.profile_update(actor=Actor.from_request(request), user=me, **form.cleaned_data)
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            # The session's choice (made on the login page) must not outlive a new profile choice.
            request.session.pop(LANGUAGE_SESSION_KEY, None)
            # Say it in the language just chosen: that is what the next page speaks.
            translation.activate(me.language or translation.get_language())
            messages.success(request, _("Your profile is saved."))
            response = redirect("accounts:profile")
            if not me.language:
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)
            return response
    return _profile_page(request, profile_form=form)


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@permission_required(anyone)
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    me = current_user(request)
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            services.password_change(
                actor=Actor.from_request(request),
                user=me,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc, rename={"password": "new_password1"})
        else:
            update_session_auth_hash(request, me)  # stay logged in here, log out other sessions
            messages.success(request, _("Your password is changed."))
            return redirect("accounts:profile")
    return _profile_page(request, password_form=form)


@permission_required(anyone)
@require_POST
def apikey_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            _key, raw = services.apikey_create(
                actor=Actor.from_request(request), user=current_user(request), name=form.cleaned_data["name"]
            )
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            # Rendered, not redirected: the raw key exists only in this response.
            return _profile_page(request, new_key=raw, keys_only=is_htmx(request))
    return _profile_page(request, key_form=form, keys_only=is_htmx(request))


@permission_required(anyone)
@require_POST
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    me = current_user(request)
    keys = ApiKey.objects.select_related("user")
    if not me.can("apikey", perms.VIEW):
        keys = keys.filter(user=me)
    key = get_object_or_404(keys, pk=pk)
    services.apikey_revoke(actor=Actor.from_request(request), key=key)
    if is_htmx(request):
        return render(request, "accounts/_api_keys.html", _api_keys_context(request, key.user))
    messages.success(request, _("The API key %(name)s is revoked.") % {"name": key.name})
    default = "accounts:profile" if key.user_id == me.pk else resolve_url("accounts:user_edit", key.user_id)
    return redirect(safe_next(request, default=default))


# --- users ----------------------------------------------------------------------------------


@permission_required(can("user", perms.VIEW))
def user_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "active")
    users = (
        User.objects.select_related("role", "team")
        .annotate(key_count=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        .order_by("full_name", "email")
    )
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "inactive":
        users = users.filter(is_active=False)
    return render(
        request,
        "accounts/user_list.html",
        {"nav": "users", "members": users, "status": status},
    )


@permission_required(can("user", perms.CREATE))
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None, initial={"role": "sales"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = services.user_create(
                actor=Actor.from_request(request),
                email=data["email"],
                password=data["password"] or None,
                role=data["role"],
                full_name=data["full_name"],
                team=data["team"],
                language=data["language"],
            )
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The user %(email)s is created.") % {"email": member.email})
            return redirect("accounts:user_list")
    return render(
        request, "accounts/user_form.html", {"nav": "users", "form": form}, status=FORM_ERRORS if form.errors else 200
    )


def _user_edit_page(
    request: HttpRequest,
    member: User,
    *,
    form: UserEditForm | None = None,
    password_form: SetPasswordForm | None = None,
) -> HttpResponse:
    me = current_user(request)
    form = form or UserEditForm(
        initial={
            "full_name": member.full_name,
            "role": member.role.key,
            "team": member.team_id,
            "language": member.language,
            "is_active": member.is_active,
            "is_available": member.is_available,
        }
    )
    context: dict[str, Any] = {
        "nav": "users",
        "member": member,
        "form": form,
        "password_form": password_form or SetPasswordForm(),
        "show_keys": me.can("apikey", perms.VIEW) or member.pk == me.pk,
    }
    if context["show_keys"]:
        context.update(_api_keys_context(request, member))
    failed = form.errors or context["password_form"].errors
    return render(request, "accounts/user_edit.html", context, status=FORM_ERRORS if failed else 200)


@permission_required(can("user", perms.EDIT))
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User.objects.select_related("role", "team"), pk=pk)
    if request.method == "GET":
        return _user_edit_page(request, member)
    form = UserEditForm(request.POST)
    if form.is_valid():
        try:
            services.user_update(actor=Actor.from_request(request), user=member, data=form.cleaned_data)
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
            member.refresh_from_db()
        else:
            messages.success(request, _("Changes to %(email)s are saved.") % {"email": member.email})
            return redirect("accounts:user_list")
    return _user_edit_page(request, member, form=form)


@sensitive_post_parameters("password")
@permission_required(can("user", perms.EDIT))
@require_POST
def user_set_password(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User.objects.select_related("role", "team"), pk=pk)
    form = SetPasswordForm(request.POST)
    if form.is_valid():
        try:
            services.user_set_password(
                actor=Actor.from_request(request), user=member, password=form.cleaned_data["password"]
            )
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            if member.pk == current_user(request).pk:
                update_session_auth_hash(request, member)
            messages.success(request, _("A new password is set for %(email)s.") % {"email": member.email})
            return redirect("accounts:user_edit", pk=member.pk)
    return _user_edit_page(request, member, password_form=form)


# --- roles and teams ------------------------------------------------------------------------


@permission_required(can("role", perms.VIEW))
def role_list(request: HttpRequest) -> HttpResponse:
    roles = Role.objects.annotate(user_count=Count("users")).order_by("name")
    teams = Team.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.filter(is_active=True).order_by("full_name", "email"))
    )
    return render(
        request,
        "accounts/role_list.html",
        {
            "nav": "roles",
            "roles": roles,
            "teams": teams,
            "team_form": TeamForm(),
            "objects": perms.OBJECTS,
        },
    )


def _sensitive_choices(role: Role | None) -> list[tuple[str, str]]:
    """Every field a role can be granted: the standard sensitive ones, every custom field
    marked sensitive, and whatever the role holds already (so saving never drops a grant)."""
    choices = sensitive_field_choices(role)
    known = {key for key, _label in choices}
    for key in role.sensitive_fields if role else []:
        if key not in known and key != perms.ALL_FIELDS:
            choices.append((key, key))
    return choices


def _role_initial(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "record_scope": role.record_scope,
        "permissions": [f"{obj}.{a}" for obj, actions in role.permissions.items() for a in actions],
        "all_sensitive": perms.ALL_FIELDS in role.sensitive_fields,
        "sensitive_fields": [k for k in role.sensitive_fields if k != perms.ALL_FIELDS],
    }


def _role_page(request: HttpRequest, role: Role | None, form: RoleForm) -> HttpResponse:
    selected = set(form["permissions"].value() or [])
    matrix = [
        {
            "key": obj,
            "label": label,
            "cells": [
                {
                    "value": f"{obj}.{action}",
                    "action": action,
                    "label": perms.ACTION_LABELS[action],
                    "checked": f"{obj}.{action}" in selected,
                }
                for action in perms.ACTIONS
            ],
        }
        for obj, label in perms.OBJECTS.items()
    ]
    chosen = set(form["sensitive_fields"].value() or [])
    sensitive_field = form.fields["sensitive_fields"]
    assert hasattr(sensitive_field, "choices")
    sensitive = [{"value": k, "label": label, "checked": k in chosen} for k, label in sensitive_field.choices]
    return render(
        request,
        "accounts/role_form.html",
        {
            "nav": "roles",
            "role": role,
            "form": form,
            "matrix": matrix,
            "actions": [(a, perms.ACTION_LABELS[a]) for a in perms.ACTIONS],
            "sensitive": sensitive,
            "read_only": role is not None and role.key == "admin",
            "member_count": role.users.count() if role else 0,
        },
        status=FORM_ERRORS if form.errors else 200,
    )


@permission_required(can("role", perms.CREATE))
@require_http_methods(["GET", "POST"])
def role_create(request: HttpRequest) -> HttpResponse:
    choices = _sensitive_choices(None)
    form = RoleForm(request.POST or None, sensitive_choices=choices, initial={"record_scope": perms.SCOPE_OWN})
    if request.method == "POST" and form.is_valid():
        try:
            role = services.role_save(actor=Actor.from_request(request), role=None, data=form.role_data())
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The role %(name)s is created.") % {"name": role.name})
            return redirect("accounts:role_list")
    return _role_page(request, None, form)


@permission_required(can("role", perms.EDIT))
@require_http_methods(["GET", "POST"])
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk)
    choices = _sensitive_choices(role)
    if request.method == "GET":
        return _role_page(request, role, RoleForm(sensitive_choices=choices, initial=_role_initial(role)))
    form = RoleForm(request.POST, sensitive_choices=choices)
    if form.is_valid():
        try:
            services.role_save(actor=Actor.from_request(request), role=role, data=form.role_data())
        except PermissionDenied:
            raise  # the 403 page, not a form error
        except ServiceError as exc:
            apply_service_error(form, exc)
            role.refresh_from_db()
        else:
            messages.success(request, _("The role %(name)s is saved.") % {"name": role.name})
            return redirect("accounts:role_list")
    return _role_page(request, role, form)


@permission_required(can("role", perms.DELETE))
@require_POST
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk)
    try:
        services.role_delete(actor=Actor.from_request(request), role=role)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(
            request, _("The role %(name)s was not deleted: %(reason)s") % {"name": role.name, "reason": exc.message}
        )
        return redirect("accounts:role_edit", pk=role.pk)
    messages.success(request, _("The role %(name)s is deleted.") % {"name": role.name})
    return redirect("accounts:role_list")


@permission_required(lambda user: user.can("role", perms.CREATE) or user.can("role", perms.EDIT))
@require_POST
def team_save(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk) if pk is not None else None
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            saved = services.team_save(actor=Actor.from_request(request), team=team, name=form.cleaned_data["name"])
        except PermissionDenied:
            raise
        except ServiceError as exc:
            messages.error(request, "; ".join(_flatten(exc)))
        else:
            messages.success(request, _("The team %(name)s is saved.") % {"name": saved.name})
    else:
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(resolve_url("accounts:role_list") + "#teams")


def _flatten(exc: ServiceError) -> list[str]:
    if isinstance(exc.details, dict) and exc.details:
        return [str(m) for msgs in exc.details.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
    return [exc.message]
