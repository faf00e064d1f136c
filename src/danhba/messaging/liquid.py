"""Liquid for templates that marketing users write (python-liquid 2).

What makes it safe to render an author's template:

- Autoescape: every value from the context is HTML-escaped in HTML parts; the ``safe`` filter
  is removed, so contact data (a name typed into a web form) can never become markup.
- No path to Python objects or files: the context is plain dicts, lists, strings and numbers
  built by :mod:`danhba.messaging.tokens` (never a model instance), Liquid reads mappings and
  sequences only (no attribute access), and the ``include`` and ``render`` tags are removed (no
  loader, no file system).
- Limits: loop iterations (product of nested loops), output size, assigned variables' size,
  block nesting, template size, and a render deadline checked at every loop start and every
  write, so a template of many sibling loops stops too.

Every failure is a :class:`TemplateProblem` whose message tells the author what to change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from io import StringIO
from typing import Any, ClassVar

from django.conf import settings
from django.utils.translation import gettext as _
from liquid import Environment
from liquid.context import RenderContext
from liquid.exceptions import (
    LiquidError,
    LiquidSyntaxError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.output import LimitedStringIO
from liquid.template import BoundTemplate

# Tags that read other templates (from a loader) are gone: an author's template stands alone.
REMOVED_TAGS = ("include", "render")
# ``safe`` would let a context value (contact data) through unescaped.
REMOVED_FILTERS = ("safe",)
MAX_SOURCE_CHARS = 200_000


class TemplateProblem(ValueError):
    """A template that cannot be rendered; ``str()`` is the message for its author."""


class RenderTimeout(ResourceLimitError):
    pass


class _DeadlineBuffer(LimitedStringIO):
    deadline = 0.0

    def write(self, s: str) -> int:
        if time.monotonic() > self.deadline:
            raise RenderTimeout("render timeout", token=None)
        return super().write(s)


class _DeadlineContext(RenderContext):
    __slots__ = ("deadline",)
    deadline: float

    @contextmanager
    def loop(self, namespace: Mapping[str, object], forloop: Any) -> Iterator[RenderContext]:
        if time.monotonic() > self.deadline:
            raise RenderTimeout("render timeout", token=None)
        with super().loop(namespace, forloop) as context:
            yield context

    def copy(self, *args: Any, **kwargs: Any) -> RenderContext:
        context = super().copy(*args, **kwargs)
        if isinstance(context, _DeadlineContext):
            context.deadline = self.deadline
        return context

    def get_buffer(self, buf: Any = None) -> StringIO:
        # ``capture`` writes to a buffer of its own: the same limits apply there.
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        buffer = _DeadlineBuffer(limit=max(0, int(self.env.output_stream_limit or 0) - carry))
        buffer.deadline = self.deadline
        return buffer


class _Template(BoundTemplate):
    context_class = _DeadlineContext


class SafeEnvironment(Environment):
    template_class = _Template
    # Overridden per environment from settings (see :func:`environment`).
    loop_iteration_limit: ClassVar[int | None] = 10_000
    output_stream_limit: ClassVar[int | None] = 1_000_000
    local_namespace_limit: ClassVar[int | None] = 200_000
    block_nesting_limit: ClassVar[int] = 20
    context_depth_limit: ClassVar[int] = 20


@lru_cache(maxsize=4)
def environment(*, html: bool) -> SafeEnvironment:
    """One environment for HTML parts (autoescape) and one for text (subject, plain text)."""

    class MessagingEnvironment(SafeEnvironment):
        loop_iteration_limit = settings.MESSAGING_LIQUID_MAX_LOOP
        output_stream_limit = settings.MESSAGING_LIQUID_MAX_OUTPUT

    env = MessagingEnvironment(autoescape=html)
    for tag in REMOVED_TAGS:
        env.tags.pop(tag, None)
    for name in REMOVED_FILTERS:
        env.filters.pop(name, None)
    return env


def _problem(exc: LiquidError) -> TemplateProblem:
    if isinstance(exc, RenderTimeout):
        return TemplateProblem(
            _("The template took longer than %(s)s s to render; make its loops smaller.")
            % {"s": settings.MESSAGING_LIQUID_TIMEOUT}
        )
    if isinstance(exc, LoopIterationLimitError):
        return TemplateProblem(
            _("A loop runs more than %(n)s times; loop over fewer items.") % {"n": settings.MESSAGING_LIQUID_MAX_LOOP}
        )
    if isinstance(exc, OutputStreamLimitError):
        return TemplateProblem(
            _("The rendered email would be larger than %(n)s bytes.") % {"n": settings.MESSAGING_LIQUID_MAX_OUTPUT}
        )
    if isinstance(exc, LocalNamespaceLimitError):
        return TemplateProblem(_("The variables the template assigns grow too large."))
    if isinstance(exc, ResourceLimitError):
        return TemplateProblem(_("The template nests blocks too deeply."))
    detail = str(exc).strip()
    if isinstance(exc, LiquidSyntaxError):
        return TemplateProblem(_("Template syntax error: %(detail)s") % {"detail": detail})
    return TemplateProblem(_("The template cannot be rendered: %(detail)s") % {"detail": detail})


@lru_cache(maxsize=256)
def parse(source: str, *, html: bool) -> BoundTemplate:
    """The parsed template (cached: a campaign parses once and renders per recipient)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateProblem(_("The template is longer than %(n)s characters.") % {"n": MAX_SOURCE_CHARS})
    try:
        return environment(html=html).from_string(source)
    except LiquidError as exc:
        raise _problem(exc) from None
    except RecursionError:
        raise TemplateProblem(_("The template nests blocks too deeply.")) from None


def render(source: str | BoundTemplate, data: Mapping[str, Any], *, html: bool) -> str:
    """Render ``source`` with ``data`` (plain values only) within the limits and the deadline."""
    template = parse(source, html=html) if isinstance(source, str) else source
    deadline = time.monotonic() + settings.MESSAGING_LIQUID_TIMEOUT
    context = _DeadlineContext(template, globals=dict(data))
    context.deadline = deadline
    buffer = _DeadlineBuffer(limit=int(template.env.output_stream_limit or 0))
    buffer.deadline = deadline
    try:
        template.render_with_context(context, buffer)
    except LiquidError as exc:
        raise _problem(exc) from None
    except (RecursionError, MemoryError):
        raise TemplateProblem(_("The template nests blocks too deeply.")) from None
    return buffer.getvalue()
