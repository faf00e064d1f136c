"""Writes of the messaging app, by topic: ``templates`` (email templates, the test send),
``campaigns`` (audience, schedule, pause/resume/cancel, suppression, unsubscribe),
``sending`` (the send job) and ``domains`` (sending domains: add, check, delete)."""
