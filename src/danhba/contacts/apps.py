from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "danhba.contacts"
    label = "contacts"

    def ready(self) -> None:
        from danhba.accounts.hooks import HIDDEN_FIELDS, SENSITIVE_FIELDS
        from danhba.audit.display import AUDIT_TYPES, AUDIT_VISIBLE, AUDIT_VOCABULARY
        from danhba.contacts import demo, merging
        from danhba.contacts.audit_display import ACCOUNT_TYPES, CONTACT_TYPES, AuditVocabulary, audit_visible_rows
        from danhba.contacts.extensions import MERGE_TABLES, MergeTable
        from danhba.contacts.selectors import hidden_custom_fields, sensitive_custom_field_choices
        from danhba.core.demo import DemoPart, demo_part_add

        # Roles (accounts) can be denied the custom fields marked sensitive.
        HIDDEN_FIELDS.connect(hidden_custom_fields)
        SENSITIVE_FIELDS.connect(sensitive_custom_field_choices)
        # The audit log (below contacts) learns from contacts how to name fields and values, and
        # which rows are about contacts a reader may not open.
        AUDIT_VOCABULARY.connect(AuditVocabulary)
        AUDIT_VISIBLE.connect(audit_visible_rows)
        for object_type, described in {**CONTACT_TYPES, **ACCOUNT_TYPES}.items():
            AUDIT_TYPES.add(object_type, described)
        # A merge of contacts moves emails and phones; each contact's primary follows its columns.
        MERGE_TABLES.add("contacts.contactemail", MergeTable(after=merging.after_merge, undone=merging.after_undo))
        # People, companies, identities, tags, timeline and the demo users of `danhba demo`.
        demo_part_add(
            "contacts",
            DemoPart(
                floor=3, load=demo.demo_contacts_load, present=demo.demo_contacts_present, labels=demo.DEMO_LABELS
            ),
        )
