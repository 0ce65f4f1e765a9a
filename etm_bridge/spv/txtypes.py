"""ETM transaction types that put the SPV relays on chain (registry plug-in, ids 101-112).

``register(registry)`` declares the state tables and four types:

* 101 ``btc_relay_headers``: payload = 1..2000 raw 80-byte headers concatenated; anyone may
  relay. Validated against ``spv_btc_headers`` with the ETM block time as "now"; stored as one
  batch of state writes (committed with the block).
* 102 ``btc_tx_proof``: payload = :meth:`.inclusion.BitcoinTxProof.encode`. Verified against the
  relay's best chain and the configured confirmations; records the transaction under its txid
  in ``spv_btc_txs`` (block, height, index, outputs).
* 111 ``eth_relay_headers``: payload = RLP list of header RLPs, from a trusted relayer only
  (see :mod:`.eth_relay` for why).
* 112 ``eth_receipt_proof``: payload = RLP ``[block_hash, index, [proof nodes]]``; records the
  receipt's status and logs in ``spv_eth_receipts`` under ``block_hash || index u32``.

A record is evidence at the time it was made: consumers (e.g. an HTLC claim) must call
:func:`proven_btc_tx` / :func:`proven_eth_receipt`, which re-check that the block is *still*
in the best chain with enough confirmations. Relays are initialised from the genesis config by
:func:`.genesis.initialise_relays` (checkpoints are genesis state, not something a tx may set).
Rejections are :class:`~etm_bridge.errors.TxRejectedError` with reason ``spv_<rule>``, e.g.
``spv_high_hash``, ``spv_not_in_best_chain``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import rlp

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chain.registry import Registry, TxContext, TxType
from etm_bridge.chain.state import State, StateView, TableSpec, TableStore
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint, StoredHeader
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay, check_eth_receipt
from etm_bridge.chains.ethereum.spv.headers import ETH_NETWORKS
from etm_bridge.errors import SpvRejectedError, TxRejectedError, ValidationError
from etm_bridge.spv.genesis import (
    BTC_HEADERS,
    CONFIG,
    DEV_KEY,
    DEV_NETWORKS,
    ETH_HEADERS,
    SpvGenesis,
    initialise_relays,
)
from etm_bridge.spv.kvstore import KeyValueStore, MemoryKeyValueStore
from etm_bridge.spv.relay_policy import RelayPolicy

BTC_TXS, ETH_RECEIPTS = "spv_btc_txs", "spv_eth_receipts"
BTC_RELAY_HEADERS, BTC_TX_PROOF, ETH_RELAY_HEADERS, ETH_RECEIPT_PROOF = 101, 102, 111, 112
MAX_HEADERS_PER_TX = 2000
MAX_ETH_HEADERS_PER_TX = 256
#: A receipts-trie proof is one node per nibble of ``rlp(index)`` at most (under 10); the cap
#: only keeps a hostile payload from holding a megabyte of one-byte "nodes".
MAX_RECEIPT_PROOF_NODES = 64
T = TypeVar("T")


class _ViewStore:
    """A read-only KeyValueStore over a StateView table (for ``check``)."""

    def __init__(self, view: StateView, table: str) -> None:
        self._view, self._table = view, table

    def get(self, key: bytes) -> bytes | None:
        return self._view.get(self._table, key)

    def put(self, key: bytes, value: bytes) -> None:
        raise ValidationError("check() may not write relay state")

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        raise ValidationError("check() may not write relay state")


def _config(view: StateView, chain: str) -> dict[str, Any]:
    cfg = view.get_json(CONFIG, chain.encode())
    if cfg is None:
        raise TxRejectedError("spv_relay_not_initialised", f"no {chain} relay in this chain")
    return dict(cfg)


def _spv(call: Callable[[], T]) -> T:
    """Run an SPV check, turning its rule name into a transaction rejection reason."""
    try:
        return call()
    except SpvRejectedError as exc:
        raise TxRejectedError("spv_" + exc.reason.replace("-", "_"), str(exc)) from None


def _btc_relay(view: StateView, store: KeyValueStore | None = None) -> tuple[BitcoinRelay, int]:
    cfg = _config(view, "btc")
    relay = BitcoinRelay(store or _ViewStore(view, BTC_HEADERS), params_for(cfg["network"]))
    return relay, int(cfg["min_confirmations"])


def _eth_relay(view: StateView, store: KeyValueStore | None = None) -> tuple[EthRelay, int]:
    cfg = _config(view, "eth")
    relay = EthRelay(store or _ViewStore(view, ETH_HEADERS), ETH_NETWORKS[cfg["chain"]])
    return relay, int(cfg["min_confirmations"])


def btc_relay_of(view: StateView) -> BitcoinRelay:
    """The chain's Bitcoin relay, read-only over ``view`` (raises spv_relay_not_initialised)."""
    return _btc_relay(view)[0]


def eth_relay_of(view: StateView) -> EthRelay:
    """The chain's Ethereum relay, read-only over ``view``."""
    return _eth_relay(view)[0]


def btc_policy_of(view: StateView) -> RelayPolicy:
    """The Bitcoin relay's :class:`RelayPolicy` (raises spv_relay_not_initialised)."""
    cfg = _config(view, "btc")
    return RelayPolicy.from_config(cfg, str(cfg["network"]))


def eth_policy_of(view: StateView) -> RelayPolicy:
    """The Ethereum relay's :class:`RelayPolicy`."""
    cfg = _config(view, "eth")
    return RelayPolicy.from_config(cfg, str(cfg["chain"]))


def relay_network(view: StateView, chain: str) -> str | None:
    """The network of the ``chain`` (``btc`` / ``eth``) relay, None if it has none (yet)."""
    cfg = view.get_json(CONFIG, chain.encode())
    if cfg is None:
        return None
    return str(cfg["network"] if chain == "btc" else cfg["chain"])


#: Plug-ins that start a Bitcoin relay lazily (at the regtest genesis, on the first header batch).
LAZY_REGTEST_PLUGINS = frozenset({"etm_bridge.spv.btc_regtest", "etm_bridge.node.spv_plugin"})


def require_pool_network(view: StateView, chain: str, ctx: TxContext) -> None:
    """Refuse (``dev_network_pool``) a pool whose relay is a development network (regtest,
    testnet3/testnet4, anvil: :data:`~.genesis.DEV_NETWORKS`), including the regtest relay a
    ``btc_regtest`` chain starts with its first header batch, unless the genesis sets the
    development flag ``allow_dev_pools``: a regtest header costs about two hashes, a testnet
    minimum-difficulty header 2^32, so anyone could prove a lock that never existed. A chain with no
    relay for ``chain`` at all can prove nothing on it; its pools are harmless and allowed."""
    network = relay_network(view, chain)
    if network is None and chain == "btc" and LAZY_REGTEST_PLUGINS & set(ctx.params.tx_plugins):
        network = "regtest"
    if network is None or network not in DEV_NETWORKS:
        return
    dev = view.get_json(CONFIG, DEV_KEY) or {}
    if dev.get("pools") is True:
        return
    raise TxRejectedError(
        "dev_network_pool",
        f"this chain's {chain} relay is a {network} relay: its headers are forgeable, so pools "
        "on it are refused unless the genesis sets the development flag allow_dev_pools (node init "
        "--dev-pools; never on a chain holding real value)",
    )


def eth_config(view: StateView) -> dict[str, Any]:
    """The chain's Ethereum SPV config (chain, confirmations, HTLC contract, pool vaults)."""
    return _config(view, "eth")


def eth_htlc_contract(view: StateView) -> bytes:
    """The configured EtherSwapHTLC address (20 bytes)."""
    contract = bytes.fromhex(_config(view, "eth").get("htlc_contract", ""))
    if len(contract) != 20:
        raise TxRejectedError("spv_relay_not_initialised", "no Ethereum HTLC contract configured")
    return contract


def relay_status(view: StateView) -> dict[str, Any]:
    """Tips, heights, chain work and forks of the chain's relays (for the CLI and API)."""
    out: dict[str, Any] = {}
    if view.get_json(CONFIG, b"btc") is not None:
        relay, confirmations = _btc_relay(view)
        tips = relay.chain_tips()
        out["bitcoin"] = {
            "network": relay.params.name,
            "checkpoint_height": relay.checkpoint_height,
            "tip": _stored_json(relay.tip()),
            "min_confirmations": confirmations,
            "policy": btc_policy_of(view).to_json(),
            "forks": [_stored_json(t) for t in tips if t.hash_le != relay.tip().hash_le],
        }
    if view.get_json(CONFIG, b"eth") is not None:
        eth, eth_confirmations = _eth_relay(view)
        tip = eth.tip()
        out["ethereum"] = {
            "chain": eth.params.name,
            "checkpoint_number": eth.checkpoint_number,
            "tip": {"number": tip.number, "hash": tip.hash_hex, "timestamp": tip.timestamp},
            "min_confirmations": eth_confirmations,
            "policy": eth_policy_of(view).to_json(),
            "trusted_relayers": sorted(k.hex() for k in eth.relayers),
        }
    return out


def _stored_json(stored: StoredHeader) -> dict[str, Any]:
    return {
        "height": stored.height,
        "hash": stored.hash_hex,
        "chain_work": hex(stored.chain_work),
        "time": stored.header.time,
    }


# --- genesis ----------------------------------------------------------------------------------


# --- Bitcoin ----------------------------------------------------------------------------------


def decode_btc_headers(payload: bytes) -> list[bytes]:
    if not payload or len(payload) % 80 or len(payload) // 80 > MAX_HEADERS_PER_TX:
        raise ValidationError(f"payload must be 1..{MAX_HEADERS_PER_TX} headers of 80 bytes")
    return [payload[i : i + 80] for i in range(0, len(payload), 80)]


class _GenesisOverlay:
    """Read-only: a relay's genesis records first, then a (still empty) state table."""

    def __init__(self, first: MemoryKeyValueStore, then: KeyValueStore) -> None:
        self._first, self._then = first, then

    def get(self, key: bytes) -> bytes | None:
        value = self._first.get(key)
        return value if value is not None else self._then.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        raise ValidationError("check() may not write relay state")

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        raise ValidationError("check() may not write relay state")


def _btc_header_rules(default: str | None) -> tuple[Callable[..., None], Callable[..., None]]:
    """check/apply of ``btc_relay_headers``. With a ``default`` network, a chain whose genesis
    has no Bitcoin relay starts one at that network's genesis block on the first header batch
    (a constant checkpoint nobody chooses; see :mod:`.btc_regtest`)."""

    def check(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
        if default is not None and view.get_json(CONFIG, b"btc") is None:
            params = params_for(default)
            fresh = MemoryKeyValueStore()
            BitcoinRelay.initialise(fresh, params, Checkpoint.genesis(params))
            relay = BitcoinRelay(_GenesisOverlay(fresh, _ViewStore(view, BTC_HEADERS)), params)
        else:
            relay, _ = _btc_relay(view)
        _spv(lambda: relay.validate_headers(headers, ctx.timestamp + ETM_EPOCH_UNIX))

    def apply(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
        if default is not None and state.get_json(CONFIG, b"btc") is None:
            initialise_relays(state, SpvGenesis(btc_network=default))
        relay, _ = _btc_relay(state, TableStore(state, BTC_HEADERS))
        _spv(lambda: relay.submit_headers(headers, ctx.timestamp + ETM_EPOCH_UNIX))

    return check, apply


def _check_btc_proof(view: StateView, tx: Tx, proof: BitcoinTxProof, ctx: TxContext) -> None:
    relay, confirmations = _btc_relay(view)
    _spv(lambda: check_bitcoin_proof(relay, proof, confirmations))


def _apply_btc_proof(state: State, tx: Tx, proof: BitcoinTxProof, ctx: TxContext) -> None:
    relay, confirmations = _btc_relay(state)
    confirmed = _spv(lambda: check_bitcoin_proof(relay, proof, confirmations))
    record = {
        "block_hash": confirmed.block_hash_le[::-1].hex(),
        "height": confirmed.height,
        "index": proof.index,
        "outputs": [[o.value_sat, o.script_pubkey.hex()] for o in confirmed.tx.outputs],
    }
    state.put_json(BTC_TXS, confirmed.tx.txid_le, record)


def proven_btc_tx(view: StateView, txid_le: bytes) -> dict[str, Any]:
    """The recorded proof of ``txid_le``, re-checked against today's best chain."""
    record = view.get_json(BTC_TXS, txid_le)
    if record is None:
        raise TxRejectedError("spv_tx_not_proven", f"no proof of tx {txid_le[::-1].hex()}")
    relay, confirmations = _btc_relay(view)
    block = bytes.fromhex(record["block_hash"])[::-1]
    have = relay.confirmations(block)
    if have < confirmations:
        reason = "spv_not_in_best_chain" if have == 0 else "spv_insufficient_confirmations"
        raise TxRejectedError(reason, f"block {record['block_hash']} has {have} confirmations")
    return dict(record, confirmations=have)


# --- Ethereum ---------------------------------------------------------------------------------


def _rlp_items(payload: bytes, what: str, max_items: int) -> list[Any]:
    """The top-level RLP list of a payload, decoded in linear time with depth/item caps."""
    try:
        items = rlp_bounded.decode(payload, max_depth=2, max_items=max_items)
    except ValidationError as exc:
        raise ValidationError(f"{what} payload: {exc}") from None
    if not isinstance(items, list):
        raise ValidationError(f"{what} payload must be an RLP list")
    return items


def decode_eth_headers(payload: bytes) -> list[bytes]:
    items = _rlp_items(payload, "eth headers", 1 + MAX_ETH_HEADERS_PER_TX)
    if not 0 < len(items) <= MAX_ETH_HEADERS_PER_TX or not all(isinstance(i, bytes) for i in items):
        raise ValidationError(
            f"payload must be an RLP list of 1..{MAX_ETH_HEADERS_PER_TX} header RLPs"
        )
    return items


def _check_eth_headers(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = _eth_relay(view)
    _spv(lambda: relay.validate_headers(headers, tx.sender_public_key))


def _apply_eth_headers(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = _eth_relay(state, TableStore(state, ETH_HEADERS))
    _spv(lambda: relay.submit_headers(headers, tx.sender_public_key))


@dataclass(frozen=True)
class EthReceiptProof:
    block_hash: bytes
    index: int
    nodes: tuple[bytes, ...]

    def encode(self) -> bytes:
        return rlp.encode([self.block_hash, self.index, list(self.nodes)])


def decode_eth_receipt_proof(payload: bytes) -> EthReceiptProof:
    items = _rlp_items(payload, "eth receipt proof", 4 + MAX_RECEIPT_PROOF_NODES)
    if len(items) != 3 or not isinstance(items[2], list) or len(items[0]) != 32:
        raise ValidationError("payload must be RLP [block_hash32, index, [nodes]]")
    if not isinstance(items[0], bytes) or not isinstance(items[1], bytes):
        raise ValidationError("payload must be RLP [block_hash32, index, [nodes]]")
    if not all(isinstance(n, bytes) for n in items[2]) or len(items[1]) > 4:
        raise ValidationError("proof nodes must be byte strings and the index a u32")
    return EthReceiptProof(items[0], int.from_bytes(items[1], "big"), tuple(items[2]))


def _verified_receipt(view: StateView, proof: EthReceiptProof) -> Any:
    relay, confirmations = _eth_relay(view)
    return _spv(
        lambda: check_eth_receipt(relay, proof.block_hash, proof.index, proof.nodes, confirmations)
    )


def _check_eth_proof(view: StateView, tx: Tx, proof: EthReceiptProof, ctx: TxContext) -> None:
    _verified_receipt(view, proof)


def _apply_eth_proof(state: State, tx: Tx, proof: EthReceiptProof, ctx: TxContext) -> None:
    header, receipt = _verified_receipt(state, proof)
    logs = [
        [log.address.hex(), [t.hex() for t in log.topics], log.data.hex()] for log in receipt.logs
    ]
    record = {"number": header.number, "status": receipt.status, "logs": logs}
    state.put_json(ETH_RECEIPTS, proof.block_hash + proof.index.to_bytes(4, "big"), record)


def proven_eth_receipt(view: StateView, block_hash: bytes, index: int) -> dict[str, Any]:
    """The recorded receipt, re-checked against the relay's current best chain."""
    record = view.get_json(ETH_RECEIPTS, block_hash + index.to_bytes(4, "big"))
    if record is None:
        raise TxRejectedError("spv_receipt_not_proven", f"no proof of receipt {index}")
    relay, confirmations = _eth_relay(view)
    have = relay.confirmations(block_hash)
    if have < confirmations:
        reason = "spv_not_in_best_chain" if have == 0 else "spv_insufficient_confirmations"
        raise TxRejectedError(reason, f"block 0x{block_hash.hex()} has {have} confirmations")
    return dict(record, confirmations=have)


def _count(items: Sequence[Any]) -> dict[str, Any]:
    return {"headers": len(items)}


def register(registry: Registry, btc_default_network: str | None = None) -> None:
    """Declare the SPV tables and transaction types (the registry's plug-in entry point)."""
    check_btc_headers, apply_btc_headers = _btc_header_rules(btc_default_network)
    for name, doc in (
        (
            BTC_HEADERS,
            "Bitcoin relay key-value store (see etm_bridge.chains.bitcoin.spv.header_relay)",
        ),
        (
            ETH_HEADERS,
            "Ethereum relay key-value store (see etm_bridge.chains.ethereum.spv.header_relay)",
        ),
        (BTC_TXS, "txid_le -> proven Bitcoin tx (block, height, index, outputs)"),
        (ETH_RECEIPTS, "block_hash || index u32 -> proven receipt (status, logs)"),
        (CONFIG, "btc / eth -> relay network and confirmation policy"),
    ):
        registry.add_table(TableSpec(name, owner="spv", doc=doc))
    registry.add_type(TxType(BTC_RELAY_HEADERS, "btc_relay_headers", decode_btc_headers,
                             check_btc_headers, apply_btc_headers, describe=_count))  # fmt: skip
    registry.add_type(TxType(BTC_TX_PROOF, "btc_tx_proof", BitcoinTxProof.decode,
                             _check_btc_proof, _apply_btc_proof,
                             describe=lambda p: {"block_hash": p.block_hash_le[::-1].hex(),
                                                 "index": p.index}))  # fmt: skip
    registry.add_type(TxType(ETH_RELAY_HEADERS, "eth_relay_headers", decode_eth_headers,
                             _check_eth_headers, _apply_eth_headers, describe=_count))  # fmt: skip
    registry.add_type(TxType(ETH_RECEIPT_PROOF, "eth_receipt_proof", decode_eth_receipt_proof,
                             _check_eth_proof, _apply_eth_proof,
                             describe=lambda p: {"block_hash": "0x" + p.block_hash.hex(),
                                                 "index": p.index}))  # fmt: skip
