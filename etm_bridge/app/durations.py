"""How a duration reads for people: the one place a number of seconds becomes words (pure).

:func:`duration_text` is what every verb and watcher line shows (``"45 min"``, ``"2 h 0 min"``,
``"11 h 50 min"``); the caller adds its own qualifier (``about``, ``~``). Minutes round up, so
a wait that has not ended never reads ``0 min``.
"""

from __future__ import annotations


def duration_text(seconds: int) -> str:
    """``"N min"`` under an hour, else ``"H h M min"`` (minutes rounded up; ``0`` and less read
    ``"0 min"``)."""
    hours, minutes = divmod(max(0, -(-seconds // 60)), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
