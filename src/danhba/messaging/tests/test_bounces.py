"""Bounces: VERP return paths name their send and refuse forgeries; DSNs of Postfix, Gmail,
Exchange (Online and the legacy text format) give their failed recipients, hard or soft; a bounce
reaches the BOUNCE_RECEIVED listeners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from danhba.messaging import bounces
from danhba.messaging.bounces import HARD, SOFT, Failure, VerpError
from danhba.messaging.hooks import BOUNCE_RECEIVED

SAMPLES = Path(__file__).parent / "bounces"


@pytest.fixture(autouse=True)
def _bounce_address(settings: Any) -> None:
    settings.BOUNCE_ADDRESS = "bounces@mail.anhduong.example.vn"


def sample(name: str, send_id: int = 4711, verp: str | None = None) -> bytes:
    address = verp if verp is not None else bounces.return_path(send_id)
    return (SAMPLES / name).read_text().replace("{VERP}", address).replace("\n", "\r\n").encode()


def test_return_path_round_trip_and_forgeries(settings: Any) -> None:
    address = bounces.return_path(4711)
    local, _, domain = address.partition("@")
    assert domain == "mail.anhduong.example.vn" and local.startswith("bounces+4711-")
    assert bounces.send_id_of(address) == 4711
    assert bounces.send_id_of(f"<{address.upper()}>") == 4711  # servers may fold the case
    forged = address.replace("+4711-", "+4712-")
    assert bounces.send_id_of(forged) is None  # another send's id under this signature
    sig = local.rpartition("-")[2]
    flipped = "0" if sig[-1] != "0" else "1"
    assert bounces.send_id_of(address.replace(sig, sig[:-1] + flipped)) is None
    assert bounces.send_id_of("bounces@mail.anhduong.example.vn") is None
    assert bounces.send_id_of("not an address") is None
    # A rotated SECRET_KEY still accepts bounces of mail sent before, through the fallbacks.
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [old]
    assert bounces.send_id_of(address) == 4711
    settings.SECRET_KEY_FALLBACKS = []
    assert bounces.send_id_of(address) is None


def test_return_path_needs_a_usable_bounce_address(settings: Any) -> None:
    for bad in ("", "bounces", "b+x@example.vn"):
        settings.BOUNCE_ADDRESS = bad
        with pytest.raises(VerpError):
            bounces.return_path(1)
    with pytest.raises(ValueError):
        bounces.return_path(0, base="b@example.vn")


def test_postfix_user_unknown_is_hard() -> None:
    bounce = bounces.parse_bounce(sample("postfix-5.1.1.eml", 4711))
    assert bounce is not None and bounce.send_id == 4711 and bounce.hard
    [failure] = bounce.failures
    assert (failure.address, failure.kind, failure.status) == ("khong.ton.tai@vnpt.example.vn", HARD, "5.1.1")
    assert "User unknown" in failure.diagnostic


def test_mailbox_full_is_soft_whether_delayed_or_failed() -> None:
    delayed = bounces.parse_bounce(sample("mailbox-full-4.2.2.eml", 12))
    assert delayed is not None and delayed.send_id == 12
    assert delayed.failures == (Failure("day.hop.thu@fpt.example.vn", SOFT, "4.2.2", "smtp; 452 4.2.2 Mailbox full"),)
    # The same report after the retries ran out: "failed", yet the status still says transient.
    failed = bounces.parse_bounce(sample("mailbox-full-4.2.2.eml", 12).replace(b"Action: delayed", b"Action: failed"))
    assert failed is not None and [f.kind for f in failed.failures] == [SOFT] and not failed.hard
    # 5.2.2 (mailbox full, reported as permanent) stays soft too; 5.2.1 (disabled) is hard.
    full = sample("mailbox-full-4.2.2.eml").replace(b"Action: delayed", b"Action: failed")
    assert bounces.parse_bounce(full.replace(b"Status: 4.2.2", b"Status: 5.2.2")).failures[0].kind == SOFT  # type: ignore[union-attr]
    assert bounces.parse_bounce(full.replace(b"Status: 4.2.2", b"Status: 5.2.1")).failures[0].kind == HARD  # type: ignore[union-attr]


def test_gmail_address_not_found_is_hard() -> None:
    bounce = bounces.parse_bounce(sample("gmail-5.1.1.eml", 90210))
    assert bounce is not None and bounce.send_id == 90210
    assert bounce.addresses == {"nguoi.da.nghi@gmail.com"}
    assert bounce.failures[0].kind == HARD and bounce.failures[0].status == "5.1.1"


def test_exchange_online_and_legacy_exchange_are_hard() -> None:
    online = bounces.parse_bounce(sample("exchange-online-5.1.10.eml", 7))
    assert online is not None and online.send_id == 7
    assert [(f.address, f.kind, f.status) for f in online.failures] == [
        ("nhan.vien.cu@congty.example.vn", HARD, "5.1.10")
    ]
    legacy = bounces.parse_bounce(sample("exchange-legacy.eml", 8))  # no DSN part: flufl.bounce's Exchange detector
    assert legacy is not None and legacy.send_id == 8  # from Envelope-To
    assert [(f.address, f.kind, f.status) for f in legacy.failures] == [("truong.phong@congty.example.vn", HARD, "")]


def test_forged_or_missing_verp_gives_no_send() -> None:
    forged = bounces.return_path(4711).replace("+4711-", "+4712-")
    bounce = bounces.parse_bounce(sample("postfix-5.1.1.eml", verp=forged))
    assert bounce is not None and bounce.send_id is None  # the failure is reported, tied to no send
    plain = bounces.parse_bounce(sample("gmail-5.1.1.eml", verp="bounces@mail.anhduong.example.vn"))
    assert plain is not None and plain.send_id is None and plain.hard


def test_a_message_that_is_not_a_bounce_gives_nothing() -> None:
    raw = b"From: khach@example.vn\r\nTo: news@anhduong.example.vn\r\nSubject: Cam on\r\n\r\nCam on shop!\r\n"
    assert bounces.parse_bounce(raw) is None
    assert bounces.parse_bounce(b"Subject: no sender at all\r\n\r\nhi\r\n") is None  # a detector raises on it


@pytest.mark.django_db
def test_receive_tells_the_listeners() -> None:
    heard: list[bounces.Bounce] = []

    def listener(bounce: bounces.Bounce) -> None:
        heard.append(bounce)

    BOUNCE_RECEIVED.connect(listener)
    try:
        assert bounces.receive(sample("postfix-5.1.1.eml", 5)) is not None
        assert bounces.receive(b"Subject: hello\r\n\r\nhi\r\n") is None
    finally:
        BOUNCE_RECEIVED.disconnect(listener)
    assert [(b.send_id, sorted(b.addresses)) for b in heard] == [(5, ["khong.ton.tai@vnpt.example.vn"])]
