"""Attacks (x7a, issue 14) on users' swap-in HTLC v2 into a **committee pool**, through the real
exchange tx types, real SPV (a header relay fed regtest blocks mined here) and the real custody
port (``ChainCustody``, registered by the custody plug-in as on a custody chain).

1. The verifier reads the lock, its claim key (the vault policy) is one the port accepts, the
   pool reserves the ETM and the user claims it with the preimage. What the committee needs to
   take the BTC before the user's timelock is a ``claim_swap_in`` mandate (design-14 2.3 / 4.1
   kind 2, with a ``custody_htlcs`` swap-in receivable): ``ChainCustody`` does not override
   ``on_swap_in`` / ``on_htlc_claim`` yet, so the legacy no-ops run ("the operator claims the
   lock") and nobody claims it: the user refunds the BTC at T and keeps the ETM.
2. A lock too small for any claim to pay the vault is accepted (``lock_too_small_for_claim``
   is defined, raised nowhere).
3. A proven lock proven again, its twin output under the same marker, and locks to policies
   near the vault's (lower threshold, fewer keys, a key added): refused.

1 and 2 were strict xfails until the claim path landed (w14, ``custody/swap_in.py``); they now
pass as plain tests.
"""

from __future__ import annotations

import pytest
from exchange_harness import SUPPLY, Ledger, RecordedRelays
from test_exchange_btc_proofs import MiniChain, deposit_tx, rejected, tx_paying
from test_txtypes import BTC_LIQ, ETM_LIQ, PREIMAGE, H, bind, btc_key

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import Registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chains.bitcoin.custody import ecdsa, scripts
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.custody import records as cr
from etm_bridge.custody import txtypes as custody_types
from etm_bridge.custody.params import CustodyParams
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import swap_plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason

pytestmark = pytest.mark.unit

KEYS = tuple(sorted(ecdsa.pubkey(bytes([0x30 + i]) * 32) for i in range(4)))
POLICY = scripts.KeyPolicy(3, KEYS)
D = [bytes([i]) * 32 for i in range(1, 5)]
SECTION = {"domain": "d0" * 32, "chains": ["btc"], "min_bond": 1_000}


class CustodyLedger(Ledger):
    """The exchange harness with the custody plug-in registered first (as a custody chain's
    plug-in list has it), so the exchange's tx types take ``ChainCustody`` as their port."""

    def __init__(self, verifier: tt.ForeignVerifier) -> None:
        self.params = ChainParams()
        self.registry = Registry()
        self.relays = RecordedRelays()
        custody_types.register(self.registry)
        tt.register(self.registry, verifier)
        self.state = State(EmptyBackend(), self.registry.table_names)
        self.height, self.time, self.nonces = 1, 0, {}
        people = ("operator", "alice", "bob", "carol")
        for who in people:
            self.state.mint(self.addr20(who), SUPPLY // len(people))


def committee_pool() -> tuple[MiniChain, CustodyLedger]:
    """A btc pool with liquidity, then the custody section, a bonded 3-member committee and
    its active vault (claim key: POLICY's bytes) written as the custody genesis would."""
    btc = MiniChain()
    led = CustodyLedger(tt.ChainVerifiers({"btc": bp.BtcVerifier(lambda view: btc.relay)}))
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 6))
    bind(led, "operator")
    bind(led, "alice")
    deposit = btc.include(deposit_tx(led, "operator", BTC_LIQ), 0)
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, deposit))
    s = led.state
    s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(SECTION).to_json())
    committee = cr.Committee(0, tuple(D), 3, 4, {"btc": KEYS}, 1, "first")
    s.put_json(cr.EPOCHS, cr.epoch_key(0), cr.encode(committee))
    s.put(cr.CURRENT, b"epoch", cr.epoch_key(0))
    for d, key in zip(D, KEYS, strict=True):
        s.put_json(cr.MEMBERS, d, cr.encode(cr.Member(d, d, {"btc": key}, 10**15)))
    return btc, led


def test_a_swap_in_into_a_committee_pool_leaves_the_committee_a_claim() -> None:
    btc, led = committee_pool()
    timelock = btc.height + 1 + 72
    htlc = scripts.SwapInHtlc(H, POLICY, btc_key("alice"), timelock)
    raw = tx_paying(
        (100_000, bp.p2wsh(htlc.script)), (0, scripts.MarkerV2.of(htlc).script_pubkey())
    )
    proof = btc.include(raw, 0, htlc.script)
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof))
    assert led.pool().asset_pending_in == 100_000  # the port accepted the vault policy
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4))
    before = led.balance("alice")
    led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert led.balance("alice") > before  # the user has the pool's ETM
    receivables = led.state.scan(cr.HTLCS, b"btc\x00")
    mandates = list(led.state.scan(cr.MANDATES, b""))
    assert receivables and mandates, (
        "the user took the pool's ETM and the committee has no claim_swap_in mandate (nor a "
        "custody_htlcs receivable) for the BTC lock: the user refunds it at T"
    )


def test_a_proven_policy_lock_is_proven_once_and_a_twin_output_opens_nothing() -> None:
    """Attack (x7a): prove the same v2 lock twice (again, and under another request), and prove
    a second output of the same transaction under the one marker. The same output is
    ``replayed_proof`` (lock id = txid || vout); the twin output carries the same hashlock,
    which serves one ETM HTLC ever (``hashlock_used``): it opens nothing, and stays the user's
    to refund at T."""
    btc, led = committee_pool()
    htlc = scripts.SwapInHtlc(H, POLICY, btc_key("alice"), btc.height + 1 + 72)
    pays = bp.p2wsh(htlc.script)
    marker = scripts.MarkerV2.of(htlc).script_pubkey()
    raw = tx_paying((100_000, pays), (0, marker), (100_000, pays))
    first = btc.include(raw, 0, htlc.script)
    decoded = bp.BtcProof.decode(first)
    twin = bp.BtcProof(decoded.tx_proof, 2, htlc.script).encode()
    alice = led.address("alice")
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", alice, 100_000, H, 1, first))
    for again in (pl.SwapIn("btc", alice, 100_000, H, 1, first),
                  pl.SwapIn("btc", alice, 100_000, H, 2, first)):  # fmt: skip
        rejected(Reason.REPLAYED_PROOF, lambda p=again: led.send("alice", tt.SWAP_IN, p))
    twin_swap = pl.SwapIn("btc", alice, 100_000, H, 1, twin)
    rejected(Reason.HASHLOCK_USED, lambda: led.send("alice", tt.SWAP_IN, twin_swap))
    assert led.pool().asset_pending_in == 100_000


def test_a_lock_too_small_to_claim_is_refused_at_proof() -> None:
    """Attack (x7a): a 331-sat swap-in v2 (above P2WSH dust, below any swap-in claim's fee: a
    3-of-n claim is ~300 vB) is accepted, so the committee's claim could never pay the vault
    and the user refunds the BTC at T after taking the ETM. Design-14 2.3 refuses it at proof
    (``lock_too_small_for_claim``)."""
    btc, led = committee_pool()
    htlc = scripts.SwapInHtlc(H, POLICY, btc_key("alice"), btc.height + 1 + 72)
    raw = tx_paying((331, bp.p2wsh(htlc.script)), (0, scripts.MarkerV2.of(htlc).script_pubkey()))
    proof = btc.include(raw, 0, htlc.script)
    swap = pl.SwapIn("btc", led.address("alice"), 331, H, 1, proof)
    rejected(Reason.LOCK_TOO_SMALL_FOR_CLAIM, lambda: led.send("alice", tt.SWAP_IN, swap))


def test_a_lock_to_a_policy_near_the_vaults_opens_nothing() -> None:
    """Attack (x7a): swap-in v2 locks whose claim policy is close to the vault's, so that a
    minority (or an outsider) could claim them: the vault's keys at a lower threshold (1 of 4,
    2 of 4), three of its keys, and its keys plus one of the thief's. Each is the thief's own
    well-formed lock with its marker v2, and each is ``wrong_claim_key``: the claim key must be
    exactly an active or retiring vault's policy bytes."""
    btc, led = committee_pool()
    thief = ecdsa.pubkey(b"\x77" * 32)
    near = [
        scripts.KeyPolicy(1, KEYS),
        scripts.KeyPolicy(2, KEYS),
        scripts.KeyPolicy(3, KEYS[:3]),
        scripts.KeyPolicy.of(3, [*KEYS, thief]),
    ]
    for n, policy in enumerate(near):
        hashlock = bytes([n + 1]) * 32
        htlc = scripts.SwapInHtlc(hashlock, policy, btc_key("alice"), btc.height + 1 + 72)
        marker = scripts.MarkerV2.of(htlc).script_pubkey()
        proof = btc.include(
            tx_paying((100_000, bp.p2wsh(htlc.script)), (0, marker)), 0, htlc.script
        )
        swap = pl.SwapIn("btc", led.address("alice"), 100_000, hashlock, 1, proof)
        rejected(Reason.WRONG_CLAIM_KEY, lambda s=swap: led.send("alice", tt.SWAP_IN, s))
    assert led.pool().asset_pending_in == 0
