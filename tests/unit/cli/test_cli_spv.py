"""``etm-bridge spv risk`` and ``spv verify`` through the real click app."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from etm_bridge_cli.main import cli

VECTORS = Path(os.environ.get("ETM_SPV_VECTORS", "/work/shared/vectors")) / "bitcoin"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_risk_json_gives_exact_and_nakamoto_confirmations() -> None:
    result = _run("spv", "risk", "--q", "0.1", "--risk", "1e-6", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["confirmations"] == 12 and out["nakamoto_confirmations"] == 11
    assert out["attacker_success_probability"] <= 1e-6


def test_risk_text_and_bad_input() -> None:
    result = _run("spv", "risk", "--q", "0.3", "--risk", "0.001")
    assert result.exit_code == 0 and "24" in result.output  # Nakamoto's paper: 24
    bad = _run("spv", "risk", "--q", "abc", "--risk", "0.001")
    assert bad.exit_code == 2 and "attacker share q" in bad.output


def _early_headers(tmp_path: Path) -> tuple[Path, dict]:
    """A header file of real mainnet heights 0..175 and the vectors' entry for block 170."""
    blocks = json.loads((VECTORS / "merkle_proofs.json").read_text())["blocks"]
    block = next(b for b in blocks if b["height"] == 170)
    lines = (VECTORS / "mainnet_headers_0_10236.hex").read_text().split()[:176]
    path = tmp_path / "headers.hex"
    path.write_text("\n".join(lines) + "\n")
    return path, block


def test_verify_branch_offline_against_real_headers(tmp_path: Path) -> None:
    headers, block = _early_headers(tmp_path)
    proof = next(p for p in block["proofs"] if p["index"] == 1)
    args = [
        "spv", "verify", "--headers", str(headers), "--tx", proof["raw_tx"],
        "--branch", ",".join(proof["branch"]), "--block-hash", block["block_hash"],
        "--index", "1", "--tx-count", str(block["tx_count"]), "--json",
    ]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["txid"] == proof["txid"] and out["height"] == 170 and out["confirmations"] == 6
    too_many = _run(*args[:-1], "--min-confirmations", "7")
    assert too_many.exit_code != 0 and "insufficient-confirmations" in too_many.output
    wrong = _run(*[a if a != "1" else "0" for a in args])
    assert wrong.exit_code != 0 and "merkle-root-mismatch" in wrong.output


def test_verify_rejects_a_header_file_with_a_flipped_byte(tmp_path: Path) -> None:
    headers, block = _early_headers(tmp_path)
    lines = headers.read_text().split()
    lines[100] = lines[100][:10] + ("0" if lines[100][10] != "0" else "1") + lines[100][11:]
    headers.write_text("\n".join(lines))
    proof = next(p for p in block["proofs"] if p["index"] == 1)
    result = _run(
        "spv", "verify", "--headers", str(headers), "--tx", proof["raw_tx"],
        "--branch", ",".join(proof["branch"]), "--block-hash", block["block_hash"],
        "--index", "1", "--tx-count", "2",
    )  # fmt: skip
    assert result.exit_code != 0 and "high-hash" in result.output


def test_status_reads_the_relays_from_a_node_data_dir(tmp_path: Path) -> None:
    from etm_bridge.chain.genesis import dev_genesis, genesis_block
    from etm_bridge.chain.params import ChainParams
    from etm_bridge.chain.registry import build_registry
    from etm_bridge.chain.state import EmptyBackend, State
    from etm_bridge.node.config import CHAIN_DB
    from etm_bridge.spv import genesis as spv_genesis
    from etm_bridge.store import ChainStore

    params = ChainParams(tx_plugins=("etm_bridge.spv.txtypes",))
    state = State(EmptyBackend(), build_registry(params).table_names)
    spv_genesis.initialise_relays(state, spv_genesis.SpvGenesis(btc_network="regtest"))
    store = ChainStore.open(tmp_path / CHAIN_DB)
    cfg, _ = dev_genesis(params, 1, funded=0)
    store.commit_block(genesis_block(cfg), state.changes(), {}, bytes(32))
    store.close()
    result = _run("spv", "status", "--data-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    btc = json.loads(result.output)["bitcoin"]
    assert btc["tip"]["height"] == 0 and btc["forks"] == [] and btc["min_confirmations"] == 1
    assert btc["tip"]["hash"] == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    text = _run("spv", "status", "--data-dir", str(tmp_path))
    assert "bitcoin regtest: tip 0" in text.output
