"""Users, roles, API keys and logins."""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import ApiKey, LoginCounter, Role, Team, User
from danhba.core import audit
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from danhba.core.normalize import NormalizationError, clean_text, normalize_email
from danhba.core.ratelimit import client_network

_SCOPE_RANK = {perms.SCOPE_OWN: 0, perms.SCOPE_TEAM: 1, perms.SCOPE_ALL: 2}


def _within(actor: Actor, permissions: dict[str, list[str]], scope: str, sensitive: list[str]) -> bool:
    """Whether a set of rights is no wider than the actor's own role: a user manager who is not
    an admin must not hand out (to others or, through their own role, to themselves) more than
    they hold."""
    if actor.user is None or actor.user.is_admin:
        return True
    own = actor.user.role
    if any(not own.allows(obj, action) for obj, actions in permissions.items() for action in actions):
        return False
    if _SCOPE_RANK.get(scope, 2) > _SCOPE_RANK.get(own.record_scope, 0):
        return False
    return all(own.sees_field(key) for key in sensitive)


def _may_grant(actor: Actor, role: Role) -> bool:
    """Only an admin (or the system) hands out the Admin role, and nobody hands out a role wider
    than their own."""
    if role.key == "admin":
        return actor.user is None or actor.user.is_admin
    return _within(actor, role.permissions, role.record_scope, role.sensitive_fields)


def _valid_time_zone(name: str) -> bool:
    if not name:
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def roles_ensure_builtin() -> None:
    """Create the built-in roles if missing; never overwrite what an admin changed."""
    for key, spec in perms.BUILTIN_ROLES.items():
        Role.objects.get_or_create(
            key=key,
            defaults={
                "name": spec["name"],
                "is_builtin": True,
                "permissions": spec["permissions"],
                "record_scope": spec["scope"],
                "sensitive_fields": spec["sensitive"],
            },
        )


def user_create(
    *,
    actor: Actor,
    email: str,
    password: str | None,
    role: str | Role = "admin",
    full_name: str = "",
    team: Team | None = None,
    language: str = "",
) -> User:
    perms.require(actor, "user", perms.CREATE)
    errors: dict[str, list[str]] = {}
    try:
        address = normalize_email(email)
    except NormalizationError as exc:
        errors["email"] = [str(exc)]
        address = ""
    role_obj = role if isinstance(role, Role) else Role.objects.filter(key=role).first()
    if role_obj is None:
        errors["role"] = [_("unknown role '%(value)s'") % {"value": role}]
    elif not _may_grant(actor, role_obj):
        errors["role"] = [_("only an admin can give someone the Admin role")]
    if address and User.objects.filter(email=address).exists():
        raise Conflict(
            _("A user with email %(email)s already exists.") % {"email": address}, {"email": [_("already exists")]}
        )
    if password:
        try:
            password_validation.validate_password(password, User(email=address, full_name=full_name))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if language and language not in dict(settings.LANGUAGES):
        errors["language"] = [_("one of %(choices)s") % {"choices": ", ".join(dict(settings.LANGUAGES))}]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        user = User.objects.create_user(
            address, password, role=role_obj, full_name=clean_text(full_name), team=team, language=language
        )
        if not password:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        audit.record(
            actor=actor,
            action=audit.CREATE,
            object_type="user",
            object_id=user.pk,
            object_label=user.email,
            changes={"email": [None, user.email], "role": [None, role_obj.key if role_obj else None]},
        )
    return user


def _user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log compares when a user account changes."""
    return {
        "full_name": user.full_name,
        "role": user.role.key,
        "team": str(user.team or ""),
        "is_active": user.is_active,
        "language": user.language,
        "time_zone": user.time_zone,
        "is_available": user.is_available,
    }


def _audit_user_change(actor: Actor, user: User, before: dict[str, Any]) -> None:
    changes = changes_between(before, _user_snapshot(user))
    if changes:
        audit.record(
            actor=actor,
            action=audit.UPDATE,
            object_type="user",
            object_id=user.pk,
            object_label=user.email,
            changes=changes,
        )


def _set_role(actor: Actor, user: User, wanted: Any, errors: dict[str, list[str]]) -> None:
    role = wanted if isinstance(wanted, Role) else Role.objects.filter(key=wanted).first()
    if role is None:
        errors["role"] = [_("unknown role")]
    elif role.key != user.role.key and not _may_grant(actor, role):
        errors["role"] = [_("only an admin can give someone the Admin role")]
    else:
        user.role = role


def _set_locale(user: User, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    if "language" in data:
        if data["language"] and data["language"] not in dict(settings.LANGUAGES):
            errors["language"] = [_("unknown language")]
        user.language = data["language"] or ""
    if "time_zone" in data:
        if not _valid_time_zone(data["time_zone"] or ""):
            errors["time_zone"] = [_("unknown time zone")]
        user.time_zone = data["time_zone"] or ""


def _keeps_access(actor: Actor, user: User, before: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Nobody can lock themselves out; the last-admin rule in ``user_update`` covers everyone else."""
    if actor.user is None or actor.user.pk != user.pk:
        return
    if not user.is_active:
        errors["is_active"] = [_("you cannot deactivate your own account")]
    if before["role"] == "admin" and user.role.key != "admin":
        errors["role"] = [_("you cannot remove your own admin access")]


@transaction.atomic
def user_update(*, actor: Actor, user: User, data: dict[str, Any]) -> User:
    perms.require(actor, "user", perms.EDIT)
    if user.role.key == "admin" and not _may_grant(actor, user.role):
        raise PermissionDenied(_("Only an admin can change an admin's account."))
    errors: dict[str, list[str]] = {}
    before = _user_snapshot(user)
    if "full_name" in data:
        user.full_name = clean_text(data["full_name"])[:200]
    if "role" in data:
        _set_role(actor, user, data["role"], errors)
    if "team" in data:
        user.team = data["team"]
    _set_locale(user, data, errors)
    for flag in ("is_active", "is_available"):
        if flag in data:
            setattr(user, flag, bool(data[flag]))
    _keeps_access(actor, user, before, errors)
    if errors:
        raise InvalidInput(errors)
    losing_admin = before["role"] == "admin" and (user.role.key != "admin" or not user.is_active)
    # Locked, so two admins demoting each other at once cannot both pass this check.
    other_admins = User.objects.select_for_update().filter(role__key="admin", is_active=True).exclude(pk=user.pk)
    if losing_admin and not other_admins.exists():
        field = "role" if user.role.key != "admin" else "is_active"
        raise InvalidInput({field: [_("the last active admin cannot lose admin access")]})
    user.save()
    _audit_user_change(actor, user, before)
    if before["is_active"] and not user.is_active:
        from danhba.accounts.hooks import USER_DEACTIVATED

        USER_DEACTIVATED(user)
    return user


@transaction.atomic
def user_set_password(*, actor: Actor, user: User, password: str) -> None:
    if actor.user is not None and actor.user.pk != user.pk:
        perms.require(actor, "user", perms.EDIT)
        if not _may_grant(actor, user.role):
            # Setting an admin's password is taking over the admin's account.
            raise PermissionDenied(_("Only an admin can set an admin's password."))
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput({"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record(
        actor=actor,
        action=audit.UPDATE,
        object_type="user",
        object_id=user.pk,
        object_label=user.email,
        changes={"password": ["***", "***"]},
    )


def password_change(*, actor: Actor, user: User, current_password: str, new_password: str) -> None:
    """Someone changing their own password: they must know the current one."""
    if not user.check_password(current_password):
        raise InvalidInput({"current_password": [_("this is not your current password")]})
    user_set_password(actor=actor, user=user, password=new_password)


@transaction.atomic
def profile_update(*, actor: Actor, user: User, full_name: str, language: str, time_zone: str) -> User:
    """A user's own name, language and time zone (no role needed to change one's own)."""
    if actor.user is not None and actor.user.pk != user.pk:
        perms.require(actor, "user", perms.EDIT)
    errors: dict[str, list[str]] = {}
    name = clean_text(full_name)
    if len(name) > 200:
        errors["full_name"] = [_("at most %(n)s characters") % {"n": 200}]
    if language and language not in dict(settings.LANGUAGES):
        errors["language"] = [_("unknown language")]
    if not _valid_time_zone(time_zone):
        errors["time_zone"] = [_("unknown time zone")]
    if errors:
        raise InvalidInput(errors)
    before = _user_snapshot(user)
    user.full_name, user.language, user.time_zone = name, language, time_zone
    user.save(update_fields=["full_name", "language", "time_zone"])
    _audit_user_change(actor, user, before)
    return user


def team_save(*, actor: Actor, team: Team | None, name: str) -> Team:
    """Create or rename a team. Teams decide what "team" record visibility shows."""
    perms.require(actor, "role", perms.CREATE if team is None else perms.EDIT)
    text = clean_text(name)
    if not text or len(text) > 120:
        raise InvalidInput({"name": [_("between 1 and 120 characters")]})
    clash = Team.objects.filter(name__iexact=text)
    if team is not None:
        clash = clash.exclude(pk=team.pk)
    if clash.exists():
        raise Conflict(
            _("A team called %(name)s already exists.") % {"name": text},
            {"name": [_("a team with this name already exists")]},
        )
    creating = team is None
    team = team or Team()
    before = team.name
    team.name = text
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        raise Conflict(
            _("A team called %(name)s already exists.") % {"name": text},
            {"name": [_("a team with this name already exists")]},
        ) from None
    audit.record(
        actor=actor,
        action=audit.CREATE if creating else audit.UPDATE,
        object_type="team",
        object_id=team.pk,
        object_label=team.name,
        changes={"name": [before or None, team.name]},
    )
    return team


_ROLE_AUDITED = ("name", "permissions", "record_scope", "sensitive_fields")


def _role_grants(data: dict[str, Any], role: Role, errors: dict[str, list[str]]) -> tuple[Any, Any, Any]:
    """Permissions, record scope and sensitive fields after this change, each checked alone."""
    permissions = data.get("permissions", role.permissions)
    if not isinstance(permissions, dict) or any(
        obj not in perms.OBJECTS or not isinstance(actions, list) or any(a not in perms.ACTIONS for a in actions)
        for obj, actions in permissions.items()
    ):
        errors["permissions"] = [_("an object of {object: [actions]} with known objects and actions")]
    scope = data.get("record_scope", role.record_scope)
    if scope not in dict(perms.SCOPES):
        errors["record_scope"] = [_("one of %(choices)s") % {"choices": ", ".join(dict(perms.SCOPES))}]
    sensitive = data.get("sensitive_fields", role.sensitive_fields)
    if not isinstance(sensitive, list) or not all(isinstance(s, str) for s in sensitive):
        errors["sensitive_fields"] = [_("a list of field keys")]
    return permissions, scope, sensitive


def _may_grant_role(
    actor: Actor, role: Role, grants: tuple[Any, Any, Any], errors: dict[str, list[str]], *, creating: bool
) -> None:
    """Nobody changes their own role or grants more than they hold; Admin always has everything."""
    if not creating and actor.user is not None and not actor.user.is_admin and role.pk == actor.user.role_id:
        errors["permissions"] = [_("you cannot change your own role")]
    elif "permissions" not in errors and "sensitive_fields" not in errors and not _within(actor, *grants):
        errors["permissions"] = [_("you cannot grant more than your own role allows")]
    if role.key == "admin" and not creating:
        errors["permissions"] = [_("the Admin role always has every permission")]


@transaction.atomic
def role_save(*, actor: Actor, role: Role | None, data: dict[str, Any]) -> Role:
    creating = role is None
    perms.require(actor, "role", perms.CREATE if creating else perms.EDIT)
    errors: dict[str, list[str]] = {}
    role = role or Role()
    name = clean_text(data.get("name", role.name))
    if not name or len(name) > 120:
        errors["name"] = [_("between 1 and 120 characters")]
    if creating:
        key = slugify(data.get("key") or name)[:60]
        if not key or Role.objects.filter(key=key).exists():
            errors["key"] = [_("the key '%(key)s' is taken or empty") % {"key": key}]
        role.key = key
    grants = _role_grants(data, role, errors)
    _may_grant_role(actor, role, grants, errors, creating=creating)
    if errors:
        raise InvalidInput(errors)
    permissions, scope, sensitive = grants
    before = {} if creating else {key: getattr(role, key) for key in _ROLE_AUDITED}
    role.name, role.record_scope = name, scope
    role.permissions = {obj: [a for a in perms.ACTIONS if a in acts] for obj, acts in permissions.items() if acts}
    role.sensitive_fields = sorted(set(sensitive))
    role.save()
    after = {key: getattr(role, key) for key in _ROLE_AUDITED}
    audit.record(
        actor=actor,
        action=audit.CREATE if creating else audit.UPDATE,
        object_type="role",
        object_id=role.pk,
        object_label=role.name,
        changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v},
    )
    return role


@transaction.atomic
def role_delete(*, actor: Actor, role: Role) -> None:
    perms.require(actor, "role", perms.DELETE)
    if role.is_builtin:
        raise InvalidInput({"role": [_("built-in roles cannot be deleted")]})
    if role.users.exists():
        raise Conflict(_("Move this role's users to another role first."), {"role": [_("still has users")]})
    audit.record(actor=actor, action=audit.DELETE, object_type="role", object_id=role.pk, object_label=role.name)
    role.delete()


@transaction.atomic
def apikey_create(*, actor: Actor, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key for ``user``; returns the key and its raw value, which is never shown again."""
    if actor.user is not None and actor.user.pk != user.pk:
        perms.require(actor, "apikey", perms.CREATE)
    name = clean_text(name)
    if not name or len(name) > 120:
        raise InvalidInput({"name": [_("between 1 and 120 characters")]})
    raw, prefix, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=key_hash)
    audit.record(
        actor=actor,
        action=audit.CREATE,
        object_type="apikey",
        object_id=key.pk,
        object_label=f"{name} ({prefix}…) for {user.email}",
    )
    return key, raw


@transaction.atomic
def apikey_revoke(*, actor: Actor, key: ApiKey) -> None:
    if actor.user is not None and actor.user.pk != key.user_id:
        perms.require(actor, "apikey", perms.DELETE)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action=audit.DELETE,
            object_type="apikey",
            object_id=key.pk,
            object_label=f"{key.name} ({key.prefix}…)",
        )


def apikey_authenticate(raw: str) -> ApiKey | None:
    key = ApiKey.lookup(raw) if raw.startswith(ApiKey.PREFIX) else None
    if key is not None:
        now = timezone.now()
        # One write a minute at most: the last-used time is for people, not for accounting.
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
    return key


# --- login throttling -----------------------------------------------------------------------
# Failures count per (email, IP) pair: someone elsewhere guessing the admin's password locks
# only themselves out, not the admin. LOGIN_MAX_FAILURES failures in LOGIN_FAILURE_WINDOW lock
# the pair for LOGIN_FAILURE_WINDOW, each further lock in a row twice as long (up to a day);
# a day without failures forgets the pair. Per IP, four times as many attempts are allowed in
# a window (an office shares one address), whatever the email. `danhba unlock` lifts a lock.

LOCK_MAX = dt.timedelta(days=1)
FORGET_AFTER = dt.timedelta(days=1)


def login_network(ip: str | None) -> str:
    """The address whose login attempts count together (``core.ratelimit.client_network``: an
    IPv4 address, an IPv6 /64)."""
    return client_network(ip)


def _pair_key(email: str, ip: str | None) -> str:
    # 5 + 240 + 1 + 45 (the longest IPv6 text) fits the key's 300 characters.
    return f"pair:{email.strip().lower()[:240]}|{login_network(ip)}"


def _ip_key(ip: str) -> str:
    return f"ip:{login_network(ip)}"


def _count_attempt(key: str, now: dt.datetime) -> int:
    """Add one attempt to a counter (a window that ended starts again) and return the count."""
    window = dt.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
    with transaction.atomic():
        LoginCounter.objects.get_or_create(key=key, defaults={"expires_at": now + window})
        LoginCounter.objects.filter(key=key, expires_at__lte=now).update(count=0, expires_at=now + window)
        LoginCounter.objects.filter(key=key).update(count=F("count") + 1)
        return LoginCounter.objects.get(key=key).count


def _is_locked(key: str, now: dt.datetime) -> bool:
    return LoginCounter.objects.filter(key=key, locked_until__gt=now).exists()


def _lock(key: str, now: dt.datetime) -> None:
    """Lock the pair, for twice as long as its previous lock in a row."""
    first = dt.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
    with transaction.atomic():
        row = LoginCounter.objects.select_for_update().filter(key=key).first()
        if row is None:
            return
        row.locked_until = now + min(first * 2 ** min(row.lockouts, 16), LOCK_MAX)
        row.lockouts += 1
        row.count = 0
        row.save(update_fields=["locked_until", "lockouts", "count"])


def _forget_stale(now: dt.datetime) -> None:
    """Counters quiet for a day go, lock history included (the table stays small)."""
    stale = now - FORGET_AFTER
    LoginCounter.objects.filter(expires_at__lt=stale).exclude(locked_until__gte=stale).delete()


def login_attempt(*, actor: Actor, email: str, password: str) -> tuple[User | None, bool]:
    """Check a login. Returns (user, blocked): the attempt is counted before the password is
    checked; a success clears the pair's counter and gives the IP its attempt back. A blocked
    attempt looks the same whether or not the email belongs to anyone."""
    from django.contrib.auth import authenticate

    limit = settings.LOGIN_MAX_FAILURES
    now = timezone.now()
    pair = _pair_key(email, actor.ip)
    if actor.ip and _count_attempt(_ip_key(actor.ip), now) > limit * 4:
        return None, True
    if _is_locked(pair, now) or _count_attempt(pair, now) > limit:
        return None, True
    user = authenticate(None, email=email, password=password)
    if user is None:
        audit.record(actor=actor, action=audit.LOGIN_FAILED, object_type="user", object_label=email[:254])
        if LoginCounter.objects.filter(key=pair, count__gte=limit).exists():
            _lock(pair, now)
        _forget_stale(now)
        return None, False
    LoginCounter.objects.filter(key=pair).delete()
    if actor.ip:
        LoginCounter.objects.filter(key=_ip_key(actor.ip), count__gt=0).update(count=F("count") - 1)
    return user, False


def login_locks() -> list[LoginCounter]:
    """The (email, IP) pairs locked now, then the addresses over their own limit."""
    now = timezone.now()
    pairs = LoginCounter.objects.filter(key__startswith="pair:", locked_until__gt=now).order_by("key")
    over = settings.LOGIN_MAX_FAILURES * 4
    ips = LoginCounter.objects.filter(key__startswith="ip:", count__gt=over, expires_at__gt=now).order_by("key")
    return [*pairs, *ips]


def login_unlock(*, actor: Actor, email: str | None = None, ip: str | None = None) -> int:
    """Lift login locks: an email's (from every address, or from ``ip``), or every lock of an
    address and its own limit. Forgets their lock history too. Returns the counters removed."""
    if not email and not ip:
        raise InvalidInput({"email": [_("Give an email, an IP address, or both.")]})
    rows = LoginCounter.objects.none()
    if email:
        rows = LoginCounter.objects.filter(key__startswith=_pair_key(email, None))
        if ip:
            rows = rows.filter(key=_pair_key(email, ip))
    elif ip:
        rows = LoginCounter.objects.filter(key__startswith="pair:", key__endswith=f"|{login_network(ip)}")
    with transaction.atomic():
        removed, _detail = rows.delete()
        if ip:
            removed += LoginCounter.objects.filter(key=_ip_key(ip)).delete()[0]
        audit.record(
            actor=actor,
            action=audit.DELETE,
            object_type="login_lock",
            object_label=f"{email or '*'} @ {ip or '*'}"[:254],
            changes={"email": [email or "", None], "ip": [ip or "", None]},
        )
    return removed


def login_succeeded(*, actor: Actor) -> None:
    assert actor.user is not None
    audit.record(
        actor=actor,
        action=audit.LOGIN,
        object_type="user",
        object_id=actor.user.pk,
        object_label=actor.user.email,
    )


def logout_recorded(*, actor: Actor) -> None:
    if actor.user is not None:
        audit.record(
            actor=actor,
            action=audit.LOGOUT,
            object_type="user",
            object_id=actor.user.pk,
            object_label=actor.user.email,
        )


def first_admin_ensure(email: str, password: str | None) -> tuple[User, str | None]:
    """The first admin for a new installation. Returns (user, generated password or None)."""
    roles_ensure_builtin()
    existing = User.objects.filter(role__key="admin").order_by("pk").first()
    if existing is not None:
        return existing, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = user_create(actor=Actor.system("cli"), email=email, password=password, role="admin", full_name="Admin")
    return user, generated


def user_by_email(email: str) -> User:
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise NotFound(_("No user with email %(email)s.") % {"email": email})
    return user
