"""Login lockout per (email, IP address): guesses from elsewhere lock out the guesser, not the
account's owner; locks in a row grow longer; the per-address limit stays; `danhba unlock`
lifts a lock."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from danhba.accounts.models import LoginCounter
from danhba.audit.models import AuditEvent
from danhba.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OWNER_IP, ATTACKER_IP = "203.0.113.10", "198.51.100.66"
TOO_MANY = "Too many failed attempts"


def login(client: Any, email: str, password: str, ip: str) -> Any:
    client.logout()
    return client.post("/login/", {"email": email, "password": password}, REMOTE_ADDR=ip)


def logged_in(response: Any) -> bool:
    return response.status_code == 302


def fail(client: Any, email: str, ip: str, times: int) -> None:
    for _ in range(times):
        assert not logged_in(login(client, email, "wrong-password-1", ip))


def lock_of(email: str, ip: str) -> LoginCounter:
    return LoginCounter.objects.get(key=f"pair:{email}|{ip}")


def test_guesses_from_elsewhere_do_not_lock_the_owner_out(client: Any, admin: Any, settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 5
    fail(client, admin.email, ATTACKER_IP, 5)
    # The guesser is locked out, even with the right password...
    refused = login(client, admin.email, PASSWORD, ATTACKER_IP)
    assert not logged_in(refused) and TOO_MANY in refused.content.decode()
    # ...the owner, from their own address, is not.
    assert logged_in(login(client, admin.email, PASSWORD, OWNER_IP))


def test_five_bad_passwords_lock_the_pair_and_each_lock_in_a_row_is_longer(
    client: Any, admin: Any, settings: Any
) -> None:
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_FAILURE_WINDOW = 900
    start = timezone.now()
    fail(client, admin.email, OWNER_IP, 5)
    first = lock_of(admin.email, OWNER_IP)
    assert first.lockouts == 1
    assert dt.timedelta(seconds=890) < first.locked_until - start < dt.timedelta(seconds=960)
    assert TOO_MANY in login(client, admin.email, PASSWORD, OWNER_IP).content.decode()
    # The lock runs out; five more bad passwords lock it again, twice as long.
    LoginCounter.objects.filter(pk=first.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    fail(client, admin.email, OWNER_IP, 4)
    assert not lock_of(admin.email, OWNER_IP).locked_until > timezone.now()
    fail(client, admin.email, OWNER_IP, 1)
    second = lock_of(admin.email, OWNER_IP)
    assert second.lockouts == 2
    assert dt.timedelta(seconds=1790) < second.locked_until - timezone.now() <= dt.timedelta(seconds=1800)
    # The lock history goes with a successful login.
    LoginCounter.objects.filter(pk=second.pk).update(locked_until=None)
    assert logged_in(login(client, admin.email, PASSWORD, OWNER_IP))
    assert not LoginCounter.objects.filter(key__startswith=f"pair:{admin.email}|").exists()


def test_the_per_address_limit_stays(client: Any, users: Any, settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 2
    for n in range(8):  # 4 x the limit, over many emails (none reaching the pair limit)
        fail(client, f"guess{n}@example.vn", ATTACKER_IP, 1)
    refused = login(client, users["sales"].email, PASSWORD, ATTACKER_IP)
    assert not logged_in(refused) and TOO_MANY in refused.content.decode()
    assert logged_in(login(client, users["sales"].email, PASSWORD, OWNER_IP))


def test_unlock_from_the_command_line(client: Any, admin: Any, settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    fail(client, admin.email, OWNER_IP, 3)
    fail(client, admin.email, ATTACKER_IP, 3)
    listing = StringIO()
    call_command("unlock", "--list", stdout=listing)
    assert f"{admin.email}\tfrom {OWNER_IP}" in listing.getvalue()
    assert f"{admin.email}\tfrom {ATTACKER_IP}" in listing.getvalue()

    out = StringIO()
    call_command("unlock", admin.email.upper(), "--ip", OWNER_IP, stdout=out)
    assert "Unlocked" in out.getvalue()
    assert logged_in(login(client, admin.email, PASSWORD, OWNER_IP))
    # Only that address was unlocked; the email alone unlocks it everywhere.
    assert TOO_MANY in login(client, admin.email, PASSWORD, ATTACKER_IP).content.decode()
    call_command("unlock", admin.email, stdout=StringIO())
    assert logged_in(login(client, admin.email, PASSWORD, ATTACKER_IP))
    assert AuditEvent.objects.filter(object_type="login_lock", via="cli").count() == 2


def test_unlock_needs_an_email_or_an_address(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("unlock", stdout=StringIO())


def test_ipv6_addresses_count_per_64_network(client: Any, admin: Any, users: Any, settings: Any) -> None:
    """A home or office has a whole IPv6 /64 and may use any address in it: guesses from five
    addresses of one /64 lock that network out, as five from one IPv4 address would."""
    settings.LOGIN_MAX_FAILURES = 5
    for n in range(1, 6):
        fail(client, admin.email, f"2001:db8:aa:1::{n:x}", 1)
    refused = login(client, admin.email, PASSWORD, "2001:db8:aa:1:ffff:1:2:3")
    assert not logged_in(refused) and TOO_MANY in refused.content.decode()
    assert lock_of(admin.email, "2001:db8:aa:1::/64").lockouts == 1
    # The next /64 (another customer of the same provider) is not locked.
    assert logged_in(login(client, admin.email, PASSWORD, "2001:db8:aa:2::1"))
    # The per-address limit counts the /64 too, whatever the email.
    settings.LOGIN_MAX_FAILURES = 2
    for n in range(8):
        fail(client, f"guess{n}@example.vn", f"2001:db8:bb:1::{n + 1:x}", 1)
    refused = login(client, users["sales"].email, PASSWORD, "2001:db8:bb:1::99")
    assert not logged_in(refused) and TOO_MANY in refused.content.decode()
    # An IPv4 address written as IPv6 is that IPv4 address; unlocking by any address of the /64 works.
    fail(client, admin.email, f"::ffff:{ATTACKER_IP}", 2)
    assert lock_of(admin.email, ATTACKER_IP).lockouts == 1
    call_command("unlock", admin.email, "--ip", "2001:db8:aa:1::77", stdout=StringIO())
    assert logged_in(login(client, admin.email, PASSWORD, "2001:db8:aa:1::5"))
