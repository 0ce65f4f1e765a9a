"""The ETM central chain: pure rules (keys, addresses, transactions, the registry of transaction
types, blocks, state transition, rounds) with no I/O. Storage is ``etm_bridge.store``; the
consensus math is ``etm_bridge.chain.consensus``; ``docs/chain.md`` documents the formats and the
public API (``etm_bridge.chain.ledger.Chain``).
"""
