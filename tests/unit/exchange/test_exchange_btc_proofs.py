"""Bitcoin proofs end to end: real regtest headers mined here, a real header relay
(``etm_bridge.spv``), real transactions (python-bitcoinlib), through the exchange tx types.

The HTLC script is cross-checked against the Bitcoin adapter's template, and every forgery
the txid does not rule out is tried: another witness script, a proof whose block is not in
the relay, too few confirmations, a deposit or payment to the wrong key or without its tag.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_RETURN
from etm_bridge_bitcoin.script import HtlcScript
from exchange_harness import Ledger
from test_txtypes import BTC_LIQ, ETM_LIQ, PREIMAGE, H, bind, btc_key

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.errors import ExchangeError, TxRejectedError, ValidationError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus
from etm_bridge.exchange.reasons import Reason
from etm_bridge.observations import InclusionProof
from etm_bridge.spv.kvstore import MemoryKeyValueStore

#: The ETM block time of the harness (ETM timestamp 0) in unix seconds: the relay's "now".
NOW = ETM_EPOCH_UNIX
#: Mined blocks are a minute apart and end near NOW, so the relay tip is fresh (a stale relay
#: is refused: docs/exchange.md).
FIRST_BLOCK_TIME = NOW - 7_000


class MiniChain:
    """Regtest blocks mined in Python, fed to a real header relay."""

    def __init__(self) -> None:
        self.relay = BitcoinRelay.initialise(
            MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST)
        )
        self.tip_le = dsha256(REGTEST.genesis_header)
        self.height = 0
        self.last_header = b""

    def mine(self, txs: list[bytes] = ()) -> tuple[bytes, list[bytes]]:  # type: ignore[assignment]
        """Mine a block with a coinbase plus ``txs``; returns its hash and the txids."""
        self.height += 1
        coinbase = CMutableTransaction(
            [CMutableTxIn(COutPoint(), CScript([self.height, b"etm"]))],
            [CMutableTxOut(50 * 10**8, CScript([OP_RETURN]))],
        ).serialize()
        txids = [dsha256(t) for t in (coinbase, *txs)]
        assert len(txids) <= 2, "this helper proves blocks of at most two transactions"
        root = txids[0] if len(txids) == 1 else dsha256(txids[0] + txids[1])
        time = FIRST_BLOCK_TIME + 60 * self.height
        for nonce in range(1_000):
            header = struct.pack(
                "<i32s32sIII", 0x20000000, self.tip_le, root, time, 0x207FFFFF, nonce
            )
            if int.from_bytes(dsha256(header), "little") <= REGTEST.pow_limit >> 1:
                break
        self.relay.submit_headers([header], NOW)
        self.tip_le = dsha256(header)
        return self.tip_le, txids

    def include(self, raw_tx: bytes, vout: int, script: bytes = b"", depth: int = 6) -> bytes:
        """Mine ``raw_tx`` into a block, bury it ``depth`` deep, return the encoded proof."""
        block, txids = self.mine([raw_tx])
        self.last_header = self.relay.get(block).raw
        for _ in range(depth - 1):
            self.mine()
        proof = BitcoinTxProof(raw_tx, block, 1, 2, (txids[0],))
        return bp.BtcProof(proof, vout, script).encode()


def tx_paying(*outputs: tuple[int, bytes]) -> bytes:
    return CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x11" * 32, 0))],
        [CMutableTxOut(v, CScript(s)) for v, s in outputs],
    ).serialize()


def op_return(data: bytes) -> bytes:
    return bytes(CScript([OP_RETURN, data]))


@pytest.fixture
def world() -> tuple[MiniChain, Ledger]:
    btc = MiniChain()
    verifier = tt.ChainVerifiers({"btc": bp.BtcVerifier(lambda view: btc.relay)})
    led = Ledger(verifier=verifier)
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 6))
    bind(led, "operator")
    bind(led, "alice")
    return btc, led


def deposit_tx(led: Ledger, who: str, amount: int, to: bytes | None = None) -> bytes:
    pays = bp.p2wpkh(to or btc_key("operator"))
    return tx_paying((amount, pays), (0, op_return(bp.DEPOSIT_TAG + led.addr20(who))))


def lock_tx(script: bytes, amount: int = 100_000, *markers: bytes) -> bytes:
    """A lock of ``amount`` to ``script`` as the Bitcoin adapter makes it (P2WSH, then the
    marker naming its keys and timelock), or with ``markers`` instead of that marker."""
    _, claim, refund, timelock = bp.parse_htlc_witness_script(script)
    marks = markers or (bp.lock_marker(claim, refund, timelock),)
    return tx_paying((amount, bp.p2wsh(script)), *((0, m) for m in marks))


def rejected(reason: str, call: Any) -> None:
    with pytest.raises((TxRejectedError, ExchangeError)) as exc:
        call()
    assert exc.value.reason == reason, exc.value


def test_witness_script_matches_the_bitcoin_adapter_template() -> None:
    for timelock in (1, 16, 17, 127, 128, 255, 256, 32_767, 32_768, 499_999_999):
        ours = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), timelock)
        theirs = HtlcScript(H, btc_key("operator"), btc_key("alice"), timelock).script
        assert ours == theirs, timelock
        assert bp.parse_htlc_witness_script(ours) == (
            H,
            btc_key("operator"),
            btc_key("alice"),
            timelock,
        )
    good = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), 1_000)
    for bad in (good[:-1], good + b"\x00", good.replace(b"\x01\x20", b"\x01\x21", 1), b""):
        with pytest.raises(ValidationError):
            bp.parse_htlc_witness_script(bad)


def test_lp_deposit_swap_in_and_obligation_with_real_spv(world: tuple[MiniChain, Ledger]) -> None:
    btc, led = world
    proof = btc.include(deposit_tx(led, "operator", BTC_LIQ), 0)
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, proof))
    assert led.pool().asset_reserve == BTC_LIQ
    rejected(
        Reason.DEPOSIT_REPLAYED,
        lambda: led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, proof)),
    )
    # alice locks 0.001 BTC to the pool, refundable to her bound key after 72 blocks
    timelock = btc.height + 1 + 72
    script = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), timelock)
    lock_proof = btc.include(lock_tx(script), 0, script)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, lock_proof)
    led.send("alice", tt.SWAP_IN, swap)
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(lock_tx(script)) + bytes(4))
    rejected(Reason.REPLAYED_PROOF, lambda: led.send("alice", tt.SWAP_IN, swap))
    led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert led.pool().asset_reserve == BTC_LIQ + 100_000
    # the operator withdraws 10**7 shares' worth (~31,600 sat, above the minimum withdrawal);
    # the obligation is paid with a tagged output
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", 10**7))
    ob = plans.get_obligation(led.state, 0)
    pay = tx_paying(
        (ob.amount, bp.p2wpkh(btc_key("operator"))), (0, op_return(bp.PAYMENT_TAG + bytes(8)))
    )
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, btc.include(pay, 0)))
    assert plans.get_obligation(led.state, 0).status is ObligationStatus.PAID
    led.check_money()


def test_forged_or_shallow_proofs_are_rejected(world: tuple[MiniChain, Ledger]) -> None:
    btc, led = world
    send = lambda proof: led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, proof))  # noqa: E731
    rejected("bad_proof", lambda: send(btc.include(deposit_tx(led, "operator", 10**6), 0, depth=5)))
    rejected(
        Reason.WRONG_DESTINATION,
        lambda: send(btc.include(deposit_tx(led, "operator", 10**6, to=btc_key("alice")), 0)),
    )
    untagged = tx_paying((10**6, bp.p2wpkh(btc_key("operator"))))
    rejected("malformed_proof", lambda: send(btc.include(untagged, 0)))
    rejected("malformed_proof", lambda: send(b"\x00\x01"))
    # a block the relay never saw
    raw = deposit_tx(led, "operator", 10**6)
    ghost = BitcoinTxProof(raw, b"\x42" * 32, 1, 2, (b"\x00" * 32,))
    rejected("bad_proof", lambda: send(bp.BtcProof(ghost, 0).encode()))
    # a lock whose witness script is swapped for another one (the txid does not commit it)
    timelock = btc.height + 80
    real = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), timelock)
    fake = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), timelock + 100)
    proof = btc.include(lock_tx(real), 0, fake)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
    rejected("malformed_proof", lambda: led.send("alice", tt.SWAP_IN, swap))
    assert led.pool().total_shares == 0  # nothing was credited by any of these


def test_proof_from_the_bitcoin_adapters_inclusion_proof(world: tuple[MiniChain, Ledger]) -> None:
    btc, led = world
    raw = deposit_tx(led, "operator", 10**6)
    ours = bp.BtcProof.decode(btc.include(raw, 0))
    adapter_form = InclusionProof(
        kind="bitcoin-merkle",
        block_height=btc.height - 5,
        header=btc.last_header,
        leaf=raw,
        branch=ours.tx_proof.branch_le,
        index=1,
        tx_count=2,
    )
    assert bp.BtcProof.from_adapter_proof(adapter_form, 0) == ours
    with pytest.raises(ValidationError):
        bp.BtcProof.from_adapter_proof(replace(adapter_form, kind="ethereum-receipt"), 0)
