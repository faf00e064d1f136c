"""Who loaded a pixel or followed a link: a person, or a machine. Pure: no database access.

Machines open and click more than people do, so a report that counted them would be wrong:

- **Apple Mail Privacy Protection** loads every image of every message on Apple's proxies
  (addresses in 17.0.0.0/8), with a user agent that names no browser;
- **link scanners** (mail security gateways, safe-link services) and robots say so in their
  user agent, or send none;
- a load **within seconds of sending** (``MESSAGING_MACHINE_SECONDS``) is a gateway scanning the
  message on arrival: nobody reads that fast;
- the **hidden trap link** and **every link followed in the same second** are decided where the
  clicks of a send are known (``services/activity.py``).
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings

from danhba.messaging.models import Machine

APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
# Apple's image proxy: a WebKit Macintosh user agent that names no browser after "like Gecko".
_APPLE_PROXY = re.compile(
    r"^Mozilla/5\.0 \(Macintosh; Intel Mac OS X [0-9_]+\) AppleWebKit/[0-9.]+ \(KHTML, like Gecko\)$"
)
# Words in the user agents of mail security scanners, safe-link checkers, robots and HTTP
# libraries (lower case).
SCANNER_WORDS = (
    "bot", "crawler", "spider", "scanner", "preview", "barracuda", "proofpoint", "mimecast", "ironport",
    "forcepoint", "symantec", "trendmicro", "trend micro", "sophos", "fortinet", "zscaler", "messagelabs",
    "safelinks", "urldefense", "python-requests", "python-urllib", "aiohttp", "curl/", "wget", "go-http-client",
    "java/", "okhttp", "headlesschrome", "phantomjs", "libwww", "httpclient", "postmanruntime",
)  # fmt: skip


def from_apple(ip: str | None, user_agent: str) -> bool:
    if _APPLE_PROXY.match(user_agent):
        return True
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in APPLE_NETWORKS)


def is_scanner(user_agent: str) -> bool:
    agent = user_agent.lower().strip()
    return not agent or any(word in agent for word in SCANNER_WORDS)


def machine_reason(*, ip: str | None, user_agent: str, rendered_at: int, now: float) -> str:
    """Why this load was a machine's (a ``Machine`` value), or "" for a person."""
    if from_apple(ip, user_agent):
        return Machine.APPLE_PRIVACY
    if is_scanner(user_agent):
        return Machine.SCANNER
    if now - rendered_at < settings.MESSAGING_MACHINE_SECONDS:
        return Machine.TOO_SOON
    return ""


def network_of(ip: str | None) -> str:
    """Where a load came from, kept coarse (an IPv4 /24, an IPv6 /48): enough to tell an
    office or a provider's proxy, not a person's address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network((address, prefix), strict=False))
