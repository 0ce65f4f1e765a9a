"""Transaction type 5, ``double_forging_proof``: anyone proves a delegate signed two blocks for
one slot, and the delegate's deposit is slashed.

Payload: two signed block headers (``evidence.DoubleForgingEvidence``, ``block.HEADER_BYTES``
each). Valid when ``evidence.check_pair`` accepts them (same generator key, same slot, different
ids, both headers for this network, both signatures valid in this chain's signing domain: the
genesis id recorded in state, ``genesis.signing_genesis_id``) and the generator is a registered, not
yet slashed delegate. Effect: the delegate is marked slashed (never elected again, cannot receive
new votes) and its deposit leaves the ``delegate_deposits`` escrow: ``deposit // 10`` goes to the
reporter (the tx sender) as a finder's reward, the rest is burnt (supply shrinks). The headers need
not be on our chain: two signatures for one slot are the offence. Forging nodes include this
transaction on their own for the evidence they know (``Chain.forge_next``), signed by the forger.
"""

from __future__ import annotations

from typing import Any

from ..errors import EvidenceRejectedError, TxRejectedError
from .evidence import DoubleForgingEvidence, check_pair
from .genesis import signing_genesis_id
from .registry import Registry, TxContext, TxType
from .state import State, StateView
from .tx import Tx
from .tx_delegates import DELEGATES, DEPOSIT_ESCROW, delegate_record

DOUBLE_FORGING_PROOF = 5
FINDER_SHARE_DIVISOR = 10
#: The payload type (kept under its old name for callers of this module).
DoubleForgingProof = DoubleForgingEvidence


def decode(payload: bytes) -> DoubleForgingEvidence:
    return DoubleForgingEvidence.decode(payload)


def check(view: StateView, tx: Tx, p: DoubleForgingEvidence, ctx: TxContext) -> None:
    try:
        check_pair(ctx.params, signing_genesis_id(view), p.first, p.second)
    except EvidenceRejectedError as exc:
        raise TxRejectedError(exc.reason, exc.detail) from None
    record = delegate_record(view, p.offender)
    if record is None:
        raise TxRejectedError("unknown_delegate", "the generator is not a registered delegate")
    if record["slashed"]:
        raise TxRejectedError("already_slashed", f"delegate {record['name']!r} is already slashed")


def apply(state: State, tx: Tx, p: DoubleForgingEvidence, ctx: TxContext) -> None:
    key = p.first.generator_public_key
    record = dict(state.get_json(DELEGATES, key))
    deposit = int(record["deposit"])
    finder = deposit // FINDER_SHARE_DIVISOR
    state.from_escrow(DEPOSIT_ESCROW, tx.sender, finder)
    state.burn_escrow(DEPOSIT_ESCROW, deposit - finder)
    record.update(slashed=True, deposit=0)
    state.put_json(DELEGATES, key, record)


def describe(p: DoubleForgingEvidence) -> dict[str, Any]:
    return {
        "generatorPublicKey": p.first.generator_public_key.hex(),
        "blocks": [p.first.id.hex(), p.second.id.hex()],
    }


TYPE: TxType[DoubleForgingEvidence] = TxType(
    DOUBLE_FORGING_PROOF, "double_forging_proof", decode, check, apply, describe=describe
)


def register(registry: Registry) -> None:
    registry.add_type(TYPE)
