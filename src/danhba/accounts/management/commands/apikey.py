from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.accounts.models import ApiKey
from danhba.accounts.services import apikey_create, apikey_revoke, user_by_email
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError


class Command(BaseCommand):
    help = "Manage API keys: 'create --user EMAIL --name NAME' prints the key once; 'list'; 'revoke PREFIX'."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("--user", required=True, help="email of the user the key acts as")
        create.add_argument("--name", required=True, help="what the key is for")
        sub.add_parser("list", help="list keys")
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = Actor.system("cli")
        try:
            if opts["action"] == "create":
                key, raw = apikey_create(actor=actor, user=user_by_email(opts["user"]), name=opts["name"])
                self.stderr.write(f"API key '{key.name}' for {key.user.email} (shown once, store it now):")
                self.stdout.write(raw)
            elif opts["action"] == "list":
                for key in ApiKey.objects.select_related("user"):
                    state = "revoked" if key.revoked_at else "active"
                    self.stdout.write(
                        f"{key.prefix}…\t{key.name}\t{key.user.email}\t{state}\tlast used {key.last_used_at or 'never'}"
                    )
            else:
                matches = list(ApiKey.objects.filter(prefix__startswith=opts["prefix"].rstrip("…")))
                if len(matches) != 1:
                    raise CommandError(f"{len(matches)} keys match that prefix; give more characters.")
                apikey_revoke(actor=actor, key=matches[0])
                self.stdout.write(self.style.SUCCESS(f"Revoked {matches[0]}"))
        except ServiceError as exc:
            raise CommandError(exc.message) from None
