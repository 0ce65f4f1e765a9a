"""Pieces of forging a block that ``Chain.forge_next`` puts together (pure).

Order (the same as validation, ``rules.apply_block``): the forger proves its RANDAO reveal for the
block's round, applies the header's effects to a dry-run state (``open_block``: slot bookkeeping,
reveal, round close), selects mempool transactions on that state, appends one slashing
transaction per piece of known double-forging evidence (signed by the forger's own key as the
reporter, so the finder's share goes to it; skipped when it cannot pay the fee or the block is
full), builds the header and solves the hashing test. Only then does the forger ask its signing
guard (slashing protection) and sign.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import TxRejectedError
from . import vrf
from .address import address_hash
from .block import BlockHeader, payload_summary
from .evidence import DoubleForgingEvidence
from .keys import SigningKey
from .params import ChainParams
from .registry import Registry, TxContext
from .rounds import reveal_alpha
from .rules import Tip, apply_tx, open_block
from .state import State
from .tx import Tx
from .tx_slash import DOUBLE_FORGING_PROOF


def open_forged_block(
    state: State,
    params: ChainParams,
    key: SigningKey,
    height: int,
    prev_slot: int,
    slot: int,
    registry: Registry | None = None,
) -> bytes:
    """Prove the reveal for ``height``'s round, apply the header's effects (with ``registry``'s
    round hooks, as validation runs them); returns the reveal."""
    reveal = vrf.prove(key.seed, reveal_alpha(params.network_id, params.round_of(height)))
    beta = vrf.proof_to_hash(reveal)
    open_block(
        state, params, height, key.public_key, prev_slot, slot, beta,
        registry=registry, timestamp=params.slot_time(slot),
    )  # fmt: skip
    return reveal


def slash_tx(
    key: SigningKey, params: ChainParams, registry: Registry, nonce: int, ev: DoubleForgingEvidence
) -> Tx:
    """A ``double_forging_proof`` from ``key`` paying exactly the minimum fee."""
    payload = ev.encode()
    draft = Tx.create(key, network=params.network_id, type_id=DOUBLE_FORGING_PROOF, nonce=nonce,
                      fee=0, payload=payload)  # fmt: skip
    fee = (
        params.fee_base
        + params.fee_per_byte * draft.size
        + registry.type_of(DOUBLE_FORGING_PROOF).min_fee
    )
    return Tx.create(key, network=params.network_id, type_id=DOUBLE_FORGING_PROOF, nonce=nonce,
                     fee=fee, payload=payload)  # fmt: skip


def append_evidence_txs(
    state: State,
    registry: Registry,
    ctx: TxContext,
    key: SigningKey,
    evidence: Iterable[DoubleForgingEvidence],
    txs: list[Tx],
) -> int:
    """Append to ``txs`` a slashing tx per piece of evidence that applies on ``state`` (a dry
    run, left applied); returns the amount they move (0: slashing moves no transfer amount)."""
    params, amount = ctx.params, 0
    size = sum(tx.size for tx in txs)
    for ev in evidence:
        if len(txs) >= params.max_txs_per_block:
            break
        nonce = state.account(address_hash(key.public_key)).nonce
        tx = slash_tx(key, params, registry, nonce, ev)
        if size + tx.size > params.max_block_payload_bytes:
            break
        try:
            amount += apply_tx(state, registry, tx, ctx, verify_sig=False)
        except TxRejectedError:
            continue  # already slashed on this branch, or the forger cannot pay the fee yet
        txs.append(tx)
        size += tx.size
    return amount


def forged_header(
    params: ChainParams, tip: Tip, slot: int, generator: bytes, reveal: bytes, txs: list[Tx],
    total_amount: int,
) -> BlockHeader:  # fmt: skip
    """The complete unsigned header for ``txs`` at ``slot``, its hashing test solved."""
    length, payload_hash = payload_summary(txs)
    return BlockHeader(
        version=params.block_version, network=params.network_id,
        timestamp=params.slot_time(slot), height=tip.height + 1, previous_block=tip.block_id,
        number_of_transactions=len(txs), total_amount=total_amount,
        total_fee=sum(tx.fee for tx in txs), reward=params.block_reward, payload_length=length,
        payload_hash=payload_hash, generator_public_key=generator, reveal=reveal,
    ).solve(params.hash_target)  # fmt: skip
