"""Every write to contacts, companies, tags, custom fields and the timeline, one module per topic.

Views, the API, CLI commands and jobs parse their input into plain dicts and call one of these
functions with an :class:`~danhba.core.actor.Actor`. Each function normalises through
:mod:`danhba.core.normalize` (``cleaning.py``), validates, checks the actor's role (object
permission, record visibility, sensitive fields), writes in one transaction, keeps the search
keys current (``contacts/search.py``), appends to the audit log and tells the apps above what
changed (``contacts/changes.py``).
"""
