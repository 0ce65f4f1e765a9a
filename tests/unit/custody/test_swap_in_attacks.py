"""Attacks on BTC -> ETM swap-ins into a committee pool (review x7d of ``custody/swap_in.py``,
``custody/outcome.py``): what a user, a member or anyone can do with the claim mandate and the
outcome proofs (302) of its lock. The world, the real Bitcoin ``CustodySpec`` and the plan-as-
proof reader are those of ``test_lp_custody`` / ``test_swap_in_custody``."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_lp_custody import KEYS, PORT, World, ctx, reason
from test_swap_in_custody import AMOUNT, PRE, USER, commit, funded, lock, policy

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.custody import build, scripts
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, tagged_data
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.custody import accounting, bonds, mandate_store, mandates, plans, swap_in
from etm_bridge.custody import records as cr
from etm_bridge.errors import ExchangeError, ValidationError
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import swap_rules
from etm_bridge.exchange.plans import TxPlan
from etm_bridge.exchange.pool import Pool, PoolDirection
from etm_bridge.exchange.swap_rules import VerifiedForeignLock

pytestmark = pytest.mark.unit


def lock_id(n: int) -> bytes:
    return bytes([0x70 + n]) * 32 + bytes(4)


def outpoint(n: int) -> bytes:
    return bytes([0x70 + n]) * 32 + bytes(4)  # vout 0: the same bytes in either order


def htlc_id(n: int) -> bytes:
    return bytes([0x50 + n]) * 32


def prove_lock(w: World, n: int, height: int = 10) -> VerifiedForeignLock:
    lk = lock(policy(w, 0), lock_id=lock_id(n))
    plan = TxPlan()
    PORT.on_swap_in(w.s, plan, htlc_id(n), lk, ctx(height))
    commit(w, plan)
    return lk


def settle(w: World, n: int, lk: VerifiedForeignLock, height: int = 12) -> cr.Mandate:
    """204 of lock ``n``'s swap (the exchange settled it: reserve + amount_in)."""
    pool = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc"))
    plan = TxPlan()
    plan.put(xr.POOLS, b"btc", replace(pool, asset_reserve=pool.asset_reserve + lk.amount))
    swap = xr.PoolSwap("btc", PoolDirection.ASSET_TO_ETM, lk.amount, 0, 1, "etm1u", USER,
                       lk.lock_id)  # fmt: skip
    PORT.on_htlc_claim(w.s, plan, None, swap, PRE, ctx(height))  # type: ignore[arg-type]
    commit(w, plan)
    m = mandate_store.get_mandate(
        w.s, mandates.mandate_id(cr.MandateKind.CLAIM_SWAP_IN, "btc", htlc_id(n))
    )
    assert m is not None
    return m


def refund_of(*lock_outpoints: bytes) -> bytes:
    """One transaction of the user spending every given lock (refund branch after T) to itself:
    what the test's proof reader takes as proven."""
    pol = scripts.KeyPolicy(3, tuple(sorted(KEYS[:4])))
    vins = tuple(build.vault_input(op, AMOUNT, pol) for op in lock_outpoints)
    total = AMOUNT * len(lock_outpoints)
    out = build.PlannedOutput(scripts.p2wpkh(USER), total - 700)
    return build.encode_plan(build.SpendPlan(vins, (out,), 400, 700, 1))


def shortfall(w: World) -> int:
    w.reserve = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc")).asset_reserve
    assets, _ = w.books_balance()
    acc = cr.decode(cr.CustodyAccount, w.s.get_json(cr.ACCOUNTS, b"btc"))
    return accounting.shortfall(
        accounting.Books(assets - acc.in_htlc - acc.receivable, w.reserve, acc)
    )


def test_one_refund_of_two_locks_voids_both_claims_and_shows_both_losses() -> None:
    """Attack: the user takes the ETM of two swap-ins, then refunds both locks in ONE Bitcoin
    transaction. Its 302 under the first claim voids it; under the second it must void that one
    too (its receivable is gone), not be refused as a replay of the same txid: else the second
    lock stays ``receivable`` forever, the pool looks solvent while it is short, and the second
    mandate stays open (signers keep trying a spend Bitcoin refuses)."""
    w = funded()
    a, b = prove_lock(w, 1), prove_lock(w, 2)
    ma, mb = settle(w, 1, a), settle(w, 2, b, height=13)
    assert shortfall(w) == 0
    refund = refund_of(outpoint(1), outpoint(2))
    assert w.prove(ma.id, refund).status is cr.MandateStatus.VOID
    assert w.prove(mb.id, refund).status is cr.MandateStatus.VOID
    acc = cr.decode(cr.CustodyAccount, w.s.get_json(cr.ACCOUNTS, b"btc"))
    assert (acc.receivable, acc.pending_fees) == (0, 0)
    assert shortfall(w) == 2 * AMOUNT
    for n in (1, 2):
        assert swap_in.get_lock(w.s, "btc", lock_id(n)).status == swap_in.REFUNDED  # type: ignore[union-attr]
    # each claim is voided once: the same proof again is still a replay
    assert reason(lambda: w.prove(ma.id, refund)) == "outcome_replayed"
    assert reason(lambda: w.prove(mb.id, refund)) == "outcome_replayed"


def test_a_refund_of_another_lock_with_the_same_hashlock_voids_nothing() -> None:
    """Attack: two locks under one hashlock; the 302 of the refund of the second is submitted
    under the first's claim to void it (and give its fee back) while the first is claimable:
    the refund does not spend the first's outpoint, so it is no proof of anything
    (``outcome_mismatch``)."""
    w = funded()
    a, b = prove_lock(w, 1), prove_lock(w, 2)
    assert a.hashlock == b.hashlock
    ma, _ = settle(w, 1, a), settle(w, 2, b, height=13)
    assert reason(lambda: w.prove(ma.id, refund_of(outpoint(2)))) == "outcome_mismatch"
    assert mandate_store.get_mandate(w.s, ma.id).status is cr.MandateStatus.OPEN  # type: ignore[union-attr]


class _Sender:
    def __init__(self, pk: bytes) -> None:
        self.sender_public_key = pk
        self.sender = "etm1member"


def test_a_member_of_the_previous_committee_cannot_unbond_while_its_policy_holds_value() -> None:
    """Attack (a member, with m-1 others of its committee): epoch 1 starts; the members of epoch 0
    who are not in epoch 1 withdraw their custody bonds at once, then sign a spend of what
    epoch 0's policy still holds (the LP deposits of its vault, which no sweep moves, and the
    swap-in locks made to it within ``grace_blocks``, whose claims they alone can sign), paying
    themselves: the fraud proof (304) then finds no bond to slash. With no vault records
    (``custody_vaults`` is never written), "its vault is not retired" must hold for a committee
    of the past, so its bond stays locked (``bond_locked``)."""
    w = funded()  # epoch 0: members 0..3, 150,000 sat in its vault
    w.seat(1, range(1, 5), start=20)  # member 0 is in no newer committee
    lk = lock(policy(w, 0), lock_id=lock_id(1))
    plan = TxPlan()
    PORT.on_swap_in(w.s, plan, htlc_id(1), lk, ctx(22))  # within grace: epoch 0 claims it
    commit(w, plan)
    m = settle(w, 1, lk, height=23)
    assert m.revisions[0].epoch == 0
    d0 = member_0(w)
    assert plans.serving(w.s, d0.delegate, ("btc",))  # 301's bond_locked and 300's keys_locked
    withdraw = bonds.Bond(bonds.BondOp.WITHDRAW, d0.bond)
    assert reason(lambda: plans.plan_bond(w.s, _Sender(d0.delegate), withdraw, ctx(40))) == (  # type: ignore[arg-type]
        "bond_locked")  # fmt: skip


def member_0(w: World) -> cr.Member:
    """Member 0's record (delegate D[0], its btc key, a bond)."""
    c = swap_in.committee_of(w.s, 0)
    d = c.members[0]
    key = next(k for k in c.keys["btc"] if k == KEYS[0])
    member = cr.Member(d, b"\x00" * 32, {"btc": key}, 5_000)
    w.s.put_json(cr.MEMBERS, d, cr.encode(member))
    return member


@pytest.mark.parametrize("blocks_left", [30, 41, 42, 43, 48, 72, 73, 100, 1_000])
def test_the_last_moment_to_claim_the_etm_leaves_the_committee_hours_to_claim_the_lock(
    blocks_left: int,
) -> None:
    """Attack (the user): prove the lock as late as the exchange allows (T near) and claim the ETM
    at the last second of its leg, so the claim window is already shut or too short when the
    mandate opens. Stopped by the timelock arithmetic: the ETM leg ends ``MARGIN_S`` (6 h)
    before the lock's estimated refund time, the claim window ``CLAIM_MARGIN_BLOCKS`` blocks
    (1 h) before it, so the committee keeps at least 5 h; a lock with less than 7 h left is
    ``late_proof`` at the exchange."""
    w = funded()
    lk = replace(lock(policy(w, 0), lock_id=lock_id(1)), timelock_height=300 + blocks_left)
    etm_s = ctx(10).timestamp
    try:
        leg_s = swap_rules.etm_leg_for(lk, etm_s + ETM_EPOCH_UNIX)
    except ExchangeError as exc:
        assert exc.reason == "late_proof" and blocks_left * 600 - 10 < 7 * 3600
        return
    plan = TxPlan()
    PORT.on_swap_in(w.s, plan, htlc_id(1), lk, ctx(10))
    commit(w, plan)
    last_claim_s = etm_s + leg_s  # the ETM HTLC's deadline_s
    m = settle(w, 1, lk, height=10 + leg_s)
    assert m.sign_until_s - last_claim_s >= swap_rules.MARGIN_S - 6 * 600
    refundable_s = etm_s + swap_rules.foreign_seconds_left(lk, etm_s + ETM_EPOCH_UNIX)
    assert refundable_s - m.sign_until_s == swap_in.CLAIM_MARGIN_BLOCKS * 600


def test_the_committees_claim_output_cannot_be_proven_as_someones_lp_deposit() -> None:
    """Attack (anyone): the claim pays the active vault, and its input (the user's lock) is no
    vault output, so the port's "a deposit spending the vault buys no shares" does not see it;
    a 206 of the claim's vault output before its 302 would buy LP shares with the pool's own
    BTC. Stopped by the deposit rule: a deposit names its owner in exactly one ``ETMD`` tag
    output, and the claim (fixed by the mandate) has one output, the vault's."""
    w = funded()
    lk = prove_lock(w, 1)
    m = settle(w, 1, lk)
    plan = build.decode_plan(m.revisions[0].spend)
    assert [o.script_pubkey for o in plan.outputs] == [w.vault(0)]
    with pytest.raises(ValidationError, match="exactly one OP_RETURN"):
        tagged_data(parse_tx(build.unsigned_tx(plan)), DEPOSIT_TAG, 20)
