"""danhba — customer data platform, contact manager and marketing automation."""

__version__ = "0.1.0"
