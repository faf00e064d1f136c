"""The search index becomes one ``SearchEntry`` row per contact instead of about 8.5
``SearchKey`` rows with two indexes each (docs/decisions/0005-search-index.md).

The database indexes the entries' words with SQL of its own, written here:

- SQLite: an FTS5 table ``contacts_searchentry_fts`` with the entries as external content,
  kept current by three triggers on ``contacts_searchentry``. A later migration that makes
  Django rebuild that table (SQLite alters a table by copying it) drops the triggers with it,
  and must create them again and run ``INSERT INTO contacts_searchentry_fts(contacts_searchentry_fts)
  VALUES ('rebuild')``.
- PostgreSQL: a generated ``tsvector`` column ``doc`` and a GIN index on it: name words with
  weight A, company words B (both with positions, for phrases), each email as one lexeme
  "@…", each phone as "#" and its reversed digits. The markers keep a name's prefix from
  matching an email or a phone: PostgreSQL drops weights of lexemes without positions, and a
  phrase whose prefix also matches a lexeme without positions does not match at all. Only
  built-in functions: no extension (pg_trgm would need superuser to install).

Existing contacts get their entries from their current name, emails, phones and companies.
"""

import django.db.models.deletion
from django.db import migrations, models

from danhba.core.normalize import fold_words

SQLITE = [
    "CREATE VIRTUAL TABLE contacts_searchentry_fts USING fts5(name, company, email, phone, "
    "content='contacts_searchentry', content_rowid='contact_id', "
    "tokenize=\"unicode61 tokenchars '@._+-'\", prefix='1 2', columnsize=0)",
    "CREATE TRIGGER contacts_searchentry_ai AFTER INSERT ON contacts_searchentry BEGIN "
    "INSERT INTO contacts_searchentry_fts(rowid, name, company, email, phone) "
    "VALUES (new.contact_id, new.name, new.company, new.email, new.phone); END",
    "CREATE TRIGGER contacts_searchentry_ad AFTER DELETE ON contacts_searchentry BEGIN "
    "INSERT INTO contacts_searchentry_fts(contacts_searchentry_fts, rowid, name, company, email, phone) "
    "VALUES ('delete', old.contact_id, old.name, old.company, old.email, old.phone); END",
    "CREATE TRIGGER contacts_searchentry_au AFTER UPDATE ON contacts_searchentry BEGIN "
    "INSERT INTO contacts_searchentry_fts(contacts_searchentry_fts, rowid, name, company, email, phone) "
    "VALUES ('delete', old.contact_id, old.name, old.company, old.email, old.phone); "
    "INSERT INTO contacts_searchentry_fts(rowid, name, company, email, phone) "
    "VALUES (new.contact_id, new.name, new.company, new.email, new.phone); END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER contacts_searchentry_au",
    "DROP TRIGGER contacts_searchentry_ad",
    "DROP TRIGGER contacts_searchentry_ai",
    "DROP TABLE contacts_searchentry_fts",
]
POSTGRESQL = [
    "ALTER TABLE contacts_searchentry ADD COLUMN doc tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, name), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, company), 'B') || "
    "CASE WHEN email = '' THEN ''::tsvector "
    "ELSE array_to_tsvector(string_to_array('@' || replace(email, ' ', ' @'), ' ')) END || "
    "CASE WHEN phone = '' THEN ''::tsvector "
    "ELSE array_to_tsvector(string_to_array('#' || replace(phone, ' ', ' #'), ' ')) END) STORED",
    "CREATE INDEX contacts_searchentry_doc ON contacts_searchentry USING gin (doc)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX contacts_searchentry_doc",
    "ALTER TABLE contacts_searchentry DROP COLUMN doc",
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


def _reversed_digits(e164):
    digits = "".join(ch for ch in e164 if ch.isdigit())
    if e164.startswith("+84"):
        digits = "0" + digits[2:]
    return digits[::-1]


def fill(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    ContactEmail = apps.get_model("contacts", "ContactEmail")
    ContactPhone = apps.get_model("contacts", "ContactPhone")
    ContactCompany = apps.get_model("contacts", "ContactCompany")
    SearchEntry = apps.get_model("contacts", "SearchEntry")
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        names = dict(Contact.objects.filter(pk__in=chunk).values_list("pk", "full_name"))
        texts = {cid: ([], [], []) for cid in names}
        for cid, email in ContactEmail.objects.filter(contact_id__in=chunk).values_list("contact_id", "email"):
            texts[cid][0].append(email.lower())
        for cid, e164 in ContactPhone.objects.filter(contact_id__in=chunk).values_list("contact_id", "e164"):
            texts[cid][1].append(_reversed_digits(e164))
        links = ContactCompany.objects.filter(contact_id__in=chunk).order_by("-is_primary", "pk")
        for cid, company in links.values_list("contact_id", "company__name"):
            texts[cid][2].extend(fold_words(company))
        SearchEntry.objects.bulk_create(
            [
                SearchEntry(
                    contact_id=cid,
                    name=" ".join(fold_words(name)),
                    company=" ".join(dict.fromkeys(texts[cid][2])),
                    email=" ".join(dict.fromkeys(e for e in texts[cid][0] if e and " " not in e)),
                    phone=" ".join(dict.fromkeys(d for d in texts[cid][1] if d)),
                )
                for cid, name in names.items()
            ]
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0009_exportjob")]

    operations = [
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                (
                    "contact",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="contacts.contact",
                    ),
                ),
                ("name", models.TextField(blank=True)),
                ("company", models.TextField(blank=True)),
                ("email", models.TextField(blank=True)),
                ("phone", models.TextField(blank=True)),
            ],
        ),
        migrations.CreateModel(
            name="SearchMatch",
            fields=[
                (
                    "contact",
                    models.OneToOneField(
                        db_column="rowid",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="contacts.contact",
                    ),
                ),
            ],
            options={"db_table": "contacts_searchentry_fts", "managed": False},
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.DeleteModel(name="SearchKey"),
    ]
