"""Signing and submitting exchange transactions with the wallet's keys (``bind``, ``lp``, ``pool``).

Not a verb module: the helpers the exchange verbs share. The ETM key comes from the wallet
keystore (passphrase prompt or ``--passphrase-env``), the node from the ``etm.url`` setting.
The fee is the chain's default rule (``fee_base + fee_per_byte * size``) unless ``--fee``.
Signing and waiting are :func:`etm_bridge.node.relaying.sign_and_submit`.
"""

from __future__ import annotations

from typing import Any

import click

from etm_bridge.chain.keys import SigningKey
from etm_bridge.exchange.payloads import encode_payload
from etm_bridge.node.client import NodeClient
from etm_bridge.node.relaying import sign_and_submit, wait_confirmed
from etm_bridge.wallet import UnlockedWallet

from .context import get_config
from .context import unlock_wallet as _unlock

fee_option = click.option(
    "--fee", type=int, default=None, help="Fee in ETM base units (default: the chain's rule)."
)
wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the tx is in a block."
)

__all__ = ["fee_option", "node_client", "submit", "unlock_wallet", "wait_confirmed", "wait_option"]


def unlock_wallet() -> UnlockedWallet:
    return _unlock(get_config())


def node_client() -> NodeClient:
    return NodeClient(get_config().require("etm.url"))


def submit(
    client: NodeClient, key: SigningKey, type_id: int, payload: Any, *, fee: int | None, wait: bool
) -> dict[str, Any]:
    """Sign ``payload`` as a ``type_id`` tx with the account's next nonce, submit, maybe wait."""
    return sign_and_submit(client, key, type_id, encode_payload(payload), fee=fee, wait=wait)
