"""``swap recover`` picks our real lock among decoys (``etm_bridge.app.recover.our_pool_lock``).

Attack (review x5): once a user's lock is on chain its hashlock is public, and anyone may lock
coins with it refunded to the user's (public) key. Recover read only the first lock of ours: a
dust decoy put first and claimed by another key made it report the swap as "a direct swap" and
rebuild nothing; a smaller decoy claimed by the pool made it rebuild the swap from the decoy's
terms, so the watcher followed the decoy and never refunded the user's real lock.
"""

from __future__ import annotations

from etm_bridge.app.recover import our_pool_lock
from etm_bridge.app.recover_direct import plan_direct
from etm_bridge.hashlock import sha256
from etm_bridge.observations import HtlcLock, HtlcTerms, LockState

HASHLOCK = sha256(b"\x07" * 32)
OURS, POOL, STRANGER = b"\x02" + b"\x11" * 32, b"\x03" + b"\x22" * 32, b"\x02" + b"\x33" * 32


def _lock(n: int, amount: int, claim_key: bytes) -> HtlcLock:
    terms = HtlcTerms(amount, HASHLOCK, claim_key, OURS, 500)
    return HtlcLock("bitcoin", f"{n:064x}:0", f"{n:064x}", terms, block_height=100 + n)


def test_a_decoy_claimed_by_another_key_put_first_does_not_hide_our_lock() -> None:
    decoy, real = _lock(1, 546, STRANGER), _lock(2, 150_000, POOL)
    assert our_pool_lock([decoy, real], POOL) == real


def test_a_smaller_decoy_claimed_by_the_pool_put_first_is_not_followed() -> None:
    decoy, real = _lock(1, 1_000, POOL), _lock(2, 150_000, POOL)
    assert our_pool_lock([decoy, real], POOL) == real
    # a larger "decoy" refunds its coins to us: following it loses us nothing
    gift = _lock(3, 200_000, POOL)
    assert our_pool_lock([decoy, real, gift], POOL) == gift


def test_no_lock_claimed_by_the_pool_or_no_pool_gives_none() -> None:
    assert our_pool_lock([_lock(1, 546, STRANGER)], POOL) is None
    assert our_pool_lock([_lock(2, 150_000, POOL)], None) is None
    assert our_pool_lock([], POOL) is None


TOKEN = b"\xee" * 20  # a token contract the attacker deployed: its units are worth nothing


def _token_lock(n: int, amount: int, claim_key: bytes) -> HtlcLock:
    terms = HtlcTerms(amount, HASHLOCK, claim_key, OURS, 900, asset_id=TOKEN)
    return HtlcLock("ethereum", f"0x{n:064x}", f"0x{n:064x}", terms, block_height=100 + n)


def test_a_huge_lock_of_a_worthless_token_does_not_hide_our_real_lock() -> None:
    """Attack (review x6a): amounts of different assets were compared as numbers, so a lock of
    a token the attacker minted, 10**30 units refunded to our key with our public hashlock, was
    "the largest" and taken for ours: the watcher refunded the worthless decoy and never our
    real lock (pool swap and direct swap alike)."""
    real = HtlcLock("ethereum", "0x" + "01" * 32, "0x" + "01" * 32,
                    HtlcTerms(10**18, HASHLOCK, POOL, OURS, 500), block_height=100)  # fmt: skip
    decoy = _token_lock(2, 10**30, POOL)
    assert our_pool_lock([real, decoy], POOL) == real
    assert our_pool_lock([decoy], POOL) == decoy  # a token lock alone is still found
    [plan] = plan_direct({"ethereum": [real, _token_lock(3, 10**30, STRANGER)],
                          "bitcoin": []}, {"ethereum": OURS, "bitcoin": STRANGER})  # fmt: skip
    assert plan.legs is not None and plan.legs[0].amount == 10**18
    assert plan.legs[0].asset_id is None and real.lock_id in plan.detail


def test_after_the_reveal_every_open_lock_to_us_is_claimed_not_the_first_chain_s() -> None:
    """Attack (review x6a): our lock was claimed (the secret is out) and the database lost
    before we claimed the counterparty's lock. Anyone may now lock dust to our key with the
    public hashlock on a third configured chain whose name sorts first: recover rebuilt the
    swap with that dust as the counter leg, the watcher claimed the dust, never the real
    counter lock, and the counterparty refunded it at its timelock: the user lost the swap's
    whole counter amount. Every open lock to us now gets a record that claims it."""
    ours = HtlcTerms(10**18, HASHLOCK, STRANGER, OURS, 500)
    our_lock = HtlcLock("ethereum", "0x" + "01" * 32, "0x" + "01" * 32, ours,
                        block_height=100, state=LockState.CLAIMED)  # fmt: skip
    theirs = HtlcTerms(5 * 10**8, HASHLOCK, OURS, STRANGER, 700)
    real = HtlcLock("handshake", "aa" * 32 + ":0", "aa" * 32, theirs, block_height=90)
    dust = HtlcLock("bitcoin", "bb" * 32 + ":0", "bb" * 32,
                    HtlcTerms(546, HASHLOCK, OURS, STRANGER, 800), block_height=101)  # fmt: skip
    more_dust = [
        HtlcLock("bitcoin", f"{n:064x}:0", f"{n:064x}",
                 HtlcTerms(546 + n, HASHLOCK, OURS, STRANGER, 800), block_height=102)
        for n in range(1, 20)
    ]  # fmt: skip
    keys = {"bitcoin": OURS, "ethereum": OURS, "handshake": OURS}
    locks = {"bitcoin": [dust, *more_dust], "ethereum": [our_lock], "handshake": [real]}
    plans = plan_direct(locks, keys)
    claimed = sorted((p.legs[1].chain, p.legs[1].amount) for p in plans if p.legs is not None)
    assert claimed == [("bitcoin", 546 + 19), ("handshake", 5 * 10**8)]  # one per chain, best
    assert len({p.tag for p in plans}) == len(plans)  # one record id each
