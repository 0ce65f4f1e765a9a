"""The client side of each chain's pools (``ChainProfile.client``), served by the registry: what
``foreign_chains`` held for two chains, now one part of every chain folder's profile."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from etm_bridge_handshake.codec import Address, Input, Output, Tx

from etm_bridge.chains.handshake.spv.tx import blake2b160
from etm_bridge.chains.profile import DepositRequest
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ValidationError
from etm_bridge.swaps.core import pool_assets

pytestmark = pytest.mark.unit

TXID = bytes(range(32))
HASHLOCK = b"\x11" * 32
CLAIM = bytes([2]) + b"\x22" * 32
OWNER = b"\x33" * 20


def test_every_pooled_chain_has_a_client_side_and_the_swap_core_asks_the_registry() -> None:
    registry = chain_registry()
    pooled = registry.pooled()
    assert {p.ticker for p in pooled} >= {"btc", "eth", "hns"}
    assert all(p.client is not None and p.exchange is not None for p in pooled)
    assert pool_assets.native_assets() == tuple(p.assets.native for p in pooled)
    assert registry.for_leg("mine", "handshake") is registry.by_ticker("hns")  # by its adapter
    assert registry.for_leg("HSD") is registry.by_ticker("hns")  # an alias
    assert registry.resolve("ETH", ("btc", "eth")) == "eth"  # a configured name wins
    assert registry.resolve("Handshake") == "handshake"


def test_a_proven_lock_reads_back_into_each_adapters_lock_id() -> None:
    proven = TXID + (7).to_bytes(4, "big")
    assert pool_assets.adapter_lock_id("hns", proven, HASHLOCK) == (
        f"{TXID.hex()}:7:{HASHLOCK.hex()}"  # Handshake shows hashes as they are
    )
    assert pool_assets.adapter_lock_id("btc", proven, HASHLOCK) == (
        f"{TXID[::-1].hex()}:7:{HASHLOCK.hex()}"  # Bitcoin shows them reversed
    )
    assert pool_assets.adapter_lock_id("eth", TXID, HASHLOCK) == TXID.hex()
    for asset, bad in (("hns", TXID), ("btc", proven + b"\x00"), ("eth", proven)):
        assert pool_assets.adapter_lock_id(asset, bad, HASHLOCK) is None
    assert pool_assets.adapter_lock_id("doge", proven, HASHLOCK) is None


def _hns_deposit_leaf(pay_to: bytes, amount: int, tag: bytes) -> Any:
    tx = Tx(
        (Input(b"\x44" * 32, 0),),
        (
            Output(amount, Address(0, pay_to)),
            Output(0, Address(31, tag)),
            Output(5, Address(0, b"\x55" * 20)),
        ),
    )
    return SimpleNamespace(leaf=tx.encode_base())


def test_a_handshake_deposit_pays_the_pools_key_with_the_owner_tag_and_is_checked() -> None:
    client = chain_registry().by_ticker("hns").require_client()
    request = DepositRequest(CLAIM, 5_000_000, OWNER)
    pay, tag = client.deposit_payments(request)
    assert (pay.destination, pay.amount) == (bytes([0]) + blake2b160(CLAIM), 5_000_000)
    assert (tag.destination, tag.amount) == (bytes([31]) + b"ETMD" + OWNER, 0)
    good = _hns_deposit_leaf(blake2b160(CLAIM), 5_000_000, b"ETMD" + OWNER)
    client.check_deposit(good, request)
    # a resumed payment (``lp deposit --txid``) of another wallet, amount or pool is refused
    for forged in (
        _hns_deposit_leaf(blake2b160(CLAIM), 5_000_000, b"ETMD" + b"\x66" * 20),
        _hns_deposit_leaf(blake2b160(CLAIM), 4_999_999, b"ETMD" + OWNER),
        _hns_deposit_leaf(b"\x77" * 20, 5_000_000, b"ETMD" + OWNER),
    ):
        with pytest.raises(ValidationError):
            client.check_deposit(forged, request)


def test_a_chain_that_needs_a_deposit_destination_says_so() -> None:
    registry = chain_registry()
    vault = registry.by_ticker("eth").require_client().destination
    assert vault is not None and vault.flag == "--vault"
    assert vault.check("0x" + "ab" * 20) == "0x" + "ab" * 20
    with pytest.raises(ValidationError, match="--vault"):
        vault.check("0x1234")
    assert registry.by_ticker("hns").require_client().destination is None
    assert registry.by_ticker("hns").require_client().resumable
