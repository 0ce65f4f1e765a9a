"""Swap secrets come from the wallet's seed and a swap index that is never handed out twice,
even when the process dies between deriving a secret and recording its swap."""

from __future__ import annotations

from pathlib import Path

import pytest

from etm_bridge.app.context import AppContext
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.ids import user_swap_id
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.wallet.derive import UnlockedWallet, swap_secret

pytestmark = pytest.mark.unit

SEED = bytes(range(32))


def _ctx(db: Path) -> AppContext:
    return AppContext(keys=UnlockedWallet(SEED), swaps_db=db)


def test_secrets_follow_the_index_and_a_crash_burns_the_index_instead_of_reusing_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "swaps.db"
    ctx = _ctx(db)
    first = ctx.new_swap()
    assert first[0] == swap_secret(SEED, 0)
    assert first[1] == sha256(first[0]) and first[2] == user_swap_id(first[1])
    ctx.close()  # "crash": the swap was derived (its index taken) but never recorded
    again = _ctx(db)
    second = again.new_swap()
    assert second[0] == swap_secret(SEED, 1) != first[0]
    assert again.store().next_swap_index() == 2
    again.close()


def test_the_index_survives_a_reopened_database_and_recover_only_raises_it(tmp_path: Path) -> None:
    store = SwapStore(tmp_path / "swaps.db")
    assert [store.reserve_swap_index() for _ in range(3)] == [0, 1, 2]
    store.raise_swap_index(1)  # never lowered
    assert store.next_swap_index() == 3
    store.raise_swap_index(10)
    store.close()
    assert SwapStore(tmp_path / "swaps.db").reserve_swap_index() == 10


def test_injected_secrets_and_non_wallet_keys_keep_their_source(tmp_path: Path) -> None:
    ctx = AppContext(keys=UnlockedWallet(SEED), swaps_db=tmp_path / "a.db",
                     new_secret=lambda: b"\x07" * 32)  # fmt: skip
    assert ctx.new_swap()[0] == b"\x07" * 32
    assert ctx.store().next_swap_index() == 0
