"""Background jobs of the contacts app. A job is a wake-up call: it re-derives its result from
database state, so running it twice or losing it and running it again changes nothing."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from danhba.contacts.services import search_keys_rebuild


@db_task(retries=3, retry_delay=10)
def search_keys_rebuild_job(contact_ids: list[int]) -> int:
    search_keys_rebuild(contact_ids)
    return len(contact_ids)
