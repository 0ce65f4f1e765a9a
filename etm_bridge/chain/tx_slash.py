"""Transaction type 5, ``double_forging_proof``: anyone proves a delegate signed two blocks for
one slot, and the delegate's deposit is slashed.

Payload: two signed block headers (``block.HEADER_BYTES`` each). Valid when both signatures verify
under the same generator key, both timestamps fall in the same slot, the ids differ and the
generator is a registered, not yet slashed delegate. Effect: the delegate is marked slashed (never
elected again, cannot receive new votes) and its deposit leaves the ``delegate_deposits`` escrow:
``deposit // 10`` goes to the reporter as a finder's reward, the rest is burnt (supply shrinks).
The headers need not be on our chain: two signatures for one slot are the offence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TxRejectedError, ValidationError
from .block import HEADER_BYTES, BlockHeader
from .registry import Registry, TxContext, TxType
from .state import State, StateView
from .tx import Tx
from .tx_delegates import DELEGATES, DEPOSIT_ESCROW, delegate_record

DOUBLE_FORGING_PROOF = 5
FINDER_SHARE_DIVISOR = 10


@dataclass(frozen=True)
class DoubleForgingProof:
    first: BlockHeader
    second: BlockHeader

    def encode(self) -> bytes:
        return self.first.encoded + self.second.encoded


def decode(payload: bytes) -> DoubleForgingProof:
    if len(payload) != 2 * HEADER_BYTES:
        raise ValidationError(f"proof must be two {HEADER_BYTES}-byte headers, got {len(payload)}")
    return DoubleForgingProof(
        BlockHeader.decode(payload[:HEADER_BYTES]), BlockHeader.decode(payload[HEADER_BYTES:])
    )


def check(view: StateView, tx: Tx, p: DoubleForgingProof, ctx: TxContext) -> None:
    a, b = p.first, p.second
    if a.id == b.id:
        raise TxRejectedError("not_double_forging", "the two headers are the same block")
    if a.generator_public_key != b.generator_public_key:
        raise TxRejectedError("not_double_forging", "the headers have different generators")
    slot_a, slot_b = ctx.params.slot_of(a.timestamp), ctx.params.slot_of(b.timestamp)
    if slot_a != slot_b:
        raise TxRejectedError("not_double_forging", f"headers are in slots {slot_a} and {slot_b}")
    if not (a.signature_ok() and b.signature_ok()):
        raise TxRejectedError("bad_signature", "a header's block signature does not verify")
    record = delegate_record(view, a.generator_public_key)
    if record is None:
        raise TxRejectedError("unknown_delegate", "the generator is not a registered delegate")
    if record["slashed"]:
        raise TxRejectedError("already_slashed", f"delegate {record['name']!r} is already slashed")


def apply(state: State, tx: Tx, p: DoubleForgingProof, ctx: TxContext) -> None:
    key = p.first.generator_public_key
    record = dict(state.get_json(DELEGATES, key))
    deposit = int(record["deposit"])
    finder = deposit // FINDER_SHARE_DIVISOR
    state.from_escrow(DEPOSIT_ESCROW, tx.sender, finder)
    state.burn_escrow(DEPOSIT_ESCROW, deposit - finder)
    record.update(slashed=True, deposit=0)
    state.put_json(DELEGATES, key, record)


def describe(p: DoubleForgingProof) -> dict[str, Any]:
    return {
        "generatorPublicKey": p.first.generator_public_key.hex(),
        "blocks": [p.first.id.hex(), p.second.id.hex()],
    }


TYPE: TxType[DoubleForgingProof] = TxType(
    DOUBLE_FORGING_PROOF, "double_forging_proof", decode, check, apply, describe=describe
)


def register(registry: Registry) -> None:
    registry.add_type(TYPE)
