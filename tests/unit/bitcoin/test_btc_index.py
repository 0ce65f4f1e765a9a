"""The chain index: coins, marker locks and their spends, pending state, files it must never
misread (persistence: ``tests/unit/utxo/test_utxo_index_files.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from etm_bridge_bitcoin.index import ChainIndex, load_index, outpoint_key, save_index, txid_hex
from etm_bridge_bitcoin.txbuild import Utxo, build_claim_tx
from etm_bridge_handshake.index import ChainIndex as HandshakeIndex
from etm_bridge_handshake.index import save_index as save_handshake_index
from utxo_index_kit import Bitcoin

US, THEM, PREIMAGE, HTLC = Bitcoin.US, Bitcoin.THEM, Bitcoin.PREIMAGE, Bitcoin.HTLC
_funding, _index_with_lock = Bitcoin.funding, Bitcoin.index_with_lock


def test_funding_becomes_a_confirmed_coin() -> None:
    index = ChainIndex(birth_height=100)
    funding = _funding(500_000)
    index.apply_tx(funding, 101, US.script_pubkey)
    assert index.spendable() == [Utxo(txid_hex(funding), 0, 500_000)]
    assert index.confirmed_balance() == 500_000


def test_broadcast_lock_spends_coins_at_once_and_records_the_lock() -> None:
    index, funding, lock = _index_with_lock()
    change = lock.vout[2].nValue
    assert outpoint_key(txid_hex(funding), 0) in index.pending_spent
    assert index.spendable() == [Utxo(txid_hex(lock), 2, change)]  # unconfirmed change
    assert index.confirmed_balance() == 0
    recorded = index.locks[outpoint_key(txid_hex(lock), 0)]
    assert recorded.height is None and recorded.value_sat == 200_000
    assert recorded.marker.htlc(HTLC.hashlock) == HTLC


def test_mined_lock_and_claim_confirm_change_and_record_the_spend() -> None:
    index, _, lock = _index_with_lock()
    index.apply_tx(lock, 102, US.script_pubkey)
    assert index.pending_spent == set()
    assert index.confirmed_balance() == lock.vout[2].nValue
    claim = build_claim_tx(THEM, txid_hex(lock), 0, 200_000, HTLC, PREIMAGE, 2)
    index.apply_tx(claim, 103, US.script_pubkey)
    spend = index.spends[outpoint_key(txid_hex(lock), 0)]
    assert spend.txid == txid_hex(claim) and spend.height == 103
    assert PREIMAGE in spend.witness


def test_a_file_of_another_format_or_chain_or_not_an_object_is_rescanned(tmp_path: Path) -> None:
    """Never misread: the format before the shared index (version 2, no chain), a Handshake
    index file (same shared format) relabelled as Bitcoin's, and JSON that is not an object
    (``[]`` crashed the adapter's start before) all load as an empty index."""
    index, _, _ = _index_with_lock()
    index.record_tip(101, "ab" * 32)
    path = tmp_path / "idx.json"
    save_index(path, index)
    data = json.loads(path.read_text())
    assert data["chain"] == "bitcoin" and load_index(path, 100).next_height == 102
    path.write_text(json.dumps({**{k: v for k, v in data.items() if k != "chain"}, "version": 2}))
    assert load_index(path, 100).next_height == 100
    theirs = HandshakeIndex(birth_height=100)
    theirs.coins["cc" * 32 + ":0"] = [1_000, 101]
    theirs.record_tip(101, "ab" * 32)
    save_handshake_index(path, theirs)
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": data["version"]}))
    assert load_index(path, 100).coins == {}
    path.write_text("[]")
    assert load_index(path, 100).next_height == 100
