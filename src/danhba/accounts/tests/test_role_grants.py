"""A user manager who is not an admin cannot hand out more than they hold."""

import pytest

from danhba.accounts.models import Role
from danhba.accounts.services import role_save, user_update
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    Role.objects.create(
        key="people", name="People manager", record_scope="own", sensitive_fields=[],
        permissions={"role": ["view", "create", "edit"], "user": ["view", "edit"], "contact": ["view"]},
    )  # fmt: skip
    return make_user("people")


def test_a_manager_cannot_widen_their_own_role(manager):
    with pytest.raises(InvalidInput):
        role_save(actor=actor_for(manager), role=manager.role, data={"permissions": {"contact": ["view", "export"]}})
    manager.role.refresh_from_db()
    assert not manager.role.allows("contact", "export")


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Wide", "permissions": {"contact": ["view", "delete"]}},
        {"name": "Wide", "permissions": {"contact": ["view"]}, "record_scope": "all"},
        {"name": "Wide", "permissions": {"contact": ["view"]}, "sensitive_fields": ["*"]},
    ],
)
def test_a_manager_cannot_create_a_role_wider_than_their_own(manager, data):
    with pytest.raises(InvalidInput):
        role_save(actor=actor_for(manager), role=None, data=data)
    narrow = role_save(
        actor=actor_for(manager), role=None, data={"name": "Narrow", "permissions": {"contact": ["view"]}}
    )
    assert narrow.allows("contact", "view")


def test_a_manager_cannot_give_someone_a_wider_role(manager, users):
    with pytest.raises(InvalidInput):
        user_update(actor=actor_for(manager), user=users["analyst"], data={"role": "marketing"})
