"""Demo website and shop events (``danhba demo``), sent through the real event intake.

The demo shop, shop.example.vn, put the danhba.js snippet on its website and its order system
on a server source :data:`TRACKING_DAYS` ago. Since then:

- visitors browse with an anonymous id (page views with the URL, title, referrer and, when they
  came from a campaign, its UTM parameters in ``context.campaign``), look at products ("Product
  Viewed"), sometimes leave a cart behind;
- people who sign up are identified (``identify`` with the anonymous id of their browser, so what
  they did before joins them) and send "Signed Up" at the moment their contact was created;
- every order since then is an "Order Completed" from the server with its products, total and
  time, preceded on the website by views of those products, the cart and the checkout; the odd
  one is cancelled or refunded later ("Order Cancelled", "Order Refunded").

The messages are built as the snippet and a server library send them, checked by
:func:`~danhba.tracking.services.parse_message` and stored by
:func:`~danhba.tracking.services.events_ingest_many`, in time order, a request at a time: the
same path, identity resolution and order creation as live traffic. Site members are known by
their shop account id, held as the contact's "segment" external id.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from django.utils import timezone

from danhba.contacts.models import Contact, ExternalId
from danhba.contacts.models import Source as ContactSource
from danhba.core.actor import Actor
from danhba.core.demo import DemoRun
from danhba.core.normalize import fold
from danhba.tracking.models import Event, Source
from danhba.tracking.services.identity import USER_ID_SYSTEM
from danhba.tracking.services.intake import events_ingest_many
from danhba.tracking.services.messages import parse_message
from danhba.tracking.services.sources import source_create

TRACKING_DAYS = 180

# (product id, name, category, price in VND)
CATALOGUE = (
    ("CF-SUA-DA", "Cà phê sữa đá đóng lon", "Đồ uống", 15000),
    ("TRA-SEN", "Trà sen Tây Hồ 100 g", "Đồ uống", 120000),
    ("NUOC-MAM", "Nước mắm Phú Quốc 500 ml", "Thực phẩm", 85000),
    ("GAO-ST25", "Gạo ST25 túi 5 kg", "Thực phẩm", 190000),
    ("BANH-PIA", "Bánh pía Sóc Trăng", "Thực phẩm", 65000),
    ("AO-DAI", "Áo dài lụa", "Thời trang", 1250000),
    ("NON-LA", "Nón lá Huế", "Thời trang", 90000),
    ("NOI-CHIEN", "Nồi chiên không dầu 6 lít", "Gia dụng", 1890000),
    ("LOC-NUOC", "Máy lọc nước RO", "Gia dụng", 5490000),
    ("KEM-CHONG-NANG", "Kem chống nắng SPF50", "Mỹ phẩm", 320000),
    ("SACH-TRUYEN-KIEU", "Truyện Kiều (bìa cứng)", "Sách", 150000),
    ("TAI-NGHE", "Tai nghe không dây", "Điện tử", 790000),
)


@dataclass
class PlannedOrder:
    """One demo order before it is written (in bulk) or sent (as events)."""

    order_id: str
    contact_id: int
    placed_at: dt.datetime
    channel: str
    store: str
    # (product id, name, category, price, quantity)
    lines: list[tuple[str, str, str, int, int]]
    shipping: int
    fate: str = ""  # "", "cancelled" or "refunded" (the first line given back)
    refund_at: dt.datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def subtotal(self) -> int:
        return sum(price * qty for _pid, _name, _cat, price, qty in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping


SITE = "https://shop.example.vn"
WEBSITE_SOURCE = "Website shop.example.vn"
SERVER_SOURCE = "Hệ thống bán hàng (máy chủ)"
# Contacts who came through the website; they sign up there.
WEB_SOURCES = {
    ContactSource.REGISTRATION, ContactSource.FORM, ContactSource.SUBSCRIPTION, ContactSource.CONTEST,
    ContactSource.QUESTIONNAIRE, ContactSource.ORDER,
}  # fmt: skip
MEMBER_SHARE = {True: 0.7, False: 0.2}  # of web-sourced / other contacts with a site account
REQUEST = 100  # messages per request, as the snippet and SDKs batch them
TRANSACTION = 2000  # messages stored per call of the intake

# (page name as the site names it, path, title)
Page = tuple[str, str, str]
Product = tuple[str, str, str, int]  # id, name, category, price
HOME: Page = ("Trang chủ", "/", "Sao Mai – Đặc sản và đồ dùng Việt")
PROMO: Page = ("Khuyến mãi", "/khuyen-mai", "Khuyến mãi tháng này – Sao Mai")
BLOG: tuple[Page, ...] = (
    ("Blog", "/blog/cach-pha-tra-sen", "Cách pha trà sen Tây Hồ ngon – Sao Mai"),
    ("Blog", "/blog/chon-noi-chien-khong-dau", "Chọn nồi chiên không dầu cho gia đình – Sao Mai"),
    ("Blog", "/blog/gao-st25-co-gi-ngon", "Gạo ST25 có gì ngon? – Sao Mai"),
)
SIGNUP: Page = ("Đăng ký", "/dang-ky", "Đăng ký tài khoản – Sao Mai")
CART: Page = ("Giỏ hàng", "/gio-hang", "Giỏ hàng – Sao Mai")
CHECKOUT: Page = ("Thanh toán", "/thanh-toan", "Thanh toán – Sao Mai")
# (utm parameters, weight)
CAMPAIGNS: tuple[tuple[dict[str, str], int], ...] = (
    ({"source": "facebook", "medium": "cpc", "name": "tet-2026", "content": "video-30s"}, 5),
    ({"source": "google", "medium": "cpc", "name": "tra-sen-tay-ho", "term": "trà sen"}, 3),
    ({"source": "zalo", "medium": "social", "name": "khach-than-thiet"}, 3),
    ({"source": "newsletter", "medium": "email", "name": "ban-tin-thang"}, 3),
    ({"source": "tiktok", "medium": "video", "name": "review-noi-chien"}, 2),
)
# context.campaign key → the URL parameter it came from (as danhba.js reads them)
UTM_PARAMS = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium", "term": "utm_term",
              "content": "utm_content"}  # fmt: skip
REFERRERS = ("https://www.google.com/", "https://www.facebook.com/", "https://zalo.me/", "https://coccoc.com/", "")
DEVICES = (
    ("Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile "
     "Safari/537.36", (412, 915), 5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", (390, 844), 4),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
     (1920, 1080), 3),
    ("Mozilla/5.0 (Linux; Android 13; Redmi Note 12) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Mobile "
     "Safari/537.36 Zalo", (393, 873), 2),
)  # fmt: skip
PAYMENT = ("cod", "cod", "momo", "zalopay", "vnpay", "bank_transfer")


@dataclass
class Device:
    anonymous_id: str
    user_agent: str
    screen: tuple[int, int]
    ip: str


@dataclass
class Member:
    """A contact with a site account."""

    contact_id: int
    user_id: str
    created_at: dt.datetime
    email: str
    phone: str
    name: str
    signs_up: bool  # created while tracking ran, through the website


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(text: str) -> str:
    return "-".join(fold(text).replace("(", " ").replace(")", " ").split())


class Traffic:
    """Builds the messages, each with the time it happened (for sorting)."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        self.since = now - dt.timedelta(days=TRACKING_DAYS)
        self.web: list[tuple[dt.datetime, dict[str, Any]]] = []
        self.server: list[tuple[dt.datetime, dict[str, Any]]] = []

    # --- building blocks ------------------------------------------------------------------

    def device(self) -> Device:
        agent, screen, _w = self.rng.choices(DEVICES, weights=[d[2] for d in DEVICES])[0]
        rng = self.rng
        ip = ".".join(map(str, (rng.choice((14, 27, 42, 113, 171)), rng.randrange(256), rng.randrange(256),
                                rng.randrange(1, 255))))  # fmt: skip
        return Device(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), agent, screen, ip)

    def campaign(self, share: float) -> dict[str, str] | None:
        if self.rng.random() >= share:
            return None
        return dict(self.rng.choices([c for c, _w in CAMPAIGNS], weights=[w for _c, w in CAMPAIGNS])[0])

    def _message(
        self, kind: str, at: dt.datetime, device: Device, user_id: str, page: Page, utm: dict[str, str] | None,
        referrer: str,
    ) -> dict[str, Any]:  # fmt: skip
        _name, path, title = page
        search = "?" + "&".join(f"{UTM_PARAMS[k]}={quote_plus(v)}" for k, v in utm.items()) if utm else ""
        context: dict[str, Any] = {
            "library": {"name": "danhba.js", "version": "1.0.0"},
            "page": {"path": path, "referrer": referrer, "search": search, "title": title, "url": SITE + path + search},
            "userAgent": device.user_agent,
            "locale": "vi-VN",
            "screen": {"width": device.screen[0], "height": device.screen[1]},
            "timezone": "Asia/Ho_Chi_Minh",
            "ip": device.ip,
        }
        if utm:
            context["campaign"] = utm
        message: dict[str, Any] = {
            "type": kind, "messageId": str(uuid.uuid4()), "anonymousId": device.anonymous_id,
            "timestamp": _iso(at), "context": context,
        }  # fmt: skip
        if user_id:
            message["userId"] = user_id
        return message

    def page(
        self, at: dt.datetime, device: Device, user_id: str, page: Page, utm: dict[str, str] | None, referrer: str = ""
    ) -> None:
        message = self._message("page", at, device, user_id, page, utm, referrer)
        context_page = message["context"]["page"]
        message["name"] = page[0]
        message["properties"] = {**context_page, "name": page[0]}
        self.web.append((at, message))

    def track(
        self, at: dt.datetime, device: Device, user_id: str, event: str, properties: dict[str, Any], page: Page,
        utm: dict[str, str] | None,
    ) -> None:  # fmt: skip
        message = self._message("track", at, device, user_id, page, utm, "")
        message["event"] = event
        message["properties"] = properties
        self.web.append((at, message))

    def identify(self, at: dt.datetime, device: Device, member: Member, page: Page) -> None:
        message = self._message("identify", at, device, member.user_id, page, None, "")
        traits: dict[str, Any] = {"name": member.name}
        if member.email:
            traits["email"] = member.email
        elif member.phone:
            traits["phone"] = member.phone
        message["traits"] = traits
        self.web.append((at, message))

    @staticmethod
    def product_page(pid: str, name: str) -> Page:
        return ("Sản phẩm", f"/san-pham/{_slug(name)}", f"{name} – Sao Mai")

    def view_product(
        self, at: dt.datetime, device: Device, user_id: str, product: Product, utm: dict[str, str] | None
    ) -> None:
        pid, name, category, price = product
        page = self.product_page(pid, name)
        self.page(at, device, user_id, page, utm)
        properties = {
            "product_id": pid, "sku": pid, "name": name, "category": category, "price": price, "currency": "VND",
            "url": SITE + page[1],
        }  # fmt: skip
        self.track(at + dt.timedelta(seconds=2), device, user_id, "Product Viewed", properties, page, utm)

    # --- visits ---------------------------------------------------------------------------

    def browse(self, start: dt.datetime, device: Device, user_id: str, *, products: int, cart: bool = False) -> None:
        """A visit: a landing page, a few pages, ``products`` product views, maybe a cart left."""
        rng = self.rng
        utm = self.campaign(0.35)
        landing = rng.choice((HOME, HOME, PROMO, *BLOG))
        at = start
        self.page(at, device, user_id, landing, utm, "" if utm else rng.choice(REFERRERS))
        for product in rng.sample(CATALOGUE, products):
            at += dt.timedelta(seconds=rng.randint(20, 240))
            self.view_product(at, device, user_id, product, utm)
        if cart:
            at += dt.timedelta(seconds=rng.randint(20, 120))
            self.page(at, device, user_id, CART, utm)

    def member_visits(self, member: Member, orders: Sequence[PlannedOrder]) -> None:
        rng = self.rng
        devices = [self.device() for _ in range(1 if rng.random() < 0.7 else 2)]
        start = max(self.since, member.created_at)
        if member.signs_up:
            self.sign_up(member, devices[0])
        span = (self.now - start).total_seconds()
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 6))):
            at = start + dt.timedelta(seconds=rng.uniform(60, max(span, 120)))
            if at < self.now:
                self.browse(at, rng.choice(devices), member.user_id, products=rng.randint(0, 3),
                            cart=rng.random() < 0.15)  # fmt: skip
        for order in orders:
            self.purchase(order, member.user_id, rng.choice(devices))

    def sign_up(self, member: Member, device: Device) -> None:
        """Browsing as a stranger, then the sign-up form: identify with the browser's anonymous
        id (its earlier events join the contact) and "Signed Up" when the contact was created."""
        rng = self.rng
        at = member.created_at - dt.timedelta(minutes=rng.randint(3, 90))
        if rng.random() < 0.6:
            self.browse(at, device, "", products=rng.randint(0, 2))
        self.page(member.created_at - dt.timedelta(seconds=40), device, "", SIGNUP, None)
        self.identify(member.created_at, device, member, SIGNUP)
        method = "email" if member.email else "phone"
        self.track(member.created_at + dt.timedelta(seconds=1), device, member.user_id, "Signed Up",
                   {"method": method}, SIGNUP, None)  # fmt: skip

    def purchase(self, order: PlannedOrder, user_id: str, device: Device) -> None:
        """An online order is bought on the website (its products viewed, the cart, the
        checkout); every order is then reported by the server."""
        rng = self.rng
        if order.channel == "online":
            utm = self.campaign(0.3)
            at = order.placed_at - dt.timedelta(minutes=rng.randint(4, 45))
            self.page(at, device, user_id, rng.choice((HOME, PROMO)), utm, "" if utm else rng.choice(REFERRERS))
            for pid, name, category, price, _qty in order.lines:
                at += dt.timedelta(seconds=rng.randint(15, 120))
                self.view_product(at, device, user_id, (pid, name, category, price), utm)
            self.page(order.placed_at - dt.timedelta(seconds=90), device, user_id, CART, utm)
            self.page(order.placed_at - dt.timedelta(seconds=30), device, user_id, CHECKOUT, utm)
        self.report(order, user_id)

    def report(self, order: PlannedOrder, user_id: str) -> None:
        """What the shop's server sends: the order, and later its cancellation or refund."""
        self.server.append((order.placed_at, self._server("Order Completed", order.placed_at, user_id,
                                                          _completed(self.rng, order))))  # fmt: skip
        if not order.fate or order.refund_at is None:
            return
        properties: dict[str, Any] = {"order_id": order.order_id}
        if order.fate == "cancelled":
            event = "Order Cancelled"
        else:
            pid, _name, _cat, price, qty = order.lines[0]
            event = "Order Refunded"
            properties.update(total=price * qty, currency="VND", products=[{"product_id": pid, "quantity": qty}])
        self.server.append((order.refund_at, self._server(event, order.refund_at, user_id, properties)))

    def _server(self, event: str, at: dt.datetime, user_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "track", "event": event, "userId": user_id, "messageId": str(uuid.uuid4()),
            "timestamp": _iso(at), "properties": properties,
            "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
        }  # fmt: skip

    def strangers(self, devices: int) -> None:
        """Visitors who never sign up: most of a shop's traffic."""
        span = (self.now - self.since).total_seconds()
        for _ in range(devices):
            device = self.device()
            for _visit in range(self.rng.choice((1, 1, 1, 2, 3))):
                at = self.since + dt.timedelta(seconds=self.rng.uniform(0, span - 600))
                self.browse(at, device, "", products=self.rng.choice((0, 0, 1, 1, 2)), cart=self.rng.random() < 0.05)


def _completed(rng: random.Random, order: PlannedOrder) -> dict[str, Any]:
    """The "Order Completed" properties of Segment's e-commerce spec."""
    properties: dict[str, Any] = {
        "order_id": order.order_id, "total": order.total, "subtotal": order.subtotal, "shipping": order.shipping,
        "currency": "VND", "channel": order.channel, "payment_method": rng.choice(PAYMENT),
        "products": [
            {"product_id": pid, "sku": pid, "name": name, "category": category, "price": price, "quantity": qty}
            for pid, name, category, price, qty in order.lines
        ],
    }  # fmt: skip
    if order.store:
        properties["store"] = order.store
    return properties


def _members(rng: random.Random, contact_ids: Sequence[int], buyers: set[int], since: dt.datetime) -> list[Member]:
    """Who has a site account: everyone with an order since tracking started, and a share of the
    others (most of those who came through the website). Their account id becomes their
    "segment" external id, as the site's first identify call would have made it."""
    rows = (
        Contact.objects.filter(pk__in=contact_ids)
        .order_by("pk")
        .values_list("pk", "created_at", "email", "phone", "full_name", "source")
    )
    members: list[Member] = []
    for pk, created_at, email, phone, name, source in rows:
        web = source in WEB_SOURCES
        if pk not in buyers and rng.random() >= MEMBER_SHARE[web]:
            continue
        members.append(Member(pk, f"KH{pk:07d}", created_at, email, phone, name, signs_up=web and created_at >= since))
    taken = set(
        ExternalId.objects.filter(system=USER_ID_SYSTEM, value__in=[m.user_id for m in members]).values_list(
            "value", flat=True
        )
    )
    members = [m for m in members if m.user_id not in taken]
    ExternalId.objects.bulk_create(
        [ExternalId(contact_id=m.contact_id, system=USER_ID_SYSTEM, value=m.user_id) for m in members], batch_size=1000
    )
    return members


def _source(name: str, kind: str) -> Source:
    found = Source.objects.filter(name=name, disabled_at=None).first()
    return found or source_create(actor=Actor.system("cli"), name=name, kind=kind)[0]


def _send(source: Source, items: list[tuple[dt.datetime, dict[str, Any]]]) -> int:
    """Store the messages in time order, as requests received a moment after their last event."""
    items.sort(key=lambda item: item[0])
    stored = 0
    for start in range(0, len(items), TRANSACTION):
        chunk = items[start : start + TRANSACTION]
        requests = []
        for offset in range(0, len(chunk), REQUEST):
            part = chunk[offset : offset + REQUEST]
            received = part[-1][0] + dt.timedelta(seconds=2)
            messages = [parse_message(raw, index=i, received_at=received) for i, (_at, raw) in enumerate(part)]
            requests.append((messages, received))
        stored += sum(result.accepted for result in events_ingest_many(source=source, requests=requests))
    return stored


def demo_events_load(
    *,
    contact_ids: Sequence[int],
    orders: Sequence[PlannedOrder],
    seed: int,
    now: dt.datetime | None = None,
    write_orders: Callable[[Sequence[PlannedOrder], dt.datetime], None] | None = None,
) -> int:
    """Send the demo shop's website and order events since tracking started (``orders``: the
    orders placed since then). Returns the number of events stored."""
    now = now or timezone.now()
    rng = random.Random(seed + 1)
    traffic = Traffic(rng, now)
    by_contact: dict[int, list[PlannedOrder]] = {}
    for order in orders:
        by_contact.setdefault(order.contact_id, []).append(order)
    members = _members(rng, contact_ids, set(by_contact), traffic.since)
    known = {m.contact_id for m in members}
    # A buyer whose account id another contact already holds (never in a fresh demo): their
    # orders are imported like the older ones, not sent under someone else's id.
    unsent = [o for o in orders if o.contact_id not in known]
    if unsent and write_orders is not None:
        write_orders(unsent, now)
    for member in members:
        traffic.member_visits(member, by_contact.get(member.contact_id, []))
    traffic.strangers(max(1, len(contact_ids) // 2))
    website = _source(WEBSITE_SOURCE, Source.Kind.WEBSITE)
    server = _source(SERVER_SOURCE, Source.Kind.SERVER)
    return _send(website, traffic.web) + _send(server, traffic.server)


def demo_events_part(run: DemoRun) -> None:
    """The tracking part of the demo (``core/demo.py``): the shop's website and order events
    since its tracking started, for the orders the orders part planned (``run.shared["shop.orders"]``,
    written by ``run.shared["shop.write_orders"]`` when they cannot be sent)."""
    demo_events_load(
        contact_ids=run.contact_ids,
        orders=run.shared.get("shop.orders", []),
        seed=run.seed,
        now=run.now,
        write_orders=run.shared.get("shop.write_orders"),
    )
    # Counted when every part has run: later parts store events too (the deals won and lost).
    run.counts["events"] = lambda: Event.objects.count()
