"""Writes of the messaging app, by topic: ``templates`` (email templates, the test send),
``campaigns`` (audience, schedule, pause/resume/cancel, suppression, unsubscribe) and
``sending`` (the send job)."""
