"""The mempool view: parents before children whatever the node's order, each tx fetched once."""

from __future__ import annotations

from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut, lx
from etm_bridge_bitcoin.index import ChainIndex, outpoint_key, txid_hex
from etm_bridge_bitcoin.mempool import MempoolCache, parents_first, touches
from etm_bridge_bitcoin.script import HtlcScript
from etm_bridge_bitcoin.txbuild import WalletKey, build_claim_tx, build_lock_tx

from etm_bridge.hashlock import hashlock_of

US = WalletKey(b"\x0a" * 32)
THEM = WalletKey(b"\x0b" * 32)
STRANGER = WalletKey(b"\x0c" * 32)
PREIMAGE = b"\x42" * 32
HTLC = HtlcScript(hashlock_of(PREIMAGE), US.pubkey, THEM.pubkey, 300)


def _pay(key: WalletKey, value: int, prev: str = "ee" * 32) -> CTransaction:
    return CTransaction(
        [CTxIn(COutPoint(lx(prev), 0))], [CTxOut(value, CScript(key.script_pubkey))]
    )


def _their_lock_and_our_claim() -> tuple[ChainIndex, CTransaction, CTransaction, CTransaction]:
    """Our index at the tip (nothing of ours yet); their funding, lock and our claim, unmined."""
    their_index = ChainIndex(birth_height=0)
    funding = _pay(THEM, 500_000)
    their_index.apply_tx(funding, 1, THEM.script_pubkey)
    lock, _ = build_lock_tx(THEM, their_index.spendable(), HTLC, 200_000, 2)
    claim = build_claim_tx(US, txid_hex(lock), 0, 200_000, HTLC, PREIMAGE, 2)
    return ChainIndex(birth_height=0), funding, lock, claim


class _Node:
    """The mempool as a node lists it; counts fetches."""

    def __init__(self, *txs: CTransaction) -> None:
        self.txs = {txid_hex(tx): tx for tx in txs}
        self.fetched: list[str] = []

    def fetch(self, txid: str) -> CTransaction | None:
        self.fetched.append(txid)
        return self.txs.get(txid)


def test_claim_listed_before_its_unconfirmed_lock_is_still_seen() -> None:
    view, _, lock, claim = _their_lock_and_our_claim()
    node = _Node(lock, claim)
    MempoolCache().apply(view, [txid_hex(claim), txid_hex(lock)], node.fetch, US.script_pubkey)
    key = outpoint_key(txid_hex(lock), 0)
    assert key in view.locks and view.spends[key].txid == txid_hex(claim)
    assert PREIMAGE in view.spends[key].witness
    assert view.coins[outpoint_key(txid_hex(claim), 0)][1] is None  # our unconfirmed claim output


def test_each_mempool_tx_is_fetched_once_and_strangers_are_kept_by_txid_only() -> None:
    view, _, lock, claim = _their_lock_and_our_claim()
    stranger = _pay(STRANGER, 10_000, prev="dd" * 32)
    node = _Node(lock, claim, stranger)
    cache = MempoolCache()
    listed = [txid_hex(stranger), txid_hex(claim), txid_hex(lock)]
    cache.apply(view, listed, node.fetch, US.script_pubkey)
    assert sorted(node.fetched) == sorted(listed)
    assert set(cache.irrelevant) == {txid_hex(stranger)}
    assert set(cache.relevant) == {txid_hex(lock), txid_hex(claim)}
    again = ChainIndex(birth_height=0)
    cache.apply(again, listed, node.fetch, US.script_pubkey)
    assert len(node.fetched) == 3  # nothing fetched again
    assert again.locks == view.locks and again.spends == view.spends


def test_transactions_that_left_the_mempool_are_forgotten() -> None:
    view, _, lock, claim = _their_lock_and_our_claim()
    node = _Node(lock, claim)
    cache = MempoolCache()
    cache.apply(view, [txid_hex(lock), txid_hex(claim), "ab" * 32], node.fetch, US.script_pubkey)
    cache.apply(ChainIndex(birth_height=0), [txid_hex(lock)], node.fetch, US.script_pubkey)
    assert set(cache.relevant) == {txid_hex(lock)} and cache.irrelevant == {}
    cache.reset()
    assert cache.relevant == {} and cache.irrelevant == {}


def test_touches_our_coins_locks_and_markers_only() -> None:
    view, funding, lock, claim = _their_lock_and_our_claim()
    assert touches(view, lock, US.script_pubkey)  # marker output
    assert not touches(view, funding, US.script_pubkey)
    assert not touches(view, claim, THEM.script_pubkey)  # pays US, spends an unknown lock
    view.apply_tx(lock, None, US.script_pubkey)
    assert touches(view, claim, THEM.script_pubkey)  # spends a known lock


def test_parents_first_keeps_the_node_order_otherwise() -> None:
    a, b = _pay(US, 1, prev="01" * 32), _pay(US, 2, prev="02" * 32)
    child = _pay(US, 3, prev=txid_hex(a))
    grandchild = _pay(US, 4, prev=txid_hex(child))
    txs = {txid_hex(t): t for t in (a, b, child, grandchild)}
    order = [txid_hex(t) for t in (grandchild, b, child, a)]
    expected = [txid_hex(t) for t in (a, child, grandchild, b)]
    assert parents_first(txs, order) == expected
    assert parents_first(txs, [txid_hex(b), "ff" * 32]) == [txid_hex(b)]


def test_a_claim_judged_before_its_lock_was_scanned_is_judged_again() -> None:
    """The lock was mined between our chain scan and getrawmempool: its claim looked like a
    stranger's transaction; once the block is scanned, the claim is fetched and applied."""
    view, _, lock, claim = _their_lock_and_our_claim()
    node = _Node(claim)
    cache = MempoolCache()
    cache.apply(view, [txid_hex(claim)], node.fetch, THEM.script_pubkey)
    assert set(cache.irrelevant) == {txid_hex(claim)}
    scanned = ChainIndex(birth_height=0)
    scanned.apply_tx(lock, 5, THEM.script_pubkey)  # the next call's sync found the lock's block
    cache.apply(scanned, [txid_hex(claim)], node.fetch, THEM.script_pubkey)
    assert node.fetched == [txid_hex(claim)] * 2
    assert scanned.spends[outpoint_key(txid_hex(lock), 0)].txid == txid_hex(claim)
    assert set(cache.relevant) == {txid_hex(claim)} and cache.irrelevant == {}
