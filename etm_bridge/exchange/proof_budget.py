"""The loss budget of the value-scaled depth, counted per foreign block (review a11b; consensus).

Whitepaper 3.1's value-scaled depth is the smallest z keeping the expected loss
``P(q, z) * amount`` within a relay's loss budget (:mod:`etm_bridge.spv.relay_policy`). What a
double spend takes back is everything proven from the block it reorganises away, so the amount
is the block's: counted per proof, an attacker split one large lock into many small ones in one
block (ten 1-coin locks, each at a proof-of-work mainnet's 6 confirmations instead of the 8 that
10 coins need: six times the budget; 100 coins split, 59 times). So the exchange keeps, per
asset and block, the total value its accepted proofs (swap-in locks, LP deposits, obligation
payments) took from that block (:data:`~.records.PROVEN_VALUE`, a big-endian integer), and a
chain's verifier whose relay has a value-scaled depth sizes the depth of a proof on ``that total
+ its own amount`` (:func:`value_at_risk`). Proofs whose record names no block are not counted
(the deposits and payments of a chain whose relayers are trusted and whose relay has no
value-scaled depth). Blocks hold independent totals: reversing locks in several blocks takes a
reorganisation as deep as the oldest of them, whose proof already had its own block's depth.
Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..chain.state import StateView
from . import records

if TYPE_CHECKING:  # plans records proofs through this module
    from .plans import TxPlan


def _key(asset: str, block_hash: bytes) -> bytes:
    return records.asset_key(asset, block_hash)


def proven_value(view: StateView, asset: str, block_hash: bytes) -> int:
    """The value of ``asset`` that accepted proofs took from block ``block_hash`` so far."""
    raw = view.get(records.PROVEN_VALUE, _key(asset, block_hash))
    return 0 if raw is None else int.from_bytes(raw, "big")


def value_at_risk(view: StateView, asset: str, block_hash: bytes, amount: int) -> int:
    """What a reorganisation of ``block_hash`` would take back once a proof of ``amount``
    from it is accepted: the amount a proof's value-scaled depth is sized on."""
    return proven_value(view, asset, block_hash) + amount


def add_proven(plan: TxPlan, view: StateView, asset: str, block_hash: bytes, amount: int) -> None:
    """Count an accepted proof of ``amount`` from ``block_hash`` (nothing without a block)."""
    if block_hash:
        total = value_at_risk(view, asset, block_hash, amount)
        plan.put_raw(records.PROVEN_VALUE, _key(asset, block_hash), total.to_bytes(32, "big"))
