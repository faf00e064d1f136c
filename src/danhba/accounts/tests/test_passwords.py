import pytest
from django.contrib.auth.hashers import check_password, make_password

from danhba import settings as project_settings


def test_argon2_is_the_password_hasher():
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_passwords_are_stored_as_argon2(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    encoded = make_password("correct-horse-battery-9")
    assert encoded.startswith("argon2$argon2id$")
    assert check_password("correct-horse-battery-9", encoded)
    assert not check_password("wrong", encoded)


@pytest.mark.django_db
def test_api_keys_are_stored_hashed_and_work_until_revoked(admin):
    from danhba.accounts.models import ApiKey
    from danhba.accounts.services import apikey_authenticate, apikey_create, apikey_revoke
    from danhba.conftest import actor_for

    key, raw = apikey_create(actor=actor_for(admin, "cli"), user=admin, name="CRM sync")
    assert raw.startswith("dbk_")
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.key_hash, stored.prefix) and stored.key_hash != raw
    assert apikey_authenticate(raw).user == admin
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None
    assert apikey_authenticate(raw + "x") is None
    apikey_revoke(actor=actor_for(admin), key=stored)
    assert apikey_authenticate(raw) is None
