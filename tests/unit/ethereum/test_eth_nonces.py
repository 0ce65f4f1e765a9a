"""Nonce reconciliation rules: trust our persisted nonce only while the node knows our last tx.

The node is represented by two plain functions (its pending count and whether it knows a tx);
the same manager against a real anvil, with threads and restarts, is in
tests/integration/ethereum/test_nonces.py.
"""

from __future__ import annotations

import pytest
from etm_bridge_ethereum.nonces import NonceManager

from etm_bridge.errors import ConfigError

ADDRESS = "0x" + "ab" * 20


def _manager(tmp_path, pending: list[int], known: set[str]) -> NonceManager:
    return NonceManager(tmp_path, 31337, ADDRESS, lambda: pending[0], lambda h: h in known)


def test_first_nonce_is_the_nodes_pending_count(tmp_path):
    manager = _manager(tmp_path, [7], set())
    with manager.reserve() as slot:
        assert slot.nonce == 7
        slot.commit("0xaa")
    assert manager.persisted() == (8, "0xaa")


def test_uncommitted_reservation_persists_nothing(tmp_path):
    manager = _manager(tmp_path, [3], set())
    with pytest.raises(RuntimeError), manager.reserve() as slot:
        assert slot.nonce == 3
        raise RuntimeError("broadcast failed")
    assert manager.persisted() is None


def test_persisted_nonce_wins_while_the_node_knows_our_last_tx(tmp_path):
    pending = [5]
    manager = _manager(tmp_path, pending, {"0xaa"})
    with manager.reserve() as slot:
        slot.commit("0xaa")  # nonce 5 broadcast; a lagging node still says 5
    with manager.reserve() as slot:
        assert slot.nonce == 6


def test_persisted_nonce_of_a_dropped_tx_is_not_trusted(tmp_path):
    manager = _manager(tmp_path, [5], set())  # the node never saw 0xaa
    with manager.reserve() as slot:
        slot.commit("0xaa")
    with manager.reserve() as slot:
        assert slot.nonce == 5  # reuse: no gap


def test_node_ahead_of_our_file_wins(tmp_path):
    pending = [5]
    manager = _manager(tmp_path, pending, {"0xaa"})
    with manager.reserve() as slot:
        slot.commit("0xaa")
    pending[0] = 9  # the key was used elsewhere
    with manager.reserve() as slot:
        assert slot.nonce == 9


def test_state_survives_a_new_manager_on_the_same_dir(tmp_path):
    with _manager(tmp_path, [2], {"0xaa"}).reserve() as slot:
        slot.commit("0xaa")
    with _manager(tmp_path, [2], {"0xaa"}).reserve() as slot:
        assert slot.nonce == 3


def test_corrupt_state_file_is_a_config_error(tmp_path):
    manager = _manager(tmp_path, [0], set())
    manager.state_path.write_text("{not json")
    with pytest.raises(ConfigError, match="corrupt"):
        manager.persisted()
