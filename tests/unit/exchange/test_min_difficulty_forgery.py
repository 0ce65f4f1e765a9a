"""Review a11b of issue 11, item 13: a testnet relay is as forgeable as a regtest one.

Testnet3 and testnet4 (BIP94 keeps it) accept a *minimum-difficulty* block whenever its
timestamp is more than 20 minutes after its parent's: powLimit 0x1d00ffff, about 2^32 hashes
(seconds on one GPU, microseconds on an ASIC). A header may be stamped up to 2 hours after the
relay's reference time (the ETM block time). So anyone can append six such headers to the relay's
tip at once, parent + 20 min + 1 s each, the first holding a lock that exists on no network, and
relay them: they extend the best chain, so they *are* the relay's best chain until a real block
with more work arrives. The proof then passes every exchange rule: depth 6 (testnet4's floor),
a tip stamped in the future (never ``stale_relay``), a lock stamped in the future (age 0, so a
full 6 h leg). The attacker claims the pool's ETM in the next ETM block. Issue 11 refused pools on
regtest and anvil relays only; now every Bitcoin network with the minimum-difficulty rule is a
development relay (``dev_network_pool`` without ``allow_dev_pools``, tested on a real node chain in
``tests/unit/node/test_exchange_api.py``).

Here the rules run on the real relay and the real BtcVerifier with testnet4's parameters except
its powLimit (regtest's, so the headers are mined in Python): ``real`` blocks use a target 16 times
harder than the minimum difficulty, as real testnet4 blocks are (far more than 16 times) harder.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_RETURN
from exchange_harness import Ledger
from test_timing_attacks import lock_tx
from test_txtypes import PREIMAGE, H, bind, btc_key

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.etm.genesis import default_policy
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST, TESTNET3, TESTNET4
from etm_bridge.chains.registry import chain_registry
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import HtlcStatus
from etm_bridge.exchange.obligations import VerifiedDeposit
from etm_bridge.spv.kvstore import MemoryKeyValueStore

EASY_TESTNET4 = replace(TESTNET4, name="easy-testnet4", pow_limit=REGTEST.pow_limit)
MIN_DIFFICULTY_BITS = bh.encode_compact(EASY_TESTNET4.pow_limit)
REAL_BITS = 0x2007FFFF  # 16 times the minimum difficulty's work
T0 = ETM_EPOCH_UNIX + 10**6


def mine(prev: bytes, time: int, bits: int, txs: tuple[bytes, ...] = ()) -> tuple[bytes, list]:
    coinbase = CMutableTransaction(
        [CMutableTxIn(COutPoint(), CScript([time, b"forged"]))],
        [CMutableTxOut(50 * 10**8, CScript([OP_RETURN]))],
    ).serialize()
    txids = [bh.dsha256(t) for t in (coinbase, *txs)]
    root = txids[0] if len(txids) == 1 else bh.dsha256(txids[0] + txids[1])
    target, _, _ = bh.decode_compact(bits)
    for nonce in range(1 << 20):
        raw = struct.pack("<i32s32sIII", 0x20000000, prev, root, time, bits, nonce)
        if int.from_bytes(bh.dsha256(raw), "little") <= target:
            return raw, txids
    raise AssertionError("no nonce")


def test_a_min_difficulty_header_costs_2_to_the_32_hashes_on_the_real_testnets() -> None:
    for params in (TESTNET3, TESTNET4):
        assert params.allow_min_difficulty_blocks
        assert bh.encode_compact(params.pow_limit) == 0x1D00FFFF
        assert bh.work_from_bits(0x1D00FFFF) == 2**32 + 2**16 + 1  # expected hashes
    dev_networks = {n for p in chain_registry().relayed() if p.relay for n in p.relay.dev_networks}
    assert {"regtest", "testnet", "testnet3", "testnet4", "anvil"} <= dev_networks


def test_six_free_headers_on_the_testnet4_tip_prove_a_lock_that_never_existed() -> None:
    genesis, _ = mine(b"\0" * 32, T0, REAL_BITS)
    relay = BitcoinRelay.initialise(
        MemoryKeyValueStore(), EASY_TESTNET4, Checkpoint(0, genesis, bh.work_from_bits(REAL_BITS))
    )
    real, prev = [], bh.dsha256(genesis)
    for i in range(1, 20):  # the real network's blocks, ten minutes apart
        raw, _ = mine(prev, T0 + 600 * i, REAL_BITS)
        real.append(raw)
        prev = bh.dsha256(raw)
    tip_time = T0 + 600 * 19
    now = tip_time + 300  # ETM block time: five minutes after the real tip
    relay.submit_headers(real, now)

    verifier = bp.BtcVerifier(lambda view: relay, policy_of=lambda v: default_policy("testnet4"))
    led = Ledger(verifier=tt.ChainVerifiers({"btc": verifier}))
    led.time = now - ETM_EPOCH_UNIX
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    bind(led, "alice")
    liquidity = VerifiedDeposit(b"\x01" * 36, "btc", 10**8, led.address("operator"))
    deposit = pl.LpDeposit("btc", 10**13, 1, b"")
    led.send_verified("operator", tt.LP_DEPOSIT, deposit, plans.plan_lp_deposit, liquidity)

    # the attacker's lock, in a block of its own that no testnet4 node ever saw
    # refundable 72 blocks after the last forged header: 12 h by the relay tip
    script = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), 25 + 72)
    raw_lock = lock_tx(100_000, script)
    forged, times = [], [tip_time + 1_201 * k for k in range(1, 7)]
    lock_header, txids = mine(prev, times[0], MIN_DIFFICULTY_BITS, (raw_lock,))
    forged.append(lock_header)
    for t in times[1:]:
        raw, _ = mine(bh.dsha256(forged[-1]), t, MIN_DIFFICULTY_BITS)
        forged.append(raw)
    assert times[-1] <= now + bh.MAX_FUTURE_BLOCK_TIME_S  # within the 2-hour future limit
    relay.submit_headers(forged, now)
    assert relay.tip().height == 25  # six forged headers are the best chain
    proof = bp.BtcProof(BitcoinTxProof(raw_lock, bh.dsha256(lock_header), 1, 2,
                                       (txids[0],)), 0, script).encode()  # fmt: skip
    etm_before = led.pool().etm_reserve + led.pool().etm_reserved
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof))
    htlc_id = swap_plans.swap_in_htlc_id("btc", bh.dsha256(raw_lock) + bytes(4))
    assert led.htlc(htlc_id).deadline_s - led.time == 6 * 3600  # age 0: the full leg
    led.height += 1
    led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert led.htlc(htlc_id).status is HtlcStatus.CLAIMED
    paid = led.htlc(htlc_id).amount
    assert paid > 0 and led.pool().etm_reserve == etm_before - paid
    # the pool counts 100,000 sat it will never see; on a real testnet4 relay the headers cost
    # 6 x 2^32 hashes. Hence: no pool on a testnet relay without the development flag.
    led.check_money()
