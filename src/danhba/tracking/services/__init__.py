"""Writes of the tracking app, one module per topic: event sources and their write keys
(``sources.py``), reading one Segment message (``messages.py``), storing events (``intake.py``)
and resolving who an event belongs to (``identity.py``).

The HTTP layer (``views/``) authenticates, decompresses and parses; everything about what a
message means is here, so the event API, the website snippet's endpoints and a replay command
share it.
"""
