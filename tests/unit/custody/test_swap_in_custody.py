"""Swap-ins into a committee pool (design-14 sections 2.1, 4.1 kind 2, 4.5 rows 208/204, 4.7 rule
4): the lock must pay an accepting committee's key policy (208), the settled swap (204) opens
the ``claim_swap_in`` mandate with the preimage, tx 302 proves it (receivable cleared, the vault
output recorded), and a proven refund of the lock by its user voids the claim with the loss
visible. Bitcoin's real ``CustodySpec`` (scripts, spend plans, digests, txids); the SPV part of
302 is replaced by reading the spend plan (the node test: tests/integration/custody/
test_btc_swap_in_vault.py). Every attack of the brief is performed here."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_lp_custody import KEYS, OPERATOR_KEY, PORT, SPEC, World, ctx, reason

from etm_bridge.chain.codec import sha256
from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.custody import accounting, mandate_store, mandates, swap_in
from etm_bridge.custody import records as cr
from etm_bridge.exchange import records as xr
from etm_bridge.exchange.plans import TxPlan
from etm_bridge.exchange.pool import Pool, PoolDirection
from etm_bridge.exchange.swap_rules import VerifiedForeignLock

pytestmark = pytest.mark.unit

USER = ecdsa.pubkey(bytes([0x88]) * 32)
PRE = bytes([0x42]) * 32
HTLC_ID = b"\x5a" * 32
LOCK_ID = b"\x71" * 32 + (0).to_bytes(4, "big")
OUTPOINT = b"\x71" * 32 + (0).to_bytes(4, "little")
AMOUNT = 60_000


def policy(w: World, epoch: int) -> bytes:
    return swap_in.vault_of(w_part(w), swap_in.committee_of(w.s, epoch)).claim_key  # type: ignore[union-attr]


def w_part(w: World) -> swap_in.ChainPart:
    return swap_in.ChainPart("btc", SPEC, SPEC.genesis.from_json({"network": "regtest"}))


def lock(claim_key: bytes, amount: int = AMOUNT, lock_id: bytes = LOCK_ID) -> VerifiedForeignLock:
    now_unix = 1_000 + 10 + ETM_EPOCH_UNIX
    return VerifiedForeignLock("btc", lock_id, amount, sha256(PRE), claim_key, USER, 400, 6, 1,
                               b"\xbb" * 32, 300, now_unix, 300, now_unix, 600, 7200,
                               lock_id[:32] + lock_id[32:][::-1])  # fmt: skip


def commit(w: World, plan: TxPlan) -> None:
    """As the exchange applies a plan: a dict as JSON, bytes as they are."""
    for (table, key), value in plan.writes.items():
        if isinstance(value, dict):
            w.s.put_json(table, key, value)
        else:
            w.s.put(table, key, value)


def proven_lock(w: World, lk: VerifiedForeignLock, height: int = 10) -> None:
    plan = TxPlan()
    PORT.on_swap_in(w.s, plan, HTLC_ID, lk, ctx(height))
    commit(w, plan)


def settle(w: World, lk: VerifiedForeignLock, height: int = 12) -> tuple[cr.Mandate, int]:
    """204: the exchange settled the swap (reserve + amount_in), then the port opens the claim."""
    pool = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc"))
    settled = replace(pool, asset_reserve=pool.asset_reserve + lk.amount)
    plan = TxPlan()
    plan.put(xr.POOLS, b"btc", settled)
    swap = xr.PoolSwap("btc", PoolDirection.ASSET_TO_ETM, lk.amount, 0, 1, "etm1u", USER,
                       lk.lock_id)  # fmt: skip
    PORT.on_htlc_claim(w.s, plan, None, swap, PRE, ctx(height))  # type: ignore[arg-type]
    commit(w, plan)
    after = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc"))
    w.reserve = after.asset_reserve
    m = mandate_store.get_mandate(w.s, mandates.mandate_id(cr.MandateKind.CLAIM_SWAP_IN, "btc",
                                                           HTLC_ID))  # fmt: skip
    assert m is not None
    return m, after.asset_reserve - pool.asset_reserve


def funded() -> World:
    w = World()
    w.seat(0, range(4))
    w.deposit(150_000, w.vault(0))
    pool = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc"))
    w.s.put_json(xr.POOLS, b"btc", xr.encode(replace(pool, asset_reserve=150_000)))
    return w


def test_a_settled_swap_in_opens_the_claim_mandate_and_its_proof_fills_the_vault() -> None:
    w = funded()
    assert policy(w, 0) in PORT.accepted_claim_keys(w.s, w.pool, ctx())
    proven_lock(w, lock(policy(w, 0)))
    m, reserve_delta = settle(w, lock(policy(w, 0)))
    rev = m.revisions[0]
    plan = build.decode_plan(rev.spend)
    assert m.status is cr.MandateStatus.OPEN and m.terms["preimage"] == PRE.hex()
    assert [i.outpoint for i in plan.inputs] == [OUTPOINT] and plan.inputs[0].branch == "htlc_claim"
    assert [(o.script_pubkey, o.amount) for o in plan.outputs] == [(w.vault(0), AMOUNT - rev.fee)]
    expected_until = 1_010 + (400 - 300) * 600 - swap_in.CLAIM_MARGIN_BLOCKS * 600
    assert m.sign_until_s == expected_until
    assert reserve_delta == AMOUNT - rev.fee  # rule 1: the claim's fee charged to the reserve
    acc = cr.decode(cr.CustodyAccount, w.s.get_json(cr.ACCOUNTS, b"btc"))
    assert (acc.receivable, acc.pending_fees) == (AMOUNT, rev.fee)
    assert w.books_balance() == (150_000 + AMOUNT, 150_000 + AMOUNT)
    done = w.prove(m.id, rev.spend)
    assert done.status is cr.MandateStatus.PROVEN
    out = mandate_store.get_utxo(w.s, "btc", (rev.txid or b"") + b"\x00" * 4)
    assert out is not None and (out.amount, out.epoch, out.status) == (
        AMOUNT - rev.fee, 0, cr.UtxoStatus.UNSPENT)  # fmt: skip
    acc = cr.decode(cr.CustodyAccount, w.s.get_json(cr.ACCOUNTS, b"btc"))
    assert (acc.receivable, acc.pending_fees) == (0, 0)
    assert w.books_balance() == (150_000 + AMOUNT - rev.fee,) * 2
    assert swap_in.get_lock(w.s, "btc", LOCK_ID).status == swap_in.CLAIMED  # type: ignore[union-attr]


def test_a_lock_to_a_stale_policy_is_refused_and_the_previous_one_only_within_grace() -> None:
    w = funded()
    w.seat(1, range(1, 5), start=20)  # grace_blocks 5: the epoch-0 policy accepted until 25
    old, new = policy(w, 0), policy(w, 1)
    assert {old, new} <= PORT.accepted_claim_keys(w.s, w.pool, ctx(21))
    proven_lock(w, lock(old), height=25)  # within grace
    proven_lock(w, lock(new, lock_id=b"\x72" * 32 + bytes(4)), height=26)
    other = lock(old, lock_id=b"\x73" * 32 + bytes(4))
    assert reason(lambda: proven_lock(w, other, height=26)) == "stale_vault"


def test_a_lock_to_another_policy_or_a_v1_lock_to_any_single_key_is_no_pool_lock() -> None:
    """The exchange's ``wrong_claim_key`` refuses what the claim keys do not list; the port
    refuses such a lock too if it reached it."""
    w = funded()
    keys = PORT.accepted_claim_keys(w.s, w.pool, ctx())
    stranger = scripts.KeyPolicy(3, tuple(sorted(KEYS[2:6]))).encode()
    assert keys == {policy(w, 0)}
    for bad in (stranger, OPERATOR_KEY, KEYS[0], b""):
        assert bad not in keys
        assert reason(lambda bad=bad: proven_lock(w, lock(bad))) == "wrong_claim_key"


def test_a_lock_too_small_for_its_claim_is_refused() -> None:
    w = funded()
    assert reason(lambda: proven_lock(w, lock(policy(w, 0), amount=500))) == (
        "lock_too_small_for_claim")  # fmt: skip


def test_a_swap_in_settles_once_and_only_for_a_recorded_lock() -> None:
    w = funded()
    assert reason(lambda: settle(w, lock(policy(w, 0)))) == "bad_parameter"  # never proven
    proven_lock(w, lock(policy(w, 0)))
    settle(w, lock(policy(w, 0)))
    assert reason(lambda: settle(w, lock(policy(w, 0)))) == "bad_parameter"  # settled already


def _refund_of(lock_outpoint: bytes) -> bytes:
    """A spend of the lock paying the user (another txid than every revision): what the test's
    proof reader takes as proven (outpoints spent, outputs); the real refund is in the node test."""
    policy = scripts.KeyPolicy(3, tuple(sorted(KEYS[:4])))
    vin = build.vault_input(lock_outpoint, AMOUNT, policy)
    out = build.PlannedOutput(scripts.p2wpkh(USER), AMOUNT - 500)
    return build.encode_plan(build.SpendPlan((vin,), (out,), 400, 500, 1))


def test_the_users_refund_proven_first_voids_the_claim_and_shows_the_loss() -> None:
    """Attacks: a 302 of the user's refund (the user took the ETM and refunded the lock); then the
    claim mandate of the refunded lock proven anyway (never: void does not change)."""
    w = funded()
    proven_lock(w, lock(policy(w, 0)))
    m, _ = settle(w, lock(policy(w, 0)))
    fee = m.revisions[0].fee
    void = w.prove(m.id, _refund_of(OUTPOINT))
    assert void.status is cr.MandateStatus.VOID
    w.reserve = xr.decode(Pool, w.s.get_json(xr.POOLS, b"btc")).asset_reserve
    assets, liabilities = w.books_balance()
    assert liabilities - assets == AMOUNT  # the loss, exactly: the pool paid ETM for nothing
    acc = cr.decode(cr.CustodyAccount, w.s.get_json(cr.ACCOUNTS, b"btc"))
    assert (acc.receivable, acc.pending_fees) == (0, 0)
    assert w.reserve == 150_000 + AMOUNT  # the fee came back
    b = accounting.Books(assets - acc.in_htlc - acc.receivable, w.reserve, acc)
    assert accounting.shortfall(b) == AMOUNT
    assert swap_in.get_lock(w.s, "btc", LOCK_ID).status == swap_in.REFUNDED  # type: ignore[union-attr]
    assert reason(lambda: w.prove(m.id, m.revisions[0].spend)) == "bad_transition"
    assert reason(lambda: w.prove(m.id, _refund_of(OUTPOINT))) == "outcome_replayed"
    assert fee > 0


def test_a_spend_of_something_else_under_the_claims_id_proves_nothing() -> None:
    w = funded()
    proven_lock(w, lock(policy(w, 0)))
    m, _ = settle(w, lock(policy(w, 0)))
    other = _refund_of(b"\x99" * 36)
    assert reason(lambda: w.prove(m.id, other)) == "outcome_mismatch"
    assert mandate_store.get_mandate(w.s, m.id).status is cr.MandateStatus.OPEN  # type: ignore[union-attr]


def test_a_lock_without_an_outpoint_or_before_any_committee_is_refused() -> None:
    w = funded()
    bare = replace(lock(policy(w, 0)), custody_ref=b"")
    assert reason(lambda: proven_lock(w, bare)) == "bad_parameter"
    empty = World()  # a custody chain without a committee: no lock is the pool's
    assert PORT.accepted_claim_keys(empty.s, empty.pool, ctx()) == frozenset()
    assert reason(lambda: proven_lock(empty, lock(b"\xa0"))) == "custody_inactive"
