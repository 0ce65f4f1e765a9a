"""Feeding another chain's evidence to an ETM node through its HTTP API (no database access).

* :func:`sign_and_submit` signs one ETM transaction with the account's next nonce, submits it and
  (by default) waits until it is in a block.
* :func:`relay_missing_btc_headers` compares a Bitcoin :class:`~etm_bridge.adapter.ChainAdapter`'s
  best chain with the ETM chain's Bitcoin relay (``/api/spv/btc/best/{height}``), finds the fork
  point and sends the headers after it as ``btc_relay_headers`` transactions (anyone may relay).
  A chain whose relay is not initialised yet (the ``etm_bridge.spv.btc_regtest`` plug-in starts
  it at the regtest genesis block with the first batch) is fed from height 1.
* :func:`submit_btc_deposit` submits an ``xchg_lp_deposit`` with a Bitcoin payment's proof.

Used by ``etm-bridge lp deposit`` and usable by any relayer; the tests drive them against a
real ETM node and the regtest Bitcoin node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..adapter import ChainAdapter
from ..chain.address import address_of
from ..chain.keys import SigningKey
from ..chain.params import ChainParams
from ..chain.tx import Tx
from ..errors import ChainError, NotFoundError, ValidationError
from ..exchange import payloads as pl
from ..exchange import txtypes as xt
from ..exchange.btc_proofs import BtcProof
from ..spv.bitcoin_headers import dsha256
from ..spv.txtypes import BTC_RELAY_HEADERS, MAX_HEADERS_PER_TX
from .client import NodeClient

DEFAULT_BATCH = 500


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


def _relay_tip_height(client: NodeClient) -> int:
    """The ETM relay's best height; 0 (the regtest genesis it will start at) if not started."""
    try:
        return int(client.spv_btc()["tip"]["height"])
    except NotFoundError:
        return 0


def btc_fork_point(client: NodeClient, adapter: ChainAdapter) -> int:
    """The highest height where the adapter's chain and the ETM relay's best chain agree."""
    height = min(_relay_tip_height(client), adapter.tip().height)
    while height > 0:
        relay_hash = client.spv_btc_best_hash(height)
        if relay_hash is None:  # below the relay's checkpoint
            raise ChainError("the Bitcoin node's chain does not contain the relay's checkpoint")
        node_hash = dsha256(adapter.headers(height, 1)[0])[::-1].hex()
        if node_hash == relay_hash:
            return height
        height -= 1
    return 0


def relay_missing_btc_headers(
    client: NodeClient,
    key: SigningKey,
    adapter: ChainAdapter,
    *,
    batch: int = DEFAULT_BATCH,
    fee: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send every header of the adapter's best chain the relay lacks; returns how many."""
    if not 1 <= batch <= MAX_HEADERS_PER_TX:
        raise ValidationError(f"batch must be 1..{MAX_HEADERS_PER_TX} headers, got {batch}")
    tip = adapter.tip().height
    start, sent = btc_fork_point(client, adapter) + 1, 0
    while start <= tip:
        headers = adapter.headers(start, min(batch, tip - start + 1))
        if not headers:
            break
        sign_and_submit(client, key, BTC_RELAY_HEADERS, b"".join(headers), fee=fee)
        start, sent = start + len(headers), sent + len(headers)
        if progress is not None:
            progress(sent, start - 1)
    return sent


def submit_btc_deposit(
    client: NodeClient,
    key: SigningKey,
    asset: str,
    proof: BtcProof,
    *,
    etm_max: int,
    min_shares: int = 1,
    fee: int | None = None,
) -> dict[str, Any]:
    """Submit ``xchg_lp_deposit`` for a proven payment to the pool; waits for its block."""
    payload = pl.LpDeposit(asset, etm_max, min_shares, proof.encode())
    return sign_and_submit(client, key, xt.LP_DEPOSIT, pl.encode_payload(payload), fee=fee)
