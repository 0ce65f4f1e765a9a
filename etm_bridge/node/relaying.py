"""Feeding another chain's evidence to an ETM node through its HTTP API (no database access).

* :func:`sign_and_submit` signs one ETM transaction with the account's next nonce, submits it and
  (by default) waits until it is in a block.
* :func:`relay_missing_headers` compares a node's best chain (any
  :class:`~etm_bridge.adapter.ChainAdapter`: ``tip()`` and ``headers()``) with the ETM chain's
  Bitcoin or Ethereum relay (``/api/spv/{btc,eth}/best/{height}``), finds the fork point and
  sends the headers after it as ``btc_relay_headers`` (anyone may relay) or
  ``eth_relay_headers`` (trusted relayers only) transactions. A Bitcoin relay not initialised
  yet (its ``dev_autostart`` starts it at the regtest genesis block with the first batch) is
  fed from height 1.
* :func:`submit_deposit` submits an ``xchg_lp_deposit`` with a payment's proof (Bitcoin
  ``BtcProof`` or Ethereum ``EthLogProof`` bytes); :func:`eth_block_confirmations` says whether
  the Ethereum relay holds a block yet.

Used by ``etm-bridge lp deposit`` and usable by any relayer; the tests drive them against a
real ETM node and the regtest Bitcoin node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import rlp

from etm_bridge.chains.bitcoin.etm.verifier import BtcProof
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.ethereum.spv.rlp import encode_checked_header, header_hash

from ..adapter import Tip
from ..chain.address import address_of
from ..chain.keys import SigningKey
from ..chain.params import ChainParams
from ..chain.tx import Tx
from ..chains.bitcoin.etm.relay_types import BTC_RELAY_HEADERS, MAX_HEADERS_PER_TX
from ..chains.ethereum.etm.relay_types import ETH_RELAY_HEADERS
from ..errors import ChainError, NotFoundError, ValidationError
from ..exchange import payloads as pl
from ..exchange import txtypes as xt
from ..jsonrpc import JsonRpcClient
from ..spv.fork_point import common_height
from .client import NodeClient

DEFAULT_BATCH = 500
#: ``eth_relay_headers`` takes 1..256 headers (its ``decode_eth_headers``).
MAX_ETH_HEADERS_PER_TX = 256


def wait_confirmed(client: NodeClient, tx_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll until transaction ``tx_id`` is in a block; ``{"status", "height"}``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tx = client.transaction(tx_id)
        if tx.get("status") == "confirmed":
            return {"status": "confirmed", "height": tx.get("height")}
        time.sleep(0.2)
    raise ChainError(f"transaction {tx_id} was not included within {timeout_s:.0f} s")


def sign_and_submit(
    client: NodeClient,
    key: SigningKey,
    type_id: int,
    payload: bytes,
    *,
    fee: int | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Sign ``payload`` as a ``type_id`` tx (fee: the chain's default rule unless given)."""
    network = int(client.status()["networkId"])
    nonce = int(client.account(address_of(key.public_key))["nonce"])

    def build(fee_units: int) -> Tx:
        return Tx.create(key, network=network, type_id=type_id, nonce=nonce, fee=fee_units,
                         payload=payload)  # fmt: skip

    if fee is None:
        params = ChainParams()
        fee = params.fee_base + params.fee_per_byte * build(0).size
    tx = build(fee)
    client.submit_tx(tx.encoded)
    result: dict[str, Any] = {"id": tx.id.hex(), "fee": fee, "status": "pending"}
    if wait:
        result.update(wait_confirmed(client, tx.id.hex()))
    return result


class HeaderSource(Protocol):
    """Where headers come from: any :class:`~etm_bridge.adapter.ChainAdapter` fits."""

    def tip(self) -> Tip: ...
    def headers(self, start_height: int, count: int) -> list[bytes]: ...


class BitcoinRpcHeaders:
    """A :class:`HeaderSource` over a Bitcoin node's JSON-RPC (no wallet, no key): the RPCs
    Bitcoin Core and bcoin both answer with raw hex."""

    def __init__(self, rpc: JsonRpcClient) -> None:
        self.rpc = rpc

    def tip(self) -> Tip:
        height = int(self.rpc.call("getblockcount"))
        return Tip(height, str(self.rpc.call("getblockhash", height)))

    def headers(self, start_height: int, count: int) -> list[bytes]:
        last = min(start_height + count, int(self.rpc.call("getblockcount")) + 1)
        return [
            bytes.fromhex(self.rpc.call("getblockheader", self.rpc.call("getblockhash", h), False))
            for h in range(start_height, last)
        ]


class EthereumRpcHeaders:
    """A :class:`HeaderSource` over an Ethereum node's JSON-RPC: header RLPs checked to hash to
    the block hash the node reports (``eth_rlp.encode_checked_header``)."""

    def __init__(self, rpc: JsonRpcClient) -> None:
        self.rpc = rpc

    def _block(self, tag: str) -> dict[str, Any]:
        block = self.rpc.call("eth_getBlockByNumber", tag, False)
        if not block:
            raise ChainError(f"the Ethereum node has no block {tag}")
        return dict(block)

    def tip(self) -> Tip:
        block = self._block("latest")
        return Tip(int(block["number"], 16), str(block["hash"]).removeprefix("0x"))

    def headers(self, start_height: int, count: int) -> list[bytes]:
        last = min(start_height + count, self.tip().height + 1)
        return [encode_checked_header(self._block(hex(n))) for n in range(start_height, last)]


@dataclass(frozen=True)
class _Relay:
    """How one relay is fed: its API name, tx type, batch limit and header hash format."""

    chain: str
    type_id: int
    max_batch: int
    hash_of: Callable[[bytes], str]
    encode: Callable[[list[bytes]], bytes]


BTC = _Relay("btc", BTC_RELAY_HEADERS, MAX_HEADERS_PER_TX,
             lambda h: dsha256(h)[::-1].hex(), b"".join)  # fmt: skip
ETH = _Relay("eth", ETH_RELAY_HEADERS, MAX_ETH_HEADERS_PER_TX,
             lambda h: "0x" + header_hash(h).hex(), rlp.encode)  # fmt: skip


def _relay_tip(client: NodeClient, relay: _Relay) -> int:
    """The relay's best height; 0 for a Bitcoin relay not started yet (its dev_autostart rule
    starts it at the regtest genesis block with the first batch)."""
    try:
        status = client.spv_relay(relay.chain)
    except NotFoundError:
        if relay.chain == "btc":
            return 0
        raise ChainError("this ETM chain has no Ethereum relay (see node init --eth-rpc)") from None
    tip = status["tip"]
    return int(tip["height"] if relay.chain == "btc" else tip["number"])


def fork_point(client: NodeClient, source: HeaderSource, relay: _Relay = BTC) -> int:
    """The highest height where the source's chain and the relay's best chain agree."""

    def agree(height: int) -> bool:
        relay_hash = client.spv_best_hash(relay.chain, height)
        if relay_hash is None:  # below the relay's checkpoint
            raise ChainError(f"the {relay.chain} node's chain does not contain the checkpoint")
        return relay.hash_of(source.headers(height, 1)[0]) == relay_hash

    top = min(_relay_tip(client, relay), source.tip().height)
    return common_height(top, agree, floor=1) or 0


def relay_missing_headers(
    client: NodeClient,
    key: SigningKey,
    source: HeaderSource,
    *,
    chain: str = "btc",
    batch: int | None = None,
    fee: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send every header of the source's best chain the ``chain`` relay lacks; how many.

    Bitcoin: anyone may relay. Ethereum: ``key`` must be one of the relay's trusted relayers.
    ``batch``: headers per transaction (default 500, at most 2000 Bitcoin / 256 Ethereum).
    """
    relay = {"btc": BTC, "eth": ETH}.get(chain)
    if relay is None:
        raise ValidationError(f"chain must be btc or eth, got {chain!r}")
    batch = min(DEFAULT_BATCH, relay.max_batch) if batch is None else batch
    if not 1 <= batch <= relay.max_batch:
        raise ValidationError(f"batch must be 1..{relay.max_batch} headers, got {batch}")
    tip = source.tip().height
    start, sent = fork_point(client, source, relay) + 1, 0
    while start <= tip:
        headers = source.headers(start, min(batch, tip - start + 1))
        if not headers:
            break
        sign_and_submit(client, key, relay.type_id, relay.encode(headers), fee=fee)
        start, sent = start + len(headers), sent + len(headers)
        if progress is not None:
            progress(sent, start - 1)
    return sent


def relay_missing_btc_headers(
    client: NodeClient, key: SigningKey, source: HeaderSource, **kwargs: Any
) -> int:
    """:func:`relay_missing_headers` for the Bitcoin relay."""
    return relay_missing_headers(client, key, source, chain="btc", **kwargs)


def submit_deposit(
    client: NodeClient,
    key: SigningKey,
    asset: str,
    proof: bytes,
    *,
    etm_max: int,
    min_shares: int = 1,
    fee: int | None = None,
) -> dict[str, Any]:
    """Submit ``xchg_lp_deposit`` with an encoded deposit proof (``BtcProof`` / ``EthLogProof``
    bytes) and at most ``etm_max`` ETM; waits for its block."""
    payload = pl.LpDeposit(asset, etm_max, min_shares, proof)
    return sign_and_submit(client, key, xt.LP_DEPOSIT, pl.encode_payload(payload), fee=fee)


def submit_btc_deposit(
    client: NodeClient, key: SigningKey, asset: str, proof: BtcProof, **kwargs: Any
) -> dict[str, Any]:
    """:func:`submit_deposit` for a Bitcoin payment's proof."""
    return submit_deposit(client, key, asset, proof.encode(), **kwargs)


def eth_block_confirmations(client: NodeClient, number: int, block_hash: str) -> int:
    """Confirmations of Ethereum block ``number``/``block_hash`` (0x hex) on the ETM relay's
    best chain: 0 if the relay does not hold it there (yet, or any more)."""
    if client.spv_best_hash("eth", number) != block_hash.lower():
        return 0
    return int(client.spv_relay("eth")["tip"]["number"]) - number + 1
