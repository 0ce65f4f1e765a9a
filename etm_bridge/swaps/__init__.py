"""The swap engine: its pure core (``swaps.core``: transition table, state specs, record, views,
events, policy) and its runtime (``swaps.runtime``: the database, observing the chains,
executing actions, the watcher loop, the pool operator's follower). See ``docs/swaps.md``.

``diagram`` renders the state diagrams of ``docs/swaps.md`` from the table.
"""
