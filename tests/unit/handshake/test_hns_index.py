"""The Handshake wallet index (the shared ``etm_bridge.utxo`` index read through the hsd codec):
coins, marker locks and their spends, the mempool cache, activity, and files it must never
misread (persistence: ``tests/unit/utxo/test_utxo_index_files.py``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from etm_bridge_bitcoin.index import ChainIndex as BitcoinIndex
from etm_bridge_bitcoin.index import save_index as save_bitcoin_index
from etm_bridge_handshake.activity import HashlockResolver, index_activity
from etm_bridge_handshake.index import ChainIndex, load_index, outpoint_key, save_index
from etm_bridge_handshake.mempool import MempoolCache, parents_first, touches
from etm_bridge_handshake.txbuild import Coin, build_claim_tx, build_lock_tx
from utxo_index_kit import Handshake

import etm_bridge.utxo
from etm_bridge.hashlock import hashlock_of

H = Handshake
US, THEM, PREIMAGE, HTLC, OUR = H.US, H.THEM, H.PREIMAGE, H.HTLC, H.OUR
_funding, _index_with_lock = Handshake.funding, Handshake.index_with_lock


def test_a_lock_spends_our_coin_at_once_records_the_lock_and_then_its_claim() -> None:
    index, funding, lock = _index_with_lock()
    assert outpoint_key(funding.txid_hex, 0) in index.pending_spent
    change = lock.outputs[2].value
    assert index.spendable() == [Coin(lock.txid_hex, 2, change)]
    assert index.confirmed_balance() == 0
    recorded = index.locks[outpoint_key(lock.txid_hex, 0)]
    assert recorded.height is None and recorded.value == 5_000_000 and recorded.pays(HTLC.hashlock)
    assert list(index.locks) == [outpoint_key(lock.txid_hex, 0)]  # the marker is no lock
    index.apply_tx(lock, 102, OUR)
    assert index.pending_spent == set() and index.confirmed_balance() == change
    claim = build_claim_tx(THEM, lock.txid_hex, 0, 5_000_000, HTLC, PREIMAGE, 20)
    index.apply_tx(claim, 103, OUR)
    spend = index.spends[outpoint_key(lock.txid_hex, 0)]
    assert spend.txid == claim.txid_hex and spend.height == 103 and PREIMAGE in spend.witness


def test_an_unconfirmed_refund_to_us_is_spendable_as_before_the_shared_index() -> None:
    """Handshake has no fee bumps: its pending spends' outputs are not held (Bitcoin's are)."""
    index, _, lock = _index_with_lock()
    index.apply_tx(lock, 102, OUR)
    claim = build_claim_tx(US, lock.txid_hex, 0, 5_000_000, HTLC, PREIMAGE, 20)
    index.apply_tx(claim, None, OUR)
    assert index.held == set()
    assert Coin(claim.txid_hex, 0, claim.outputs[0].value) in index.spendable()


def test_the_mempool_cache_applies_a_claim_listed_before_its_lock() -> None:
    index = ChainIndex(birth_height=100)
    index.apply_tx(_funding(9_000_000), 101, OUR)
    lock, _ = build_lock_tx(US, index.spendable(), HTLC, 5_000_000, 20)
    claim = build_claim_tx(THEM, lock.txid_hex, 0, 5_000_000, HTLC, PREIMAGE, 20)
    txs = {lock.txid_hex: lock, claim.txid_hex: claim}
    assert parents_first(txs, [claim.txid_hex, lock.txid_hex]) == [lock.txid_hex, claim.txid_hex]
    assert touches(index, lock, OUR) and not touches(index, claim, OUR)  # an unknown lock
    view = ChainIndex.from_json(index.to_json())
    MempoolCache().apply(view, [claim.txid_hex, lock.txid_hex], txs.get, OUR)
    assert view.spends[outpoint_key(lock.txid_hex, 0)].txid == claim.txid_hex


def _bitcoin_index_file(path: Path, version: int) -> None:
    index = BitcoinIndex(birth_height=100)
    index.coins["cc" * 32 + ":0"] = [1_000, 101]
    index.record_tip(101, "ab" * 32)
    save_bitcoin_index(path, index)
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": version}))


@pytest.mark.parametrize(
    "text",
    [
        "[]",  # valid JSON but not an object: crashed the adapter's start before
        '"version"',
        "{not json",
        '{"version": 2, "chain": "handshake", "birth_height": 100, "tips": 5}',
        '{"version": 2, "chain": "handshake", "birth_height": 100, "tips": [],'
        ' "coins": {"a:0": 5}, "pending_spent": [], "locks": {}, "spends": {}}',
        '{"version": 2, "chain": "handshake", "birth_height": 100, "tips": [], "coins": {},'
        ' "pending_spent": [], "locks": {"a:0": {"txid": "a"}}, "spends": {}}',
    ],
)
def test_a_malformed_index_file_is_rescanned_never_misread(tmp_path: Path, text: str) -> None:
    path = tmp_path / "idx.json"
    path.write_text(text)
    fresh = load_index(path, 100)
    assert fresh.coins == {} and fresh.locks == {} and fresh.next_height == 100


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_bitcoin_index_file_is_rescanned_by_handshake(tmp_path: Path, version: int) -> None:
    """The attack: hand the Handshake adapter a Bitcoin index file (the format is shared), even
    relabelled with Handshake's version: no Bitcoin coin or tip may be read as ours."""
    path = tmp_path / "idx.json"
    _bitcoin_index_file(path, version)
    fresh = load_index(path, 100)
    assert fresh.coins == {} and fresh.tips == [] and fresh.next_height == 100


def test_an_index_file_of_the_format_before_the_shared_one_is_rescanned(tmp_path: Path) -> None:
    index, _, _ = _index_with_lock()
    index.record_tip(101, "ab" * 32)
    path = tmp_path / "idx.json"
    save_index(path, index)
    old = {k: v for k, v in json.loads(path.read_text()).items() if k != "chain"}
    path.write_text(json.dumps({**old, "version": 1}))  # what FORMAT_VERSION 1 wrote
    assert load_index(path, 100).next_height == 100


@pytest.mark.parametrize("module", ["index", "mempool", "activity"])
def test_the_shared_index_mempool_cache_and_activity_are_pure(module: str) -> None:
    """Only ``files.py`` of ``etm_bridge.utxo`` touches the file system."""
    path = Path(etm_bridge.utxo.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    io = {"socket", "requests", "sqlite3", "subprocess", "urllib", "http", "os", "pathlib", "json"}
    assert {name.split(".")[0] for name in names} & io == set()


def test_activity_reads_spends_from_witnesses_and_matches_watched_locks_only() -> None:
    index, _, lock = _index_with_lock()
    index.apply_tx(lock, 102, OUR)
    claim = build_claim_tx(THEM, lock.txid_hex, 0, 5_000_000, HTLC, PREIMAGE, 20)
    index.apply_tx(claim, 103, OUR)
    nobody = HashlockResolver()
    assert index_activity(index, 102, 102, nobody, unconfirmed=False) == set()
    assert index_activity(index, 103, 103, nobody, unconfirmed=False) == {HTLC.hashlock}
    watching = HashlockResolver()
    watching.watch(hashlock_of(b"\x08" * 32))
    assert index_activity(index, 102, 102, watching, unconfirmed=False) == set()
    watching.watch(HTLC.hashlock)  # watched later: the same lock is tried again
    assert index_activity(index, 102, 102, watching, unconfirmed=False) == {HTLC.hashlock}
    assert index_activity(index, 104, 110, watching, unconfirmed=True) == set()
