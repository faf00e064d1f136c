"""The demo's workflow (``danhba demo``; ``core/demo.py``): the "Hot lead → alert sales"
playbook installed on the demo's "Engagement" model and active, the hottest demo contacts
enrolled (a bulk enrolment), and the engine run once at the demo's time, so the workflow's page
shows per-step counts and each enrolment its path (owner, call task, notice, tag)."""

from __future__ import annotations

from danhba.automation.models import Enrolment, Workflow
from danhba.core.actor import Actor
from danhba.core.demo import DemoRun

# The contacts enrolled: the hot ones, else the highest scores (a small demo has few hot).
ENROL = 25


def _contact_rows() -> dict[str, int]:
    from danhba.contacts.models import ContactTag, TimelineEntry

    return {"tag_links": ContactTag.objects.count(), "timeline_entries": TimelineEntry.objects.count()}


def demo_automation_part(run: DemoRun) -> None:
    from danhba.automation.services import engine
    from danhba.automation.services.enrolments import enrol_many
    from danhba.automation.services.playbooks import playbook_install
    from danhba.automation.services.workflows import workflow_set_status
    from danhba.scoring.models import ContactScore, ScoreModel

    model = ScoreModel.objects.filter(name="Engagement", is_active=True).first()
    if model is None or Workflow.objects.exists() or not run.contact_ids:
        return
    actor = Actor.system("cli")
    workflow = playbook_install(actor=actor, key="hot_lead", options={"score_model": model.pk}).workflow
    workflow = workflow_set_status(actor=actor, workflow=workflow, status=Workflow.Status.ACTIVE)
    scores = ContactScore.objects.filter(model=model, contact_id__in=run.contact_ids)
    hottest = list(scores.order_by("-total", "contact_id").values_list("contact_id", flat=True)[:ENROL])
    enrol_many(workflow=workflow, contact_ids=hottest, via="demo", now=run.now)
    before = _contact_rows()
    engine.run_due(now=run.now)
    # The summary's counts of the contacts part say what the demo holds: the workflow's tags
    # and timeline entries are added to them.
    for key, n in _contact_rows().items():
        count = run.counts.get(key)
        if isinstance(count, int):
            run.counts[key] = count + n - before[key]
    run.counts["workflows"] = 1
    run.counts["enrolments"] = Enrolment.objects.filter(workflow=workflow).count()
