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
from etm_bridge.chain.state import State, StateView, TableStore
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.spv.kvstore import KeyValueStore
from etm_bridge.spv.relay_policy import RelayPolicy
from etm_bridge.spv.relay_types import CONFIG, relay_config, spv_call
from etm_bridge.spv.state_stores import ReadOnlyTableStore

from ..profile import MAX_HEADERS_PER_TX, RELAY_HEADERS, TICKER, TX_PROOF, TXS_TABLE, TYPES
from ..spv.header_relay import HandshakeRelay, StoredHeader
from ..spv.headers import HEADER_SIZE, params_for
from ..spv.inclusion import HnsTxProof, check_hns_proof
from .genesis import HEADERS, default_policy


def relay_and_depth(
    view: StateView, store: KeyValueStore | None = None
) -> tuple[HandshakeRelay, int]:
    cfg = relay_config(view, TICKER)
    relay = HandshakeRelay(store or ReadOnlyTableStore(view, HEADERS), params_for(cfg["network"]))
    return relay, int(cfg["min_confirmations"])


def hns_relay_of(view: StateView) -> HandshakeRelay:
    return relay_and_depth(view)[0]


def hns_policy_of(view: StateView) -> RelayPolicy:
    cfg = relay_config(view, TICKER)
    network = str(cfg["network"])
    return RelayPolicy.from_config(cfg, default_policy(network), network)


def relay_network(view: StateView) -> str | None:
    cfg = view.get_json(CONFIG, TICKER.encode())
    return None if cfg is None else str(cfg["network"])


def _stored_json(stored: StoredHeader) -> dict[str, Any]:
    return {
        "height": stored.height,
        "hash": stored.hash_hex,
        "chain_work": hex(stored.chain_work),
        "time": stored.header.time,
    }


def status(view: StateView) -> dict[str, Any] | None:
    """``/api/spv/hns``: network, checkpoint, tip, policy, forks (None: no relay)."""
    if view.get_json(CONFIG, TICKER.encode()) is None:
        return None
    relay, confirmations = relay_and_depth(view)
    tip = relay.tip()
    return {
        "network": relay.params.name,
        "checkpoint_height": relay.checkpoint_height,
        "tip": _stored_json(tip),
        "min_confirmations": confirmations,
        "policy": hns_policy_of(view).to_json(),
        "forks": [_stored_json(t) for t in relay.chain_tips() if t.hash != tip.hash],
    }


def best_hash(view: StateView, height: int) -> str | None:
    hash_ = hns_relay_of(view).best_hash_at(height)
    return None if hash_ is None else hash_.hex()


def decode_hns_headers(payload: bytes) -> list[bytes]:
    n = len(payload) // HEADER_SIZE
    if not payload or len(payload) % HEADER_SIZE or n > MAX_HEADERS_PER_TX:
        raise ValidationError(
            f"payload must be 1..{MAX_HEADERS_PER_TX} headers of {HEADER_SIZE} bytes"
        )
    return [payload[i : i + HEADER_SIZE] for i in range(0, len(payload), HEADER_SIZE)]


def _check_headers(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = relay_and_depth(view)
    spv_call(lambda: relay.validate_headers(headers, ctx.timestamp + ETM_EPOCH_UNIX))


def _apply_headers(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = relay_and_depth(state, TableStore(state, HEADERS))
    spv_call(lambda: relay.submit_headers(headers, ctx.timestamp + ETM_EPOCH_UNIX))


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
    record = view.get_json(TXS_TABLE, txid)
    if record is None:
        raise TxRejectedError("spv_tx_not_proven", f"no proof of Handshake tx {txid.hex()}")
    relay, confirmations = relay_and_depth(view)
    have = relay.confirmations(bytes.fromhex(record["block_hash"]))
    if have < confirmations:
        reason = "spv_not_in_best_chain" if have == 0 else "spv_insufficient_confirmations"
        raise TxRejectedError(reason, f"block {record['block_hash']} has {have} confirmations")
    return dict(record, confirmations=have)


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
