"""A Bitcoin lock the pool operator cannot see opens no pool swap (review a11a).

The Bitcoin adapter finds a P2WSH lock only through the marker output of its transaction, and
gives every P2WSH output the transaction's *first* marker. Before this rule the exchange proved
a lock from its output and witness script alone: a lock paid with no marker, or with a decoy
marker first, opened a pool swap that the operator's engine never saw, so the attacker took the
pool's ETM and refunded the BTC (performed on real nodes in
``tests/integration/swaps/test_swap_pool_unmarked_lock.py``). Here: the marker is the adapter's,
every variant is refused with ``unmarked_lock`` through the real tx types and SPV, and, for any
outputs hypothesis draws, a lock the exchange accepts is a lock the adapter's index finds.
"""

from __future__ import annotations

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_PUSHDATA1, OP_RETURN
from etm_bridge_bitcoin.index import ChainIndex
from etm_bridge_bitcoin.script import LockMarker
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exchange_btc_proofs import MiniChain, lock_tx, rejected, tx_paying, world  # noqa: F401
from test_txtypes import H, btc_key

from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import ExchangeError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.swap_plans import swap_in_htlc_id

CLAIM, REFUND = btc_key("operator"), btc_key("alice")


def test_the_marker_is_the_bitcoin_adapters() -> None:
    for timelock in (1, 17, 255, 65_536, 499_999_999):
        ours = bp.lock_marker(CLAIM, REFUND, timelock)
        assert ours == LockMarker(CLAIM, REFUND, timelock).script_pubkey()


def test_a_lock_without_its_one_marker_opens_no_swap(world) -> None:  # noqa: F811
    btc, led = world
    led.send("operator", tt.LP_DEPOSIT, _deposit(btc, led))
    timelock = btc.height + 140  # each proof below buries its block 6 deep
    script = bp.htlc_witness_script(H, CLAIM, REFUND, timelock)
    real = bp.lock_marker(CLAIM, REFUND, timelock)
    data = real[2:]
    variants = {
        "no marker": tx_paying((100_000, bp.p2wsh(script))),
        "a decoy marker first": lock_tx(script, 100_000, bp.lock_marker(CLAIM, REFUND, 7), real),
        "a second marker after": lock_tx(script, 100_000, real, real),
        "another refund key": lock_tx(script, 100_000, bp.lock_marker(CLAIM, CLAIM, timelock)),
        "another timelock": lock_tx(script, 100_000, bp.lock_marker(CLAIM, REFUND, timelock + 1)),
        "a non-minimal push": lock_tx(script, 100_000, bytes([OP_RETURN, OP_PUSHDATA1, 74]) + data),
    }
    for case, raw in variants.items():
        proof = btc.include(raw, 0, script)
        swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
        rejected(Reason.UNMARKED_LOCK, lambda: led.send("alice", tt.SWAP_IN, swap))  # noqa: B023
        assert led.pool().asset_pending_in == 0, case
    proof = btc.include(lock_tx(script), 0, script)
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof))
    htlc_id = swap_in_htlc_id("btc", dsha256(lock_tx(script)) + bytes(4))
    assert led.htlc(htlc_id).hashlock == H


def _deposit(btc: MiniChain, led) -> pl.LpDeposit:  # type: ignore[no-untyped-def]
    from test_exchange_btc_proofs import deposit_tx
    from test_txtypes import BTC_LIQ, ETM_LIQ

    return pl.LpDeposit("btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "operator", BTC_LIQ), 0))


TIMELOCK = 1_000
SCRIPT = bp.htlc_witness_script(H, CLAIM, REFUND, TIMELOCK)
REAL = bp.lock_marker(CLAIM, REFUND, TIMELOCK)
OUTPUTS = st.lists(
    st.sampled_from(
        [
            bp.p2wsh(SCRIPT),  # the lock
            REAL,
            bp.lock_marker(CLAIM, REFUND, TIMELOCK + 1),
            bp.lock_marker(REFUND, CLAIM, TIMELOCK),
            bytes([OP_RETURN, OP_PUSHDATA1, 74]) + REAL[2:],  # the real one, pushed otherwise
            bytes(CScript([OP_RETURN, b"ETMD" + bytes(20)])),
            b"\x00\x14" + bytes(20),  # change
            bp.p2wsh(b"\x51"),  # another P2WSH output
        ]
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(outputs=OUTPUTS, vout=st.integers(0, 4))
def test_every_lock_the_exchange_accepts_is_one_the_adapter_finds(outputs, vout) -> None:
    if vout >= len(outputs) or outputs[vout] != bp.p2wsh(SCRIPT):
        return
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x11" * 32, 0))],
        [CMutableTxOut(100_000 if s[:1] != b"\x6a" else 0, CScript(s)) for s in outputs],
    )
    try:
        bp.require_lock_marker(parse_tx(tx.serialize()), CLAIM, REFUND, TIMELOCK)
    except ExchangeError as exc:
        assert exc.reason == Reason.UNMARKED_LOCK
        return
    index = ChainIndex(birth_height=0)
    index.apply_tx(tx, 1, b"")
    lock = index.locks[f"{tx.GetTxid()[::-1].hex()}:{vout}"]
    assert lock.marker.htlc(H).script_pubkey.hex() == lock.script_pubkey_hex


@pytest.mark.parametrize("timelock", [200, 70_000])
def test_the_adapters_own_lock_transaction_carries_the_one_marker(timelock: int) -> None:
    from etm_bridge_bitcoin.script import HtlcScript
    from etm_bridge_bitcoin.txbuild import Utxo, WalletKey, build_lock_tx

    key = WalletKey(b"\x07" * 32)
    htlc = HtlcScript(H, CLAIM, key.pubkey, timelock)
    tx, _ = build_lock_tx(key, [Utxo("ab" * 32, 0, 10**6)], htlc, 100_000, 2)
    bp.require_lock_marker(parse_tx(tx.serialize()), CLAIM, key.pubkey, timelock)
