"""Issue 11, attack 4 on the real chain code: a halted ETM must not stretch an HTLC.

A chain with the ``node init`` plug-ins (:class:`test_exchange_api.Node`: real ``Chain``,
blocks forged by its delegates at their slot times). A user locks ETM in an HTLC expiring 100
blocks (100 s) later; the chain then produces no block for ten minutes (a halt: forgers down, or
a crash). When it resumes its height is still far below the expiry, but every block's timestamp
is its slot time: the first block after the halt is past the lock's deadline, so a claim is
refused (dropped from the block it would have entered) and a refund is valid.
"""

from __future__ import annotations

import pytest
from test_exchange_api import FEE, Node

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.block import Block
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import Htlc, HtlcStatus
from etm_bridge.exchange.plans import get_htlc
from etm_bridge.hashlock import hashlock_of
from etm_bridge.node.setup import NODE_TX_PLUGINS

PREIMAGE = b"\x5a" * 32
HALT_SLOTS = 600  # ten minutes of 1-second slots without a block


def _htlc(node: Node, htlc_id: bytes) -> Htlc:
    return get_htlc(node.service.chain.store_view(), htlc_id)


def _submit(node: Node, key: SigningKey, type_id: int, payload: object) -> None:
    """Into the mempool (checked against the tip, as the node's API does)."""
    nonce = node.service.chain.account(address_hash(key.public_key)).nonce
    tx = Tx.create(key, network=node.params.network_id, type_id=type_id, nonce=nonce,
                   fee=FEE, payload=pl.encode_payload(payload))  # fmt: skip
    node.service.chain.submit_tx(tx)


def _forge_next(node: Node) -> Block:
    """The next block: the first slot from ``node.slot`` on that one of the keys owns."""
    for _ in range(20):
        node.slot += 1
        block = node.service.forge(node.params.slot_time(node.slot))
        if block is not None:
            return block
    raise AssertionError("no block forged")


def test_after_a_halt_the_htlc_can_only_be_refunded() -> None:
    node = Node(NODE_TX_PLUGINS)
    chain = node.service.chain
    sender, recipient = dev_key("user-0"), dev_key("user-1")
    to = encode_address(address_hash(recipient.public_key))
    expiry = chain.status()["height"] + 100
    _submit(
        node, sender, tt.HTLC_LOCK, pl.HtlcLockPayload(to, 10**8, hashlock_of(PREIMAGE), expiry)
    )
    locked_in = _forge_next(node)
    htlc_id = locked_in.transactions[0].id
    record = _htlc(node, htlc_id)
    nominal = (expiry - locked_in.header.height) * node.params.block_time_s
    assert record.deadline_s == locked_in.header.timestamp + nominal  # the expiry's slot time

    _submit(node, recipient, tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))  # still valid ...
    node.slot += HALT_SLOTS  # ... but the chain halts before forging it
    resumed = _forge_next(node)
    assert resumed.header.timestamp > record.deadline_s
    assert resumed.header.height < expiry  # by height alone the claim would still be valid
    assert all(tx.type_id != tt.HTLC_CLAIM for tx in resumed.transactions)  # left out
    assert _htlc(node, htlc_id).status is HtlcStatus.LOCKED
    with pytest.raises(TxRejectedError) as exc:  # and refused from now on
        _submit(node, recipient, tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert exc.value.reason == "htlc_expired"

    _submit(node, recipient, tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))  # anyone may refund
    _forge_next(node)
    assert _htlc(node, htlc_id).status is HtlcStatus.REFUNDED
