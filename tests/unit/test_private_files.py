"""Issue 11 item 14: every file with a secret is written exclusively, never via a symlink, 0600.

The attacks: another local user plants a symlink where a secret is about to be written (the old
writer opened ``<name>.tmp`` with ``O_CREAT|O_TRUNC`` and followed it, delivering the admin token
or the forging seeds into the attacker's readable file), or the secret lands in a file that is
already 0644 (an old file's mode was kept; the swap database, which holds preimages, was created
0644 with its WAL and SHM).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import KeystoreError, PrivateFileError
from etm_bridge.node.config import FORGING_KEYS, NODE_CONFIG, NodeConfig
from etm_bridge.node.service import load_forging_keys, save_forging_keys
from etm_bridge.node.setup import init_node
from etm_bridge.private_files import read_private, secure_sqlite_files, write_private
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.wallet.keystore import write_private_file

SECRET = "admin-token-0123456789abcdef"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """0600 must not depend on a careful umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def attacker_file(tmp_path: Path) -> Path:
    """A world-readable file the attacker will read afterwards."""
    loot = tmp_path / "attacker" / "loot.txt"
    loot.parent.mkdir()
    loot.write_text("attacker's own content\n")
    loot.chmod(0o644)
    return loot


def test_a_symlink_planted_at_the_old_temp_name_receives_nothing(
    tmp_path: Path, attacker_file: Path
) -> None:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    (data_dir / (NODE_CONFIG + ".tmp")).symlink_to(attacker_file)  # the old fixed temp name
    NodeConfig(data_dir=data_dir, admin_token=SECRET).save()
    assert attacker_file.read_text() == "attacker's own content\n"
    assert mode(attacker_file) == 0o644
    assert NodeConfig.load(data_dir).admin_token == SECRET
    assert mode(data_dir / NODE_CONFIG) == 0o600


def test_a_symlink_planted_at_the_target_is_replaced_not_followed(
    tmp_path: Path, attacker_file: Path
) -> None:
    keys_path = tmp_path / FORGING_KEYS
    keys_path.symlink_to(attacker_file)
    key = dev_key("delegate-0")
    save_forging_keys(keys_path, {key.public_key: key})
    assert attacker_file.read_text() == "attacker's own content\n"
    assert not keys_path.is_symlink() and mode(keys_path) == 0o600
    assert list(load_forging_keys(keys_path)) == [key.public_key]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_exclusive_writes_refuse_an_existing_link_or_file(
    tmp_path: Path, attacker_file: Path
) -> None:
    target = tmp_path / "parties.json"
    target.symlink_to(attacker_file)
    with pytest.raises(PrivateFileError, match="already exists"):
        write_private(target, "seeds", overwrite=False)
    assert attacker_file.read_text() == "attacker's own content\n"
    wallet = tmp_path / "wallet.json"
    wallet.symlink_to(tmp_path / "dangling")
    with pytest.raises(KeystoreError, match="was not overwritten"):
        write_private_file(wallet, "sealed seed")
    assert not (tmp_path / "dangling").exists()


def test_an_existing_0644_secret_ends_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    config = init_node(data_dir, delegates=1, funded_accounts=0)
    for name in (NODE_CONFIG, FORGING_KEYS):
        assert mode(data_dir / name) == 0o600
        (data_dir / name).chmod(0o644)
    config.save()
    key = dev_key("delegate-0")
    save_forging_keys(config.forging_keys_path, {key.public_key: key})
    assert mode(data_dir / NODE_CONFIG) == 0o600
    assert mode(data_dir / FORGING_KEYS) == 0o600


def test_reading_a_secret_refuses_a_symlink_and_tightens_a_loose_mode(
    tmp_path: Path, attacker_file: Path
) -> None:
    data_dir = tmp_path / "node"
    NodeConfig(data_dir=data_dir, admin_token=SECRET).save()
    (data_dir / NODE_CONFIG).unlink()
    attacker_file.write_text(json.dumps({"admin_token": "chosen-by-the-attacker-000"}))
    (data_dir / NODE_CONFIG).symlink_to(attacker_file)
    with pytest.raises(PrivateFileError, match="is a symlink"):
        NodeConfig.load(data_dir)
    loose = tmp_path / "loose.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    assert read_private(loose) == "{}"
    assert mode(loose) == 0o600
    assert read_private(tmp_path / "missing.json") is None


def test_the_swap_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "engine" / "swaps.db"
    store = SwapStore(db)
    store.db.execute("CREATE TABLE probe (x)")  # make SQLite write its WAL and SHM
    store.db.conn.commit()
    files = [db, db.with_name("swaps.db-wal"), db.with_name("swaps.db-shm")]
    assert all(f.exists() for f in files)
    assert [mode(f) for f in files] == [0o600] * 3
    assert mode(db.parent) == 0o700
    store.close()


def test_an_old_0644_swap_database_is_tightened_and_a_symlink_refused(
    tmp_path: Path, attacker_file: Path
) -> None:
    db = tmp_path / "swaps.db"
    SwapStore(db).close()
    for f in (db, db.with_name("swaps.db-wal"), db.with_name("swaps.db-shm")):
        if not f.exists():
            f.write_bytes(b"")
        f.chmod(0o644)
    SwapStore(db).close()
    assert mode(db) == 0o600
    assert all(mode(f) == 0o600 for f in tmp_path.glob("swaps.db-*"))
    linked = tmp_path / "other.db"
    linked.symlink_to(attacker_file)
    with pytest.raises(PrivateFileError, match="is a symlink"):
        SwapStore(linked)
    assert attacker_file.read_text() == "attacker's own content\n"
    wal_linked = tmp_path / "third.db"
    secure_sqlite_files(wal_linked)
    wal_linked.with_name("third.db-wal").symlink_to(attacker_file)
    with pytest.raises(PrivateFileError, match="is a symlink"):
        SwapStore(wal_linked)
