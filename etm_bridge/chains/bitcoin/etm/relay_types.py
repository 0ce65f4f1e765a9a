"""Bitcoin's relay as ETM transaction types 101 and 102 (its block is 100).

* 101 ``btc_relay_headers``: payload = 1..2000 raw 80-byte headers concatenated; anyone may
  relay. Validated against ``spv_btc_headers`` with the ETM block time as "now"; stored as one
  batch of state writes (committed with the block).
* 102 ``btc_tx_proof``: payload = :meth:`~..spv.inclusion.BitcoinTxProof.encode`. Verified
  against the relay's best chain and the configured confirmations; records the transaction
  under its txid in ``spv_btc_txs`` (block, height, index, outputs).

A record is evidence at the time it was made: consumers must call :func:`proven_btc_tx`, which
re-checks that the block is *still* in the best chain with enough confirmations. The relay is
initialised from the genesis (:mod:`.genesis`); on a development chain (``tx_types(dev=True)``)
whose genesis configures none, the first header batch starts it at the regtest genesis block
(a constant, so no transaction chooses the checkpoint). Rejections are
:class:`~etm_bridge.errors.TxRejectedError` with reason ``spv_<rule>``, e.g. ``spv_high_hash``,
``spv_not_in_best_chain``. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chain.registry import TxContext, TxType
from etm_bridge.chain.state import State, StateView
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.etm.genesis import (
    HEADERS,
    TICKER,
    BtcRelayGenesis,
    default_policy,
    initialise,
)
from etm_bridge.chains.bitcoin.profile import RELAY_HEADERS, TX_PROOF, TXS_TABLE, TYPES
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.spv.relay_state import TreeRelayState, split_headers
from etm_bridge.spv.relay_types import CONFIG, spv_call
from etm_bridge.spv.state_stores import GenesisOverlayStore, ReadOnlyTableStore

TXS = TXS_TABLE
BTC_RELAY_HEADERS, BTC_TX_PROOF = RELAY_HEADERS, TX_PROOF
BTC_HEADERS, BTC_TXS = HEADERS, TXS
MAX_HEADERS_PER_TX = 2000
#: The network a development chain's relay starts on (its genesis block) with its first batch.
DEV_AUTOSTART = "regtest"


#: The Bitcoin relay's place in state: its readers and header rules.
STATE = TreeRelayState(
    TICKER, HEADERS, lambda store, network: BitcoinRelay(store, params_for(network)), default_policy
)
relay_and_depth = STATE.relay_and_depth
#: The chain's Bitcoin relay, read-only over a view (raises spv_relay_not_initialised).
btc_relay_of = STATE.relay_of
#: The Bitcoin relay's :class:`RelayPolicy` (raises spv_relay_not_initialised).
btc_policy_of = STATE.policy_of
#: The Bitcoin relay's network, None if the chain has none (yet).
relay_network = STATE.network
#: ``/api/spv/btc``: network, checkpoint, tip, policy, forks (None: no relay yet).
status = STATE.status


def best_hash(view: StateView, height: int) -> str | None:
    """The relay's best-chain block hash at ``height`` in display order (None: none there)."""
    hash_le = btc_relay_of(view).best_hash_at(height)
    return None if hash_le is None else hash_le[::-1].hex()


def decode_btc_headers(payload: bytes) -> list[bytes]:
    return split_headers(payload, 80, MAX_HEADERS_PER_TX)


def _header_rules(default: str | None) -> tuple[Callable[..., None], Callable[..., None]]:
    """check/apply of ``btc_relay_headers``. With a ``default`` network, a chain whose genesis
    has no Bitcoin relay starts one at that network's genesis block on the first header batch
    (a constant checkpoint nobody chooses)."""

    def check(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
        if default is not None and view.get_json(CONFIG, TICKER.encode()) is None:
            params = params_for(default)
            fresh = MemoryKeyValueStore()
            BitcoinRelay.initialise(fresh, params, Checkpoint.genesis(params))
            store = GenesisOverlayStore(fresh, ReadOnlyTableStore(view, HEADERS))
            relay = BitcoinRelay(store, params)
            spv_call(lambda: relay.validate_headers(headers, ctx.timestamp + ETM_EPOCH_UNIX))
        else:
            STATE.validate_headers(view, headers, ctx.timestamp + ETM_EPOCH_UNIX)

    def apply(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
        if default is not None and state.get_json(CONFIG, TICKER.encode()) is None:
            initialise(state, BtcRelayGenesis(network=default))
        STATE.submit_headers(state, headers, ctx.timestamp + ETM_EPOCH_UNIX)

    return check, apply


def _check_proof(view: StateView, tx: Tx, proof: BitcoinTxProof, ctx: TxContext) -> None:
    relay, confirmations = relay_and_depth(view)
    spv_call(lambda: check_bitcoin_proof(relay, proof, confirmations))


def _apply_proof(state: State, tx: Tx, proof: BitcoinTxProof, ctx: TxContext) -> None:
    relay, confirmations = relay_and_depth(state)
    confirmed = spv_call(lambda: check_bitcoin_proof(relay, proof, confirmations))
    record = {
        "block_hash": confirmed.block_hash_le[::-1].hex(),
        "height": confirmed.height,
        "index": proof.index,
        "outputs": [[o.value_sat, o.script_pubkey.hex()] for o in confirmed.tx.outputs],
    }
    state.put_json(TXS, confirmed.tx.txid_le, record)


def proven_btc_tx(view: StateView, txid_le: bytes) -> dict[str, Any]:
    """The recorded proof of ``txid_le``, re-checked against today's best chain."""
    return STATE.proven(
        view, TXS, txid_le, lambda hash_hex: bytes.fromhex(hash_hex)[::-1],
        f"no proof of tx {txid_le[::-1].hex()}",
    )  # fmt: skip


def _count(items: Sequence[Any]) -> dict[str, Any]:
    return {"headers": len(items)}


def tx_types(dev: bool) -> list[TxType[Any]]:
    """The relay's types; ``dev``: the first header batch starts a missing relay (regtest)."""
    check_headers, apply_headers = _header_rules(DEV_AUTOSTART if dev else None)
    return [
        TxType(BTC_RELAY_HEADERS, TYPES[BTC_RELAY_HEADERS], decode_btc_headers, check_headers,
               apply_headers, describe=_count),
        TxType(BTC_TX_PROOF, TYPES[BTC_TX_PROOF], BitcoinTxProof.decode, _check_proof,
               _apply_proof, describe=lambda p: {"block_hash": p.block_hash_le[::-1].hex(),
                                                  "index": p.index}),
    ]  # fmt: skip
