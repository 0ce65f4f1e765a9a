"""The state overlay (savepoints, net changes, scans, declared tables) and the SQLite store."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import DevChain, addr

from etm_bridge.chain.state import (
    CORE_TABLES,
    EmptyBackend,
    State,
    TableSpec,
    TableStore,
    decode_changes,
    encode_changes,
    next_state_digest,
)
from etm_bridge.errors import NotFoundError, ValidationError
from etm_bridge.store import ChainStore

TABLES = [t.name for t in CORE_TABLES] + ["xt"]


def test_rollback_restores_every_write() -> None:
    s = State(EmptyBackend(), TABLES)
    s.put("xt", b"a", b"1")
    s.savepoint()
    s.put("xt", b"a", b"2")
    s.put("xt", b"b", b"3")
    s.delete("xt", b"a")
    s.rollback()
    assert s.changes() == {("xt", b"a"): b"1"}


def test_net_changes_drop_writes_that_restore_the_old_value() -> None:
    s = State(EmptyBackend(), TABLES)
    s.put("xt", b"a", b"1")
    s.delete("xt", b"a")
    assert s.changes() == {}


def test_undeclared_table_is_refused() -> None:
    with pytest.raises(ValidationError, match="not declared"):
        State(EmptyBackend(), TABLES).put("nope", b"k", b"v")
    for bad in ("Bad-Name", "accounts\n", ""):  # "$" alone would let the newline through
        with pytest.raises(ValidationError, match="must match"):
            TableSpec(bad, "x")


def test_scan_merges_overlay_and_backend(dev: DevChain) -> None:
    s = State(dev.chain.store, dev.chain.registry.table_names)
    stored = s.scan("delegates")
    s.delete("delegates", stored[0][0])
    s.put("delegates", b"\x00" * 32, b"{}")
    keys = [k for k, _ in s.scan("delegates")]
    assert keys[0] == b"\x00" * 32 and stored[0][0] not in keys and keys == sorted(keys)


def test_change_encoding_round_trip_and_digest_is_order_independent() -> None:
    changes = {("xt", b"b"): None, ("accounts", b"a" * 20): b"x" * 16, ("xt", b""): b""}
    assert decode_changes(b"".join(encode_changes(changes))) == changes
    reordered = dict(reversed(list(changes.items())))
    assert next_state_digest(bytes(32), 1, changes) == next_state_digest(bytes(32), 1, reordered)
    assert next_state_digest(bytes(32), 1, changes) != next_state_digest(bytes(32), 2, changes)


def test_table_store_adapts_a_table_to_key_value_protocol() -> None:
    s = State(EmptyBackend(), TABLES)
    kv = TableStore(s, "xt")
    kv.write_batch({b"h1": b"x", b"h2": b"y"})
    kv.put(b"h3", b"z")
    assert kv.get(b"h2") == b"y" and s.get("xt", b"h3") == b"z"


def test_store_revert_tip_restores_the_previous_state(dev: DevChain) -> None:
    store = dev.chain.store
    before = store.full_state_digest()
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 5))
    block = dev.forge()
    assert store.full_state_digest() != before
    assert store.revert_tip() == block
    assert store.full_state_digest() == before
    with pytest.raises(NotFoundError):
        store.tx_location(block.transactions[0].id)


def test_failed_atomic_block_leaves_nothing(tmp_path: Path, dev: DevChain) -> None:
    store = ChainStore.open(tmp_path / "c.sqlite")
    from etm_bridge.chain.ledger import Chain

    chain = Chain(store, dev.cfg)
    before = store.full_state_digest()
    with pytest.raises(RuntimeError), store.atomic():
        store._write_changes({("accounts", b"z" * 20): b"\x00" * 16})
        raise RuntimeError("crash in the middle")
    assert store.full_state_digest() == before and chain.tip.height == 0
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_prefix_scan_bounds(dev: DevChain) -> None:
    store = dev.chain.store
    with store.atomic():
        store._write_changes({("votes", b"\xff\xff"): b"1", ("votes", b"\xfe\xff"): b"2"})
    assert [k for k, _ in store.scan("votes", b"\xff")] == [b"\xff\xff"]
    assert [k for k, _ in store.scan("votes", b"\xfe")] == [b"\xfe\xff"]


FORBIDDEN = {"sqlite3", "sqlite_utils", "socket", "requests", "time", "os", "pathlib", "random",
             "subprocess", "urllib", "http", "asyncio", "threading"}  # fmt: skip


def test_chain_package_does_no_io() -> None:
    root = Path(__file__).resolve().parents[3] / "etm_bridge" / "chain"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert "store" not in node.module, f"{path} imports the store"
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path} imports {name}"
