from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "danhba.scoring"
    label = "scoring"
    verbose_name = _("Lead scoring")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.contacts.extensions import CONTACT_PANELS, Panel
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.scoring import demo, views
        from danhba.scoring.services import dirty

        # Scores follow every contact write whose reasons a model depends on (services/dirty.py).
        CONTACTS_CHANGED.connect(dirty.on_contacts_changed)
        from danhba.scoring.conditions import SCORE_CONDITION
        from danhba.segments.extensions import CONDITION_KINDS

        # Segments read scores through the condition kind "score" (scoring/conditions.py).
        CONDITION_KINDS.add("score", SCORE_CONDITION)
        demo_part_add(
            "scoring",
            DemoPart(
                floor=6,
                order=40,
                load=demo.demo_scoring_part,
                labels=(("score_models", "score models"), ("scores", "lead scores")),
            ),
        )
        # The contact page shows each score with its breakdown and history (views.score_panel).
        CONTACT_PANELS.add("scores", Panel("scoring/_score_panel.html", views.score_panel, "side"), position=5)
        AUDIT_TYPES.add("score_model", AuditType(model="scoring.ScoreModel"))
        AUDIT_TYPES.add("score_rule", AuditType(model="scoring.ScoreRule"))
        AUDIT_TYPES.add("score_adjustment", AuditType(model="scoring.ScoreAdjustment"))
