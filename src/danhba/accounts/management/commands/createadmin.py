from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.accounts.models import User
from danhba.accounts.services import roles_ensure_builtin, user_create, user_set_password
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError


class Command(BaseCommand):
    help = "Create an admin user, or reset an existing user's password and make them admin. Non-interactive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        roles_ensure_builtin()
        actor = Actor.system("cli")
        try:
            user = User.objects.filter(email=opts["email"].strip().lower()).first()
            if user is None:
                user = user_create(
                    actor=actor, email=opts["email"], password=opts["password"], role="admin", full_name=opts["name"]
                )
                self.stdout.write(self.style.SUCCESS(f"Created admin {user.email}"))
            else:
                from danhba.accounts.models import Role

                user.role = Role.objects.get(key="admin")
                user.is_active = True
                user.save(update_fields=["role", "is_active"])
                user_set_password(actor=actor, user=user, password=opts["password"])
                self.stdout.write(self.style.SUCCESS(f"Updated {user.email}: admin role, new password"))
        except ServiceError as exc:
            raise CommandError(f"{exc.message} {exc.details}") from None
