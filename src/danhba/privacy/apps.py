from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "danhba.privacy"
    label = "privacy"

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.extensions import CONTACT_PANELS, MERGE_TABLES, MergeTable, Panel
        from danhba.contacts.views.settings import SETTINGS_LISTS, SETTINGS_TABS, ChoiceKind, is_admin
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.privacy import merging
        from danhba.privacy.demo import demo_consent_load
        from danhba.privacy.forms import PurposeForm
        from danhba.privacy.models import ConsentPurpose
        from danhba.privacy.purposes import consent_purpose_save
        from danhba.privacy.views import consent_panel

        # A merge of contacts: the ledger stays as it is, the survivor takes the stricter status.
        MERGE_TABLES.add("privacy.consentrecord", MergeTable(strategy="keep"))
        MERGE_TABLES.add(
            "privacy.consentstate", MergeTable(before=merging.consents_merge, undone=merging.consents_unmerge)
        )
        CONTACT_PANELS.add("consent", Panel("privacy/_consent_panel.html", consent_panel, "side"), position=10)
        # The audit log's consent rows (their "purpose: status" label: contacts.audit_display).
        consent_keys = {"purpose": _("consent purpose"), "consent_records": _("consent statements")}
        AUDIT_TYPES.add("consent", AuditType(model="privacy.ConsentRecord", keys=consent_keys))
        AUDIT_TYPES.add("consent_purpose", AuditType(model="privacy.ConsentPurpose"))
        # Consent purposes are edited on the settings page, in a tab of their own.
        SETTINGS_TABS.add("purposes", (_("Consent purposes"), is_admin), position=40)
        SETTINGS_LISTS.add(
            "purposes",
            ChoiceKind(
                slug="purposes",
                tab="purposes",
                title=_("Consent purposes"),
                model=ConsentPurpose,
                form=PurposeForm,
                save=lambda actor, item, data: consent_purpose_save(actor=actor, purpose=item, data=data),
                counts_contacts=False,
            ),
        )
        demo_part_add(
            "consent", DemoPart(floor=4, load=demo_consent_load, labels=(("consent_records", "consent records"),))
        )
