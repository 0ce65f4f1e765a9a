"""Issue 11, items 1 and 7, performed end to end on real nodes: an ETM node process (``node
init`` chain), the session's Bitcoin regtest node (bcoin, or bitcoind with ``BITCOIND``), the
user's engine and the pool operator's engine (``PoolSwaps``: the real watchers and
``PoolFollower``).

1. A first BTC -> ETM pool swap completes (both engines ``claimed_both``): its preimage is now
   public on ETM.
2. The drain: the user locks BTC to the pool again with the *same* hashlock, relays the headers
   and submits the SPV proof (``xchg_swap_in``). Before the fix the exchange locked pool ETM
   that the attacker claimed at once, and the operator's engine (records keyed by
   ``hashlock[:16]``) never claimed that BTC. Now ETM refuses it: ``hashlock_used``, naming the
   one HTLC the hashlock served; an intent with it is refused too; the pool does not move.
3. The squat: the user starts a new pool swap (its intent, in a block, reserves the hashlock); a
   stranger bound on Bitcoin reads the hashlock and tries a tiny swap out and an HTLC lock with
   it: ``hashlock_reserved``. The victim's swap then completes.
4. Two pool swaps in flight at once are both followed by the operator: its records are keyed by
   the ETM HTLC ids, each pins the Bitcoin lock ETM proved, and nothing was left unfollowed.
5. A clean retry: ``start_pool_swap`` whose first secret is already used draws a new one
   before anything is locked.
6. A wallet restored on a second machine does not hand out a swap index whose hashlock an
   intent of the first machine reserved (review x5).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest.demo.engines import PoolSwaps
from etm_bridge_regtest.demo.parties import Party
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from test_swap_pool_real_nodes import _setup

from etm_bridge.adapter import HtlcTerms, LockState
from etm_bridge.app import given_adapters as pool_start
from etm_bridge.app.context import AppContext
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client import header_feed
from etm_bridge.etm_client.exchange import proof_bytes
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import SwapTerms
from etm_bridge.swaps.core.pool_terms import PoolInfo
from etm_bridge.units import ETM
from etm_bridge.wallet.derive import UnlockedWallet, swap_secret

SWAP_SAT = 100_000
SEED = bytes(range(32))  # the wallet both machines restored from its words
BOTH = (Role.USER, Role.OPERATOR)


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _start(swaps: PoolSwaps) -> SwapTerms:
    """A swap in as ``swap start btc etm`` makes it, with room for another swap in flight to
    move the price first (its pinned minimum is the quote less 25 %)."""
    rec, _ = pool_start.start_pool_swap(
        swaps.user_ad, "bitcoin", "etm", SWAP_SAT, slippage_bps=2_500
    )
    swaps.user_store.create(rec)
    return rec.terms


def _refused(reason: str, call) -> TxRejectedError:  # type: ignore[no-untyped-def]
    with pytest.raises(TxRejectedError) as exc:
        call()
    assert exc.value.reason == reason, exc.value
    return exc.value


def test_hashlock_reuse_and_squatting_fail_on_real_nodes(etm_node, bitcoin_node, tmp_path) -> None:
    world, operator, user = _setup(etm_node, bitcoin_node, tmp_path)
    client = world.client
    swaps = PoolSwaps(world, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    try:
        # 1. a first pool swap completes; its preimage is public on ETM
        t1 = swaps.start_swap_in(SWAP_SAT)
        swaps.run_until(t1.swap_id, {SwapState.CLAIMED_BOTH}, roles=BOTH, timeout_s=150)
        [etm1] = client.htlcs(t1.hashlock)
        assert etm1["status"] == "claimed" and etm1["preimage"] is not None

        # 2. the drain: a second BTC lock with the same hashlock, proven to ETM
        btc = swaps.user_ad["bitcoin"]
        pool_key = PoolInfo.from_api(client.pool("btc")).claim_key
        terms = HtlcTerms(SWAP_SAT, t1.hashlock, pool_key, btc.our_key(), btc.tip().height + 72)
        again = btc.lock(terms)
        bitcoin_node.mine(2)
        header_feed.relay_missing_headers(client, user.etm_key, btc, chain="btc")
        [lock] = [lk for lk in btc.find_locks(t1.hashlock) if lk.lock_id == again.lock_id]
        proof = proof_bytes("btc", lock, btc.inclusion_proof(lock.lock_id))
        pool_before = client.pool("btc")
        swap_in = pl.SwapIn("btc", user.etm_address, SWAP_SAT, t1.hashlock, 1, proof)
        refused = _refused("hashlock_used", lambda: world.send(user, xt.SWAP_IN, swap_in))
        assert etm1["htlc_id"] in refused.detail  # it names the one HTLC the hashlock served
        intent = pl.SwapIntentPayload("btc", t1.hashlock, SWAP_SAT, 1)
        _refused("hashlock_used", lambda: world.send(user, xt.SWAP_INTENT, intent))
        assert client.pool("btc") == pool_before
        assert [h["htlc_id"] for h in client.htlcs(t1.hashlock)] == [etm1["htlc_id"]]

        # 3. the squat: a stranger bound on Bitcoin tries to block a new swap's hashlock
        t2 = _start(swaps)  # its intent is in a block: the hashlock is reserved for the user
        stranger = Party.new("stranger", tmp_path)
        world.fund_etm(stranger, 100 * ETM)
        world.bind_btc(stranger)
        expiry = int(client.status()["height"]) + 50_000
        tiny_out = pl.SwapOut("btc", ETM // 100, t2.hashlock, expiry, 1)
        _refused("hashlock_reserved", lambda: world.send(stranger, xt.SWAP_OUT, tiny_out))
        lock_to_self = pl.HtlcLockPayload(stranger.etm_address, 1_000, t2.hashlock, expiry)
        _refused("hashlock_reserved", lambda: world.send(stranger, xt.HTLC_LOCK, lock_to_self))
        own_intent = pl.SwapIntentPayload("btc", t2.hashlock, 1_000, 1)
        _refused("hashlock_reserved", lambda: world.send(stranger, xt.SWAP_INTENT, own_intent))

        # 4. two pool swaps in flight at once: the operator follows both (and the victim's
        # swap completes)
        t3 = _start(swaps)
        for t in (t2, t3):
            swaps.run_until(t.swap_id, {SwapState.CLAIMED_BOTH}, roles=BOTH, timeout_s=150)
        ours = {t.hashlock: t for t in (t1, t2, t3)}
        records = swaps.op_store.list_swaps()
        assert len(records) == 3 and swaps.unfollowed == []
        for rec in records:
            [htlc] = client.htlcs(rec.terms.hashlock)
            assert rec.swap_id == htlc["htlc_id"]  # keyed by the ETM HTLC id, not the hashlock
            assert rec.state is SwapState.CLAIMED_BOTH and rec.terms.hashlock in ours
            [user_lock] = [
                lk for lk in btc.find_locks(rec.terms.hashlock)
                if lk.lock_id != again.lock_id
            ]  # fmt: skip
            assert rec.terms.user_leg.lock_id == user_lock.lock_id  # the lock ETM proved
            assert user_lock.state is LockState.CLAIMED
        assert client.pool("btc")["etm_reserved"] == 0

        # 5. a secret whose hashlock is taken costs a new secret, before anything is locked
        drawn = [t1_secret := swaps.user_store.get(t1.swap_id).preimage]
        assert t1_secret is not None
        real_new = pool_start.new_preimage

        def taken_first() -> bytes:
            return drawn.pop() if drawn else real_new()

        pool_start.new_preimage = taken_first  # type: ignore[assignment]
        try:
            rec, _ = pool_start.start_pool_swap(swaps.user_ad, "bitcoin", "etm", SWAP_SAT)
        finally:
            pool_start.new_preimage = real_new
        assert rec.terms.hashlock != t1.hashlock and rec.preimage != t1_secret
        assert client.htlcs(rec.terms.hashlock) == []  # reserved, nothing locked yet

        # 6. the wallet restored on a second machine (review x5): the first machine's swap in
        # took index 0 (its intent reserves the hashlock; its lock waits for the proof). The
        # second machine's empty database must not hand out index 0 again: a swap out with it
        # would use the hashlock on ETM (the owner may), the first swap's proof would be
        # refused, and once the secret is revealed the pool's key could claim its BTC lock
        first = swap_secret(SEED, 0)
        intent0 = pl.SwapIntentPayload("btc", sha256(first), SWAP_SAT, 1)
        world.send(user, xt.SWAP_INTENT, intent0)
        assert client.htlcs(sha256(first)) == [] and client.hashlock_seen(sha256(first))
        second = AppContext(keys=UnlockedWallet(SEED), swaps_db=tmp_path / "second.db",
                            given=swaps.user_ad)  # fmt: skip
        try:
            assert second.seed_secret() == swap_secret(SEED, 1)  # before: index 0's secret
        finally:
            second.close()
    finally:
        print("\n".join(swaps.log))
        swaps.close()
