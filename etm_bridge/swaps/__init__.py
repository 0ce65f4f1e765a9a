"""The swap engine: transition table (``fsm``), record (``model``), what the chains show
(``views``, ``observe``), events and policy (``events``, ``policy``), persistence (``store``) and
the loop that drives every swap (``watcher``). See ``docs/swaps.md``.

``fsm``, ``model``, ``views``, ``events``, ``policy`` and ``codec`` are pure (no I/O); a unit
test enforces it.
"""
