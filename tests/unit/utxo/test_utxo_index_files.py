"""Every chain's wallet index on the shared UTXO index (``etm_bridge.utxo``) persists: saved and
loaded, its locks, coins, pending spends and next height come back; a different birth height
or a file that is not JSON starts the scan over."""

from __future__ import annotations

from pathlib import Path

import pytest
from utxo_index_kit import Bitcoin, Handshake


@pytest.mark.parametrize("chain", [Bitcoin, Handshake], ids=lambda c: c.name)
def test_the_index_persists_and_a_different_birth_height_starts_over(
    tmp_path: Path, chain: type[Bitcoin] | type[Handshake]
) -> None:
    index, _, _ = chain.index_with_lock()
    index.record_tip(101, "ab" * 32)
    path = tmp_path / "idx.json"
    chain.save(path, index)
    again = chain.load(path, 100)
    assert again.locks == index.locks and again.coins == index.coins
    assert again.pending_spent == index.pending_spent and again.next_height == 102
    assert chain.load(path, 99).locks == {}
    path.write_text("{not json")
    assert chain.load(path, 100).next_height == 100
