from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "danhba.scoring"
    label = "scoring"
    verbose_name = _("Lead scoring")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.scoring.services import dirty

        # Scores follow every contact write whose reasons a model depends on (services/dirty.py).
        CONTACTS_CHANGED.connect(dirty.on_contacts_changed)
        AUDIT_TYPES.add("score_model", AuditType(model="scoring.ScoreModel"))
        AUDIT_TYPES.add("score_rule", AuditType(model="scoring.ScoreRule"))
