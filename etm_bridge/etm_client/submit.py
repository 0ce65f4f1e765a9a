"""THE ETM transaction signer and submitter of the client side: one per signing key.

:class:`Submitter` signs a payload as a transaction of a given type with the account's next
nonce, submits it to the node's API and (by default) waits until it is in a block. Its
:class:`NonceCache` hands out ``max(the account's nonce on chain, the last one we used + 1)``, so
several transactions of one key can be pending at once (an HTLC claim while a relay batch
waits) without two of them taking the same nonce; a nonce is used up only once the node
accepted the transaction. Every part of one process that signs with one key shares one
submitter (the HTLC leg, the exchange port, the header feed).

The fee is the chain's default rule (``fee_base + fee_per_byte * size``) unless given.
"""

from __future__ import annotations

import time
from typing import Any

from ..chain.address import address_of
from ..chain.keys import SigningKey
from ..chain.params import ChainParams
from ..chain.tx import Tx
from ..errors import ChainError, NotFoundError
from ..exchange.payloads import encode_payload
from ..node.client import NodeClient
from ..swaps.core.ports import TxResult


def wait_confirmed(client: NodeClient, tx_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll until transaction ``tx_id`` is in a block; ``{"status", "height"}``."""
    deadline = time.monotonic() + timeout_s
    check = getattr(client, "check_inclusion", None)  # a NodeSet: re-sends a late tx
    while time.monotonic() < deadline:
        tx = client.transaction(tx_id)
        if tx.get("status") == "confirmed":
            return {"status": "confirmed", "height": tx.get("height")}
        if check is not None:
            check()
        time.sleep(0.2)
    raise ChainError(f"transaction {tx_id} was not included within {timeout_s:.0f} s")


def default_fee(tx_size: int, params: ChainParams | None = None) -> int:
    """The chain's fee rule for a transaction of ``tx_size`` bytes."""
    params = params or ChainParams()
    return params.fee_base + params.fee_per_byte * tx_size


class NonceCache:
    """The next nonce of one account: the chain's, or past our own pending transactions."""

    def __init__(self) -> None:
        self._next = 0

    def next(self, client: NodeClient, address: str) -> int:
        try:
            on_chain = int(client.account(address)["nonce"])
        except NotFoundError:  # an account nobody has paid yet
            on_chain = 0
        return max(on_chain, self._next)

    def used(self, nonce: int) -> None:
        self._next = max(self._next, nonce + 1)


class Submitter:
    """Signs with ``key`` and submits to ``client`` (see the module docstring)."""

    def __init__(self, client: NodeClient, key: SigningKey) -> None:
        self.client, self.key = client, key
        self.address = address_of(key.public_key)
        self.nonces = NonceCache()
        self._network: int | None = None

    def network(self) -> int:
        if self._network is None:
            self._network = int(self.client.status()["networkId"])
        return self._network

    def sign(self, type_id: int, payload: bytes, *, fee: int | None = None) -> Tx:
        """The signed transaction with our next nonce (not submitted)."""
        nonce = self.nonces.next(self.client, self.address)

        def build(fee_units: int) -> Tx:
            return Tx.create(self.key, network=self.network(), type_id=type_id, nonce=nonce,
                             fee=fee_units, payload=payload)  # fmt: skip

        return build(default_fee(build(0).size) if fee is None else fee)

    def submit_raw(
        self, type_id: int, payload: bytes, *, fee: int | None = None, wait: bool = True
    ) -> TxResult:
        """Sign ``payload`` (encoded) as a ``type_id`` transaction, submit, maybe wait."""
        tx = self.sign(type_id, payload, fee=fee)
        self.client.submit_tx(tx.encoded)
        self.nonces.used(tx.nonce)
        if not wait:
            return TxResult(tx.id.hex(), tx.fee, "pending")
        done = wait_confirmed(self.client, tx.id.hex())
        return TxResult(tx.id.hex(), tx.fee, "confirmed", done["height"])

    def submit(
        self, type_id: int, payload: Any, *, fee: int | None = None, wait: bool = True
    ) -> TxResult:
        """:meth:`submit_raw` of an exchange payload object (``exchange.payloads``)."""
        return self.submit_raw(type_id, encode_payload(payload), fee=fee, wait=wait)


def sign_and_submit(
    client: NodeClient,
    key: SigningKey,
    type_id: int,
    payload: bytes,
    *,
    fee: int | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """One transaction of a key no :class:`Submitter` of this process holds (a faucet, a
    script): ``{"id", "fee", "status"[, "height"]}``."""
    return Submitter(client, key).submit_raw(type_id, payload, fee=fee, wait=wait).to_json()
