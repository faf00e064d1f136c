"""On PostgreSQL, where two workers really share out leads at once: each batch locks the rule
row (the round robin's pointer), so 2 × 10 leads shared by two threads over two reps end 10
and 10 — never two batches starting from the same turn."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from danhba.accounts.models import Team
from danhba.contacts.models import Contact
from danhba.sales.models import Assignment, AssignmentRule
from danhba.sales.services import assignment as A


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_keep_the_turn(make_user: Any, make_contact: Any) -> None:
    ids = [make_contact(full_name=f"Khách {i}").pk for i in range(20)]
    team = Team.objects.create(name="Hai người")
    reps = [make_user("sales", team=team) for _n in range(2)]
    AssignmentRule.objects.create(name="Lần lượt", team=team)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(part: list[int]) -> None:
        barrier.wait()
        try:
            for i in range(0, len(part), 2):  # batches of one odd count keep the turn honest
                A.assign(part[i : i + 1], notify=False)
                A.assign(part[i + 1 : i + 2], notify=False)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(ids[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Assignment.objects.count() == 20
    assert sorted(Contact.objects.filter(owner__in=reps).values_list("owner", flat=True)).count(reps[0].pk) == 10
