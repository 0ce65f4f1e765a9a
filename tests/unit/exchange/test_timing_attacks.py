"""Issue 11, attacks 2, 4 and 5, performed against the exchange tx types with a real Bitcoin
header relay and the real :class:`~etm_bridge.chains.bitcoin.etm.verifier.BtcVerifier`.

- **2, a stale relay stretches time**: lock BTC for 72 blocks, let 73 blocks pass (the lock is
  refundable), relay only up to the lock's depth and prove. Measured against the relay tip the
  lock had 12 h left, so the exchange opened a 6 h ETM leg of pool ETM while the attacker
  refunded the BTC. Now the proof is refused at every relay height the attacker can pick.
- **4, a halted ETM stretches the ETM leg**: the swap-in HTLC's height stops while the chain
  is halted; its wall-clock deadline does not, so after the halt only the pool's refund is valid.
- **5, proofs skip the confirmation policy and are never re-checked**: a large lock needs the
  value-scaled depth of whitepaper 3.1, and a lock whose block is reorganised out can no longer
  be claimed against.

Blocks are mined here with regtest's easy proof of work and real-looking timestamps (10 minutes
apart); the attacker decides what is relayed, exactly as on a live chain.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_RETURN
from exchange_harness import Ledger
from test_txtypes import BTC_LIQ, ETM_LIQ, PREIMAGE, H, bind, btc_key

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.errors import ExchangeError, TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import swap_plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import HtlcStatus
from etm_bridge.exchange.reasons import Reason
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.spv.relay_policy import RelayPolicy

START = ETM_EPOCH_UNIX + 10**6  # unix time of the first mined block
BLOCK_S = 600


class Chain:
    """A Bitcoin regtest chain mined here; ``relay_to(h)`` feeds the relay up to height ``h``
    only (what an attacker who relays on demand controls)."""

    def __init__(self) -> None:
        self.relay = BitcoinRelay.initialise(
            MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST)
        )
        self.headers: list[bytes] = [REGTEST.genesis_header]
        self.times = [START]
        self.txids: dict[int, list[bytes]] = {}
        self.relayed = 0

    @property
    def height(self) -> int:
        return len(self.headers) - 1

    def time_of(self, height: int) -> int:
        return self.times[height]

    def mine(
        self, txs: tuple[bytes, ...] = (), parent: int | None = None, spacing_s: int = BLOCK_S
    ) -> int:
        """A block on ``parent`` (default the tip; a lower one starts a fork that replaces
        the blocks above it here), ``spacing_s`` after its parent."""
        parent = self.height if parent is None else parent
        height = parent + 1
        del self.times[height:]
        self.times.append(self.times[parent] + spacing_s)
        coinbase = CMutableTransaction(
            [CMutableTxIn(COutPoint(), CScript([height, b"etm", len(self.headers)]))],
            [CMutableTxOut(50 * 10**8, CScript([OP_RETURN]))],
        ).serialize()
        txids = [dsha256(t) for t in (coinbase, *txs)]
        root = txids[0] if len(txids) == 1 else dsha256(txids[0] + txids[1])
        prev = dsha256(self.headers[parent])
        for nonce in range(1_000):
            header = struct.pack(
                "<i32s32sIII", 0x20000000, prev, root, self.time_of(height), 0x207FFFFF, nonce
            )
            if int.from_bytes(dsha256(header), "little") <= REGTEST.pow_limit >> 1:
                break
        del self.headers[height:]
        self.headers.append(header)
        self.txids[height] = txids
        return height

    def relay_to(self, height: int) -> None:
        new = self.headers[self.relayed + 1 : height + 1]
        if new:
            self.relay.submit_headers(new, self.time_of(self.height))
        self.relayed = max(self.relayed, height)

    def proof(self, height: int, raw_tx: bytes, script: bytes) -> bytes:
        block = dsha256(self.headers[height])
        tx_proof = BitcoinTxProof(raw_tx, block, 1, 2, (self.txids[height][0],))
        return bp.BtcProof(tx_proof, 0, script).encode()


def lock_tx(amount: int, script: bytes) -> bytes:
    """A lock as the Bitcoin adapter makes it: the P2WSH output, then its marker."""
    _, claim, refund, timelock = bp.parse_htlc_witness_script(script)
    marker = bp.lock_marker(claim, refund, timelock)
    return CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x11" * 32, 0))],
        [CMutableTxOut(amount, bp.p2wsh(script)), CMutableTxOut(0, CScript(marker))],
    ).serialize()


def world(policy: RelayPolicy | None = None) -> tuple[Chain, Ledger]:
    btc = Chain()
    verifier = bp.BtcVerifier(
        lambda view: btc.relay, policy_of=(lambda v: policy) if policy else None
    )
    led = Ledger(verifier=tt.ChainVerifiers({"btc": verifier}))
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    bind(led, "alice")
    deposit = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x22" * 32, 0))],
        [
            CMutableTxOut(BTC_LIQ, bp.p2wpkh(btc_key("operator"))),
            CMutableTxOut(0, CScript([OP_RETURN, bp.DEPOSIT_TAG + led.addr20("operator")])),
        ],
    ).serialize()
    at = btc.mine((deposit,))
    for _ in range(5):
        btc.mine()
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    proof = bp.BtcProof(BitcoinTxProof(deposit, dsha256(btc.headers[at]), 1, 2,
                                       (btc.txids[at][0],)), 0).encode()  # fmt: skip
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, proof))
    return btc, led


def alice_lock(btc: Chain, amount: int = 100_000, blocks: int = 72) -> tuple[int, bytes, bytes]:
    """Alice's lock mined in the next block, refundable after ``blocks`` more."""
    timelock = btc.height + 1 + blocks
    script = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), timelock)
    raw = lock_tx(amount, script)
    return btc.mine((raw,)), raw, script


def prove(led: Ledger, proof: bytes, amount: int = 100_000) -> None:
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), amount, H, 1, proof))


def rejected(reason: str, call: Any) -> None:
    with pytest.raises((TxRejectedError, ExchangeError)) as exc:
        call()
    assert exc.value.reason == reason, exc.value


def test_a_stale_relay_no_longer_stretches_a_refundable_lock() -> None:
    btc, led = world()
    height, raw, script = alice_lock(btc)
    for _ in range(73):  # 12 h 10 min: the lock is refundable on Bitcoin now
        btc.mine()
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX  # ETM's clock runs with Bitcoin's
    pool = led.pool()
    proof = btc.proof(height, raw, script)
    # the attacker relays only to the lock's block: by the relay tip 72 blocks (12 h) remain
    btc.relay_to(height)
    rejected(Reason.STALE_RELAY, lambda: prove(led, proof))
    # ... or as far as the freshness bound forces: the elapsed time still counts
    for tip in (height + 60, height + 62, height + 66):
        btc.relay_to(tip)
        expected = Reason.STALE_RELAY if tip < height + 62 else Reason.LATE_PROOF
        rejected(expected, lambda: prove(led, proof))
    btc.relay_to(btc.height)
    rejected(Reason.LATE_PROOF, lambda: prove(led, proof))
    assert led.pool() == pool  # no pool ETM was reserved or locked
    led.check_money()


def test_the_locks_age_caps_the_leg_even_when_blocks_came_slowly() -> None:
    """Blocks came every 20 minutes after the lock: by the (fresh) tip 42 blocks remain, a 7 h
    estimate that would still open a 1 h leg. But the lock, made for 12 h, is 10 h old: the
    age-based bound leaves 2 h, less than the 6 h margin -> late."""
    btc, led = world()
    height, raw, script = alice_lock(btc)
    for _ in range(30):
        btc.mine(spacing_s=1_200)
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    rejected(Reason.LATE_PROOF, lambda: prove(led, btc.proof(height, raw, script)))


def test_a_fresh_lock_is_accepted_and_its_etm_leg_has_a_deadline() -> None:
    btc, led = world()
    height, raw, script = alice_lock(btc)
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX + 60
    prove(led, btc.proof(height, raw, script))
    htlc = led.htlc(swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4)))
    # 72 blocks = 12 h, less the minute the lock is old, less the 6 h margin: the ETM leg
    leg_s = 72 * BLOCK_S - 60 - 6 * 3600
    assert htlc.deadline_s == led.time + leg_s
    assert htlc.expiry_height == led.height + leg_s // led.params.block_time_s


def test_a_halted_etm_cannot_stretch_the_swap_in_leg_past_the_bitcoin_refund() -> None:
    """Attack 4: the user proves, ETM halts (heights freeze), Bitcoin's clock runs on, the
    user refunds the BTC after 12 h. When ETM resumes, the HTLC's height is still far from its
    expiry, but its deadline passed: the claim is refused and the pool gets its ETM back."""
    btc, led = world()
    height, raw, script = alice_lock(btc)
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    pool = led.pool()
    prove(led, btc.proof(height, raw, script))
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4))
    led.height += 1
    led.time += 12 * 3600 + 600  # halted: one block later, 12 h later
    assert led.height < led.htlc(htlc_id).expiry_height
    alice = led.balance("alice")
    rejected(
        Reason.HTLC_EXPIRED,
        lambda: led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE)),
    )
    led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert led.htlc(htlc_id).status is HtlcStatus.REFUNDED
    assert led.pool() == pool and led.balance("alice") == alice  # nothing paid out
    led.check_money()


def test_a_large_lock_needs_the_value_scaled_depth() -> None:
    """q = 10 %, at most 0.001 BTC expected loss: 1 BTC needs 6 confirmations (3.1's exact
    formula), 0.001 BTC the relay's floor of 1."""
    mainnet_like = RelayPolicy(1, 7_200, "0.1", 100_000)
    btc, led = world(mainnet_like)
    height, raw, script = alice_lock(btc, amount=10**8)
    for _ in range(4):  # 5 confirmations
        btc.mine()
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    proof = btc.proof(height, raw, script)
    assert mainnet_like.required_depth(10**8) == 6
    rejected(Reason.NOT_ENOUGH_CONFIRMATIONS, lambda: prove(led, proof, 10**8))
    btc.mine()
    btc.relay_to(btc.height)
    prove(led, proof, 10**8)  # 6 confirmations
    led.check_money()


def test_a_large_deposit_needs_the_value_scaled_depth() -> None:
    btc, led = world(RelayPolicy(1, 7_200, "0.1", 100_000))
    bind(led, "bob")
    pay = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x33" * 32, 0))],
        [
            CMutableTxOut(10**8, bp.p2wpkh(btc_key("operator"))),
            CMutableTxOut(0, CScript([OP_RETURN, bp.DEPOSIT_TAG + led.addr20("bob")])),
        ],
    ).serialize()
    at = btc.mine((pay,))
    for _ in range(4):
        btc.mine()
    btc.relay_to(btc.height)
    proof = bp.BtcProof(BitcoinTxProof(pay, dsha256(btc.headers[at]), 1, 2,
                                       (btc.txids[at][0],)), 0).encode()  # fmt: skip
    deposit = pl.LpDeposit("btc", ETM_LIQ, 1, proof)
    rejected("bad_proof", lambda: led.send("bob", tt.LP_DEPOSIT, deposit))
    btc.mine()
    btc.relay_to(btc.height)
    led.send("bob", tt.LP_DEPOSIT, deposit)
    assert led.shares("bob") > 0


def test_a_proof_reorganised_out_can_no_longer_be_claimed() -> None:
    """Attack 5: the lock is proven, then a longer branch without it (a double spend) is
    relayed. The claim re-checks the proven block: refused; after the leg the pool refunds
    itself."""
    btc, led = world()
    fork_at = btc.height
    height, raw, script = alice_lock(btc)
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    pool = led.pool()
    prove(led, btc.proof(height, raw, script))
    lock_block = dsha256(btc.headers[height])
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4))
    btc.mine(parent=fork_at)  # the double spend's branch replaces the lock's block ...
    btc.mine()  # ... and is longer
    btc.relayed = fork_at
    btc.relay_to(btc.height)
    assert btc.relay.get(lock_block) is not None and btc.relay.confirmations(lock_block) == 0
    rejected(
        Reason.PROOF_REORGED,
        lambda: led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE)),
    )
    led.height = led.htlc(htlc_id).expiry_height + 1
    led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert led.pool() == pool
    led.check_money()


def test_a_proof_still_on_the_best_chain_is_claimed() -> None:
    btc, led = world()
    height, raw, script = alice_lock(btc)
    btc.relay_to(btc.height)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    prove(led, btc.proof(height, raw, script))
    btc.mine()
    btc.relay_to(btc.height)  # deeper now: still fine
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4))
    led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert led.htlc(htlc_id).status is HtlcStatus.CLAIMED
    led.check_money()
