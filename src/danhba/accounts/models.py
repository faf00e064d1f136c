from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    is_builtin = models.BooleanField(default=False)
    # {"contact": ["view", "edit"], ...}: object → allowed actions.
    permissions = models.JSONField(default=dict, blank=True)
    record_scope = models.CharField(
        _("record visibility"), max_length=10, choices=perms.SCOPES, default=perms.SCOPE_OWN
    )
    # Sensitive field keys this role may see; "*" means all of them.
    sensitive_fields = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name as shown: a built-in role's name is in the reader's language (the names of
        ``permissions.BUILTIN_ROLES`` are marked for translation); a role someone named keeps its name."""
        return gettext(self.name) if self.is_builtin else self.name

    def allows(self, obj: str, action: str) -> bool:
        return action in self.permissions.get(obj, [])

    def sees_field(self, key: str) -> bool:
        return perms.ALL_FIELDS in self.sensitive_fields or key in self.sensitive_fields


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="users", verbose_name=_("role"))
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members", verbose_name=_("team")
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Marks someone as away so later lead assignment can skip them.
    is_available = models.BooleanField(_("available for assignment"), default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_admin(self) -> bool:
        return self.role.key == "admin"

    # Django's auth middleware and templates ask these; our roles answer them.
    @property
    def is_staff(self) -> bool:
        return self.is_admin

    def can(self, obj: str, action: str) -> bool:
        return self.is_active and self.role.allows(obj, action)

    def sees_field(self, key: str) -> bool:
        return self.role.sees_field(key)


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiKey(models.Model):
    """A bearer key for the REST API, acting with its user's role. Only a hash is stored."""

    PREFIX = "dbk_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=120)
    # First characters of the key, shown in lists so people can tell keys apart.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """Return (raw key, display prefix, hash)."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        return raw, raw[:12], _hash_key(raw)

    @classmethod
    def lookup(cls, raw: str) -> ApiKey | None:
        return cls.objects.active().select_related("user__role", "user__team").filter(key_hash=_hash_key(raw)).first()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginCounter(models.Model):
    """Failed-login counters per (email, IP address) pair and per IP address, incremented
    atomically in the database before a password is checked, so parallel guesses cannot slip
    past the limit. A pair that reaches the limit is locked until ``locked_until``, each lock
    in a row twice as long as the one before (``lockouts``)."""

    key = models.CharField(max_length=300, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()  # end of the window the count is for
    locked_until = models.DateTimeField(null=True, blank=True)
    lockouts = models.PositiveSmallIntegerField(default=0)
