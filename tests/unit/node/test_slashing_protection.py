"""The forger's slashing-protection record on disk (etm_bridge.node.slashing_protection) and its
EIP-3076-like interchange, through the library and ``etm-bridge node slashing-protection``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.chain.genesis import dev_genesis, genesis_block
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.errors import ConfigError, SigningRefusedError, ValidationError
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.server import load_genesis, open_service
from etm_bridge.node.setup import init_node
from etm_bridge.node.slashing_protection import SlashingProtection
from etm_bridge.store import ChainStore

GENESIS = bytes(range(32))
NET = 0x45544D01
KEY, OTHER = b"\x11" * 32, b"\x22" * 32
ROOT = b"\x33" * 32


def _open(path: Path, genesis: bytes = GENESIS) -> SlashingProtection:
    return SlashingProtection(path / "slashing_protection.sqlite", genesis, NET)


def test_the_record_survives_a_reopen_and_refuses_the_slot_and_below(tmp_path: Path) -> None:
    guard = _open(tmp_path)
    guard.approve(KEY, 100, ROOT)
    guard.close()  # e.g. the process was killed right after signing
    reopened = _open(tmp_path)
    for slot in (100, 99, 0):
        with pytest.raises(SigningRefusedError, match="already signed a block at slot 100"):
            reopened.approve(KEY, slot, b"\x44" * 32)
    assert reopened.highest(KEY) == 100
    reopened.approve(KEY, 101, ROOT)
    reopened.approve(OTHER, 5, ROOT)  # per key
    assert _open(tmp_path, genesis=bytes(32)).highest(KEY) is None  # per chain


def _document(slot: str = "500", genesis: bytes = GENESIS, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"interchange_format_version": "5",
                     "genesis_validators_root": "0x" + genesis.hex(),
                     "network_id": f"0x{NET:08x}", **meta},
        "data": [{"pubkey": "0x" + KEY.hex(),
                  "signed_blocks": [{"slot": "7"},
                                    {"slot": slot, "signing_root": "0x" + ROOT.hex()}],
                  "signed_attestations": []}],
    }  # fmt: skip


def test_export_import_moves_the_record_to_another_machine(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    here = _open(tmp_path / "a")
    here.approve(KEY, 42, ROOT)
    exported = here.export()
    assert exported == {
        "metadata": {"interchange_format_version": "5",
                     "genesis_validators_root": "0x" + GENESIS.hex(), "network_id": "0x45544d01"},
        "data": [{"pubkey": "0x" + KEY.hex(),
                  "signed_blocks": [{"slot": "42", "signing_root": "0x" + ROOT.hex()}],
                  "signed_attestations": []}],
    }  # fmt: skip
    (tmp_path / "b").mkdir()
    there = _open(tmp_path / "b")
    assert there.import_(json.loads(json.dumps(exported))) == {KEY.hex(): 42}
    with pytest.raises(SigningRefusedError):
        there.approve(KEY, 42, ROOT)
    there.approve(KEY, 43, ROOT)
    assert there.import_(exported) == {KEY.hex(): 43}  # a lower record never lowers it


def test_an_imported_higher_slot_blocks_the_forger_below_it(tmp_path: Path) -> None:
    cfg, keys = dev_genesis(ChainParams(block_time_s=1, delegates_per_round=3), 3)
    chain = Chain(ChainStore.memory(), cfg)
    guard = SlashingProtection(tmp_path / "sp.sqlite", genesis_block(cfg).id, cfg.params.network_id)
    document = guard.export()
    document["data"] = [{"pubkey": "0x" + k.hex(), "signed_blocks": [{"slot": "50"}]} for k in keys]
    guard.import_(document)
    for now in range(1, 51):
        with pytest.raises(SigningRefusedError, match="already signed a block at slot 50"):
            chain.forge_next(now, keys, guard)
    assert chain.tip.height == 0
    block = chain.forge_next(51, keys, guard)
    assert block is not None and guard.highest(block.header.generator_public_key) == 51


def test_the_guard_sees_the_exact_header_before_it_is_signed(tmp_path: Path) -> None:
    cfg, keys = dev_genesis(ChainParams(block_time_s=1, delegates_per_round=3), 3)
    chain = Chain(ChainStore.memory(), cfg)
    seen: list[tuple[bytes, int, bytes]] = []

    class Spy:
        def approve(self, public_key: bytes, slot: int, signing_root: bytes) -> None:
            seen.append((public_key, slot, signing_root))

    class Broken:
        def approve(self, public_key: bytes, slot: int, signing_root: bytes) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        chain.forge_next(1, keys, Broken())  # the record cannot be written: nothing is signed
    assert chain.tip.height == 0
    block = chain.forge_next(1, keys, Spy())
    assert block is not None
    root = block.header.signing_root(chain.genesis_id)  # the signing domain: this genesis
    assert seen == [(block.header.generator_public_key, 1, root)]


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        (_document(genesis=bytes(32)), ConfigError, "import it into the node of that chain"),
        (_document(network_id="0x00000001"), ConfigError, "this node's is 0x45544d01"),
        (_document(interchange_format_version="4"), ValidationError, "must be '5'"),
        (_document(slot="-1"), ValidationError, "decimal string"),
        (_document(slot="12x"), ValidationError, "decimal string"),
        ({"data": []}, ValidationError, "metadata"),
        ([], ValidationError, "metadata"),
        ({**_document(), "data": [{"pubkey": "0x12"}]}, ValidationError, "32 bytes"),
        ({**_document(), "data": {"x": 1}}, ValidationError, "must be a list"),
    ],
)
def test_bad_interchange_files_are_refused_whole(
    tmp_path: Path, document: Any, error: type[Exception], message: str
) -> None:
    guard = _open(tmp_path)
    guard.approve(OTHER, 3, ROOT)
    if isinstance(document, dict) and isinstance(document.get("data"), list) and document["data"]:
        document["data"].insert(0, {"pubkey": "0x" + OTHER.hex(), "signed_blocks": [{"slot": "9"}]})
    with pytest.raises(error, match=message):
        guard.import_(document)
    assert guard.highest(OTHER) == 3 and guard.highest(KEY) is None  # nothing half-imported


def test_cli_export_and_import_between_two_data_dirs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init_node(a, delegates=2, block_time_s=1, funded_accounts=0, port=0, genesis_time=0)
    init_node(b, delegates=2, block_time_s=1, funded_accounts=0, port=0, genesis_time=0)
    service, store = open_service(NodeConfig.load(a))
    try:
        block = service.forge(5)
        assert block is not None
    finally:
        store.close()
        assert isinstance(service.guard, SlashingProtection)
        service.guard.close()
    out = tmp_path / "record.json"
    runner = CliRunner()
    exported = runner.invoke(cli, ["node", "slashing-protection", "export", "--data-dir", str(a),
                                   "--out", str(out)])  # fmt: skip
    assert exported.exit_code == 0, exported.output
    record = json.loads(out.read_text())
    assert [e["signed_blocks"][0]["slot"] for e in record["data"]] == ["5"]
    imported = runner.invoke(cli, ["node", "slashing-protection", "import", "--data-dir", str(b),
                                   str(out), "--json"])  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["highest_slots"] == {
        block.header.generator_public_key.hex(): 5
    }
    printed = runner.invoke(cli, ["node", "slashing-protection", "export", "--data-dir", str(b)])
    assert json.loads(printed.output)["data"] == record["data"]
    other_chain = tmp_path / "c"
    init_node(other_chain, delegates=2, block_time_s=3, funded_accounts=0, port=0)
    refused = runner.invoke(cli, ["node", "slashing-protection", "import", "--data-dir",
                                  str(other_chain), str(out)])  # fmt: skip
    assert refused.exit_code == 2 and "import it into the node of that chain" in refused.output


@pytest.mark.parametrize("slot", ["²", "٣", str(2**32), str(2**63 - 1), "9" * 40])
def test_an_interchange_slot_no_block_can_have_is_refused_with_a_clear_error(
    tmp_path: Path, slot: str
) -> None:
    """A malicious or corrupt file: "²" made int() raise ValueError, 40 digits an OverflowError
    from SQLite, and 2**63 - 1 was imported, so the key would never forge again (an import only
    ever raises a record)."""
    guard = _open(tmp_path)
    with pytest.raises(ValidationError, match="slot"):
        guard.import_(_document(slot=slot))
    assert guard.highest(KEY) is None
    guard.approve(KEY, 1, ROOT)


def test_cli_import_warns_about_a_record_after_the_current_slot(tmp_path: Path) -> None:
    init_node(tmp_path, delegates=1, block_time_s=1, funded_accounts=0, port=0)
    config = NodeConfig.load(tmp_path)
    genesis = genesis_block(load_genesis(config))
    pk = load_genesis(config).delegates[0].public_key
    document = _document(slot=str(2**32 - 1), genesis=genesis.id)
    document["data"][0]["pubkey"] = "0x" + pk.hex()
    path = tmp_path / "future.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(
        cli, ["node", "slashing-protection", "import", "--data-dir", str(tmp_path), str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "will not forge with it before then" in result.output
