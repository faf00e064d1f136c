"""Why something was refused or failed, kept untranslated and translated when shown.

Work done in the worker (an import, a webhook delivery, a send) runs in no reader's language,
and what it reports is read later by people in English or Vietnamese. So a reason is stored as
a catalogue msgid and its parameters (:class:`Reason`, as JSON by :meth:`Reason.to_json`), and
becomes text only when shown: ``str(reason)`` in the active language — the page's, the API
client's, the CSV downloader's. A value refused by the shared normalisers arrives as a
``NormalizationError``, which carries its msgid and parameters too (:meth:`Reason.of_error`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from django.utils.translation import gettext

from danhba.core.normalize import NormalizationError

HIDDEN = "…"  # what a parameter the reader may not see is shown as

Param = Union[str, "Reason"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True, slots=True)
class Reason:
    """A catalogue msgid and its parameters (text, or reasons themselves)."""

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __str__(self) -> str:
        """The reason in the active language."""
        text = gettext(self.msgid) if self.msgid else ""
        return self._fill(text, {k: str(v) for k, v in self.params.items()})

    def untranslated(self) -> str:
        """The reason in English (the catalogue's source language), as stored for old readers."""
        values = {k: v.untranslated() if isinstance(v, Reason) else v for k, v in self.params.items()}
        return self._fill(self.msgid, values)

    def _fill(self, text: str, values: dict[str, str]) -> str:
        if not values:
            return text
        for template in (text, self.msgid):  # a translation that lost a placeholder: the msgid
            try:
                return template % values
            except (KeyError, ValueError, TypeError):
                continue
        return self.msgid

    def masked(self) -> Reason:
        """The same reason with its values hidden: for a column the reader may not see."""
        return Reason(self.msgid, {k: v.masked() if isinstance(v, Reason) else HIDDEN for k, v in self.params.items()})

    def to_json(self) -> dict[str, Any]:
        params = {k: v.to_json() if isinstance(v, Reason) else v for k, v in self.params.items()}
        return {"msgid": self.msgid, "params": params} if params else {"msgid": self.msgid}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        params = data.get("params") or {}
        return cls(
            str(data.get("msgid", "")),
            {str(k): cls.from_json(v) if isinstance(v, dict) else str(v) for k, v in params.items()},
        )

    @classmethod
    def of_error(cls, exc: NormalizationError) -> Reason:
        """The reason a normaliser refused a value with (its parameters may be reasons too)."""
        params = {
            key: cls.of_error(value) if isinstance(value, NormalizationError) else str(value)
            for key, value in exc.params.items()
        }
        return cls(str(exc.msgid), params)


def reason(msgid: str, **params: Param) -> Reason:
    """Shorthand: ``reason(gettext_noop("at most %(n)s characters"), n="80")``."""
    return Reason(msgid, params)
