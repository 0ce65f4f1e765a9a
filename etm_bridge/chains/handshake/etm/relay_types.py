"""Handshake's relay as ETM transaction types 121 and 122 (its block is 120).

* 121 ``hns_relay_headers``: payload = 1..2000 raw 236-byte headers concatenated; anyone may
  relay. Validated against ``spv_hns_headers`` with the ETM block time as "now"; stored as one
  batch of state writes.
* 122 ``hns_tx_proof``: payload = :meth:`~..spv.inclusion.HnsTxProof.encode`. Verified against the
  relay's best chain and its confirmation floor; records the transaction under its txid in
  ``spv_hns_txs`` (block, height, index, outputs).

A record is evidence at the time it was made: :func:`proven_hns_tx` re-checks that the block is
*still* in the best chain with enough confirmations. The relay always comes from the genesis
section (no development autostart: ``node init --hns-network regtest`` starts it at the regtest
genesis). Rejections are ``TxRejectedError("spv_<rule>")``. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chain.registry import TxContext, TxType
from etm_bridge.chain.state import State, StateView
from etm_bridge.chain.tx import Tx
from etm_bridge.spv.relay_state import TreeRelayState, split_headers
from etm_bridge.spv.relay_types import spv_call

from ..profile import MAX_HEADERS_PER_TX, RELAY_HEADERS, TICKER, TX_PROOF, TXS_TABLE, TYPES
from ..spv.header_relay import HandshakeRelay
from ..spv.headers import HEADER_SIZE, params_for
from ..spv.inclusion import HnsTxProof, check_hns_proof
from .genesis import HEADERS, default_policy

#: The Handshake relay's place in state: its readers and header rules.
STATE = TreeRelayState(
    TICKER, HEADERS, lambda store, network: HandshakeRelay(store, params_for(network)),
    default_policy,
)  # fmt: skip
relay_and_depth = STATE.relay_and_depth
hns_relay_of = STATE.relay_of
hns_policy_of = STATE.policy_of
relay_network = STATE.network
#: ``/api/spv/hns``: network, checkpoint, tip, policy, forks (None: no relay).
status = STATE.status


def best_hash(view: StateView, height: int) -> str | None:
    hash_ = hns_relay_of(view).best_hash_at(height)
    return None if hash_ is None else hash_.hex()


def decode_hns_headers(payload: bytes) -> list[bytes]:
    return split_headers(payload, HEADER_SIZE, MAX_HEADERS_PER_TX)


def _check_headers(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    STATE.validate_headers(view, headers, ctx.timestamp + ETM_EPOCH_UNIX)


def _apply_headers(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    STATE.submit_headers(state, headers, ctx.timestamp + ETM_EPOCH_UNIX)


def _check_proof(view: StateView, tx: Tx, proof: HnsTxProof, ctx: TxContext) -> None:
    relay, confirmations = relay_and_depth(view)
    spv_call(lambda: check_hns_proof(relay, proof, confirmations))


def _apply_proof(state: State, tx: Tx, proof: HnsTxProof, ctx: TxContext) -> None:
    relay, confirmations = relay_and_depth(state)
    confirmed = spv_call(lambda: check_hns_proof(relay, proof, confirmations))
    record = {
        "block_hash": confirmed.block_hash.hex(),
        "height": confirmed.height,
        "index": proof.index,
        "outputs": [
            [o.value, o.address_version, o.address_hash.hex()] for o in confirmed.tx.outputs
        ],
    }
    state.put_json(TXS_TABLE, confirmed.tx.txid, record)


def proven_hns_tx(view: StateView, txid: bytes) -> dict[str, Any]:
    """The recorded proof of ``txid``, re-checked against today's best chain."""
    return STATE.proven(
        view, TXS_TABLE, txid, bytes.fromhex, f"no proof of Handshake tx {txid.hex()}"
    )


def _count(items: Sequence[Any]) -> dict[str, Any]:
    return {"headers": len(items)}


def tx_types(dev: bool) -> list[TxType[Any]]:
    """The relay's types (``dev`` changes nothing: the relay comes from the genesis)."""
    return [
        TxType(RELAY_HEADERS, TYPES[RELAY_HEADERS], decode_hns_headers, _check_headers,
               _apply_headers, describe=_count),
        TxType(TX_PROOF, TYPES[TX_PROOF], HnsTxProof.decode, _check_proof, _apply_proof,
               describe=lambda p: {"block_hash": p.block_hash.hex(), "index": p.index}),
    ]  # fmt: skip
