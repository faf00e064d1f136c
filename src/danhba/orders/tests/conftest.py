"""The event API fixtures of the tracking tests: orders arrive as events too."""

from danhba.tracking.tests.conftest import make_source, post, write_key

__all__ = ["make_source", "post", "write_key"]
