"""htlc_activity's pure half: hashlocks of locks and spends in a height range of the index."""

from __future__ import annotations

import hashlib

from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut, lx
from etm_bridge_bitcoin.activity import HashlockResolver, index_activity, witness_hashlock
from etm_bridge_bitcoin.index import ChainIndex, outpoint_key, txid_hex
from etm_bridge_bitcoin.script import HtlcScript
from etm_bridge_bitcoin.txbuild import WalletKey, build_claim_tx, build_lock_tx, build_refund_tx

from etm_bridge.hashlock import hashlock_of

US = WalletKey(b"\x0a" * 32)
THEM = WalletKey(b"\x0b" * 32)
PREIMAGE = b"\x42" * 32
HTLC = HtlcScript(hashlock_of(PREIMAGE), THEM.pubkey, US.pubkey, 300)
AMOUNT = 200_000


def _index_with_lock(htlc: HtlcScript = HTLC, height: int | None = 102) -> tuple[ChainIndex, str]:
    """An index holding our coin (height 101) and a lock of ``htlc`` mined at ``height``."""
    index = ChainIndex(birth_height=100)
    funding = CTransaction(
        [CTxIn(COutPoint(lx("ee" * 32), 0))], [CTxOut(500_000, CScript(US.script_pubkey))]
    )
    index.apply_tx(funding, 101, US.script_pubkey)
    lock, _ = build_lock_tx(US, index.spendable(), htlc, AMOUNT, 2)
    index.apply_tx(lock, height, US.script_pubkey)
    return index, txid_hex(lock)


def _watching(*hashlocks: bytes) -> HashlockResolver:
    resolver = HashlockResolver()
    for hashlock in hashlocks:
        resolver.watch(hashlock)
    return resolver


def _activity(index: ChainIndex, start: int, end: int, resolver: HashlockResolver, **kw) -> set:
    return index_activity(index, start, end, resolver, unconfirmed=kw.get("unconfirmed", False))


def test_a_mined_lock_of_a_watched_hashlock_is_reported_in_its_block_only() -> None:
    index, _ = _index_with_lock()
    resolver = _watching(hashlock_of(b"\x01" * 32), HTLC.hashlock, hashlock_of(b"\x02" * 32))
    assert _activity(index, 102, 102, resolver) == {HTLC.hashlock}
    assert _activity(index, 100, 110, resolver) == {HTLC.hashlock}
    assert _activity(index, 103, 110, resolver) == set()
    assert _activity(index, 100, 101, resolver) == set()


def test_a_lock_nobody_watches_is_not_reported_until_its_hashlock_is_watched() -> None:
    index, _ = _index_with_lock()
    resolver = _watching(hashlock_of(b"\x01" * 32))
    assert _activity(index, 102, 102, resolver) == set()
    resolver.watch(HTLC.hashlock)  # tried again against the newly watched hashlock only
    assert _activity(index, 102, 102, resolver) == {HTLC.hashlock}


def test_a_lock_with_other_keys_or_timelock_is_reported_under_its_hashlock() -> None:
    """A counterparty's mismatched lock (short timelock, wrong key) must wake its swap too."""
    short = HtlcScript(HTLC.hashlock, US.pubkey, THEM.pubkey, 7)
    index, _ = _index_with_lock(short)
    assert _activity(index, 102, 102, _watching(HTLC.hashlock)) == {HTLC.hashlock}


def test_a_claim_is_reported_from_its_witness_even_for_an_unwatched_hashlock() -> None:
    index, lock_txid = _index_with_lock()
    claim = build_claim_tx(THEM, lock_txid, 0, AMOUNT, HTLC, PREIMAGE, 2)
    index.apply_tx(claim, 105, US.script_pubkey)
    nobody = HashlockResolver()
    assert _activity(index, 105, 105, nobody) == {HTLC.hashlock}
    assert _activity(index, 103, 104, nobody) == set()
    spend = index.spends[outpoint_key(lock_txid, 0)]
    assert witness_hashlock(spend.witness) == hashlock_of(PREIMAGE)


def test_a_refund_is_reported_from_the_script_in_its_witness() -> None:
    index, lock_txid = _index_with_lock()
    refund = build_refund_tx(US, lock_txid, 0, AMOUNT, HTLC, 2)
    index.apply_tx(refund, 301, US.script_pubkey)
    assert _activity(index, 301, 301, HashlockResolver()) == {HTLC.hashlock}


def test_unconfirmed_locks_and_spends_count_only_when_asked() -> None:
    index, lock_txid = _index_with_lock(height=None)  # a lock in the mempool view
    resolver = _watching(HTLC.hashlock)
    assert _activity(index, 101, 200, resolver) == set()
    assert _activity(index, 101, 200, resolver, unconfirmed=True) == {HTLC.hashlock}
    mined, lock_txid = _index_with_lock()
    claim = build_claim_tx(THEM, lock_txid, 0, AMOUNT, HTLC, PREIMAGE, 2)
    mined.apply_tx(claim, None, US.script_pubkey)  # the claim waits in the mempool
    assert _activity(mined, 103, 110, HashlockResolver(), unconfirmed=True) == {HTLC.hashlock}
    assert _activity(mined, 103, 110, HashlockResolver()) == set()


def test_witness_hashlock_ignores_witnesses_that_are_not_our_template() -> None:
    assert witness_hashlock([]) is None
    assert witness_hashlock([b"\x30" * 71, b"\x02" * 33]) is None  # a P2WPKH spend
    script = HTLC.script
    assert witness_hashlock([b"sig", b"", script]) == HTLC.hashlock
    assert witness_hashlock([b"sig", b"", script[:-1]]) is None


def test_the_template_split_rebuilds_the_htlc_script_pubkey_for_every_hashlock() -> None:
    """The fast match (sha256 of prefix + hashlock + suffix) agrees with HtlcScript."""
    index, lock_txid = _index_with_lock()
    lock = index.locks[outpoint_key(lock_txid, 0)]
    resolver = HashlockResolver()
    for i in range(50):
        hashlock = hashlib.sha256(bytes([i])).digest()
        resolver.watch(hashlock)
    resolver.watch(HTLC.hashlock)
    assert resolver.resolve(outpoint_key(lock_txid, 0), lock) == HTLC.hashlock
    assert lock.marker.htlc(HTLC.hashlock).script_pubkey.hex() == lock.script_pubkey_hex
