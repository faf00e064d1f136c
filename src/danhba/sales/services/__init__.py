"""Every write of the sales app, by topic: ``pipelines`` (pipelines, stages, lost reasons) and
``deals`` (deals, their lines, moving them, won and lost)."""
