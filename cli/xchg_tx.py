"""Signing and submitting exchange transactions with the wallet's keys (``bind``, ``lp``, ``pool``).

Not a verb module: the helpers the exchange verbs share. The ETM key comes from the wallet
keystore (passphrase prompt or ``--passphrase-env``), the node from the ``etm.url`` setting.
The fee is the chain's default rule (``fee_base + fee_per_byte * size``) unless ``--fee``.
"""

from __future__ import annotations

import time
from typing import Any

import click

from etm_bridge.chain.keys import SigningKey
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import ChainError
from etm_bridge.exchange.payloads import encode_payload
from etm_bridge.node.client import NodeClient
from etm_bridge.wallet import UnlockedWallet, load_keystore

from .config import get_config, read_passphrase

fee_option = click.option(
    "--fee", type=int, default=None, help="Fee in ETM base units (default: the chain's rule)."
)
wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the tx is in a block."
)


def unlock_wallet() -> UnlockedWallet:
    config = get_config()
    return load_keystore(config.keystore_path).unlock(read_passphrase(confirm=False))


def node_client() -> NodeClient:
    return NodeClient(get_config().require("etm.url"))


def submit(
    client: NodeClient, key: SigningKey, type_id: int, payload: Any, *, fee: int | None, wait: bool
) -> dict[str, Any]:
    """Sign ``payload`` as a ``type_id`` tx with the account's next nonce, submit, maybe wait."""
    status = client.status()
    sender = client.account(_address(key))

    def build(fee_units: int) -> Tx:
        return Tx.create(
            key,
            network=int(status["networkId"]),
            type_id=type_id,
            nonce=int(sender["nonce"]),
            fee=fee_units,
            payload=encode_payload(payload),
        )

    if fee is None:
        params = ChainParams()
        fee = params.fee_base + params.fee_per_byte * build(0).size
    tx = build(fee)
    client.submit_tx(tx.encoded)
    result = {"id": tx.id.hex(), "fee": fee, "status": "pending"}
    if wait:
        result.update(wait_confirmed(client, tx.id.hex()))
    return result


def wait_confirmed(client: NodeClient, tx_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tx = client.transaction(tx_id)
        if tx.get("status") == "confirmed":
            return {"status": "confirmed", "height": tx.get("height")}
        time.sleep(0.2)
    raise ChainError(f"transaction {tx_id} was not included within {timeout_s:.0f} s")


def _address(key: SigningKey) -> str:
    from etm_bridge.chain.address import address_of

    return address_of(key.public_key)
