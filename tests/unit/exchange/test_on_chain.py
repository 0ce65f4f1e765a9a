"""The exchange plug-in on a real ETM ``Chain``: txs through the mempool into forged blocks.

Checks the registry wiring (``tx_plugins``), fees and nonces around exchange types, mempool
rejection with the exchange's reason codes, and that the state survives the store round trip.
"""

from __future__ import annotations

import pytest

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import HtlcStatus
from etm_bridge.hashlock import hashlock_of
from etm_bridge.store import ChainStore

FEE = 100_000
PREIMAGE = b"\x07" * 32


class DevChain:
    def __init__(self) -> None:
        params = ChainParams(
            block_time_s=1, delegates_per_round=3, tx_plugins=("etm_bridge.exchange.txtypes",)
        )
        cfg, self.keys = dev_genesis(params, 3, funded=3)
        self.chain = Chain(ChainStore.memory(), cfg)
        self.params = params
        self.now = 0
        self.nonces: dict[bytes, int] = {}

    def send(self, key: SigningKey, type_id: int, payload: object) -> Tx:
        nonce = self.nonces.get(key.public_key, 0)
        tx = Tx.create(
            key,
            network=self.params.network_id,
            type_id=type_id,
            nonce=nonce,
            fee=FEE,
            payload=pl.encode_payload(payload),
        )
        self.chain.submit_tx(tx)
        self.nonces[key.public_key] = nonce + 1
        return tx

    def forge(self) -> int:
        for _ in range(100):
            self.now += 1
            block = self.chain.forge_next(self.now, self.keys)
            if block is not None:
                return len(block.transactions)
        raise AssertionError("no block forged")

    def balance(self, key: SigningKey) -> int:
        return self.chain.store_view().account(address_hash(key.public_key)).balance


@pytest.fixture
def dev() -> DevChain:
    return DevChain()


def test_types_are_registered_through_tx_plugins(dev: DevChain) -> None:
    names = {t.name for t in dev.chain.registry.types}
    assert {"xchg_bind", "xchg_htlc_lock", "xchg_swap_in", "xchg_swap_out"} <= names


def test_htlc_lock_and_claim_in_blocks(dev: DevChain) -> None:
    alice, bob, carol = (dev_key(f"user-{i}") for i in range(3))
    a0, b0 = dev.balance(alice), dev.balance(bob)
    lock = pl.HtlcLockPayload(
        encode_address(address_hash(bob.public_key)), 5_000, hashlock_of(PREIMAGE), 50
    )
    tx = dev.send(alice, tt.HTLC_LOCK, lock)
    assert dev.forge() == 1
    assert dev.balance(alice) == a0 - 5_000 - FEE
    view = dev.chain.store_view()
    assert view.escrow_total(rc.ESCROW) == 5_000
    with pytest.raises(TxRejectedError) as exc:  # the mempool refuses a wrong preimage
        dev.send(carol, tt.HTLC_CLAIM, pl.HtlcClaim(tx.id, b"\x08" * 32))
    assert exc.value.reason == "wrong_preimage"
    dev.send(carol, tt.HTLC_CLAIM, pl.HtlcClaim(tx.id, PREIMAGE))  # anyone submits
    assert dev.forge() == 1
    assert dev.balance(bob) == b0 + 5_000
    view = dev.chain.store_view()
    htlc = plans.get_htlc(view, tx.id)
    assert htlc.status is HtlcStatus.CLAIMED and htlc.preimage == PREIMAGE
    assert view.escrow_total(rc.ESCROW) == 0
    with pytest.raises(TxRejectedError) as exc:
        dev.send(carol, tt.HTLC_CLAIM, pl.HtlcClaim(tx.id, PREIMAGE))
    assert exc.value.reason == "already_claimed"


def test_bind_in_a_block_records_the_pubkey(dev: DevChain) -> None:
    alice = dev_key("user-0")
    secret = b"\x05" * 32
    me = encode_address(address_hash(alice.public_key))
    network = f"{dev.params.network_id:#010x}"
    msg = bd.binding_message(network, me, "btc", 1, 100)
    payload = pl.Bind("btc", btc_pubkey_of(secret), 1, 100, sign_btc(msg, secret), False)
    dev.send(alice, tt.BIND, payload)
    assert dev.forge() == 1
    got = plans.get_binding(dev.chain.store_view(), address_hash(alice.public_key), "btc")
    assert got is not None and got.key == btc_pubkey_of(secret)
