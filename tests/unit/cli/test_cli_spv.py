"""``etm-bridge spv risk`` and ``spv verify`` through the real click app."""

from __future__ import annotations

import json
from pathlib import Path

import vector_files
from click.testing import CliRunner
from etm_bridge_cli.main import cli


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
    blocks = vector_files.read_json("bitcoin/merkle_proofs.json")["blocks"]
    block = next(b for b in blocks if b["height"] == 170)
    lines = vector_files.read_text("bitcoin/mainnet_headers_0_4032.hex").split()[:176]
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
    from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
    from etm_bridge.node.config import CHAIN_DB
    from etm_bridge.spv.genesis_section import SpvSection
    from etm_bridge.store import ChainStore

    params = ChainParams(tx_plugins=("etm_bridge.spv.relay_types",))
    state = State(EmptyBackend(), build_registry(params).table_names)
    SpvSection({"btc": BtcRelayGenesis(network="regtest")}).initialise(state)
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


def _block_831332(tmp_path: Path) -> dict[str, Path]:
    """Files as a bitcoind user has them: header hex, txoutproof hex and raw bytes, tx hex."""
    from etm_bridge.chains.bitcoin.spv.tx import split_block

    header, txs = split_block(vector_files.read_bytes("bitcoin/blocks/mainnet_block_831332.bin"))
    blob = vector_files.read_bytes("bitcoin/txoutproof/0831332-15.bin")
    files = {
        "headers": header.to_bytes().hex() + "\n",
        "proof.hex": blob.hex() + "\n",
        "tx.hex": txs[15].hex() + "\n",
        "other_tx.hex": txs[16].hex(),
        "multi.hex": vector_files.read_bytes(
            "bitcoin/txoutproof/0831332-0_1_15_20_115_2019_2024.bin"
        ).hex(),
        "tx2019.hex": txs[2019].hex(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "proof.bin").write_bytes(blob)
    return {name: tmp_path / name for name in [*files, "proof.bin"]}


def _verify_831332(f: dict[str, Path], *extra: str):
    return _run(
        "spv", "verify", "--headers", str(f["headers"]), "--checkpoint-height", "831332",
        "--min-confirmations", "1", *extra,
    )  # fmt: skip


def test_verify_bitcoind_gettxoutproof_and_getrawtransaction_files(tmp_path: Path) -> None:
    f = _block_831332(tmp_path)
    for proof in (f"@{f['proof.hex']}", f"@{f['proof.bin']}", f["proof.hex"].read_text()):
        result = _verify_831332(f, "--tx", f"@{f['tx.hex']}", "--txoutproof", proof, "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["height"] == 831332 and out["confirmations"] == 1
        assert out["block_hash"].endswith("2520a7657")
    multi = _verify_831332(f, "--tx", f"@{f['tx2019.hex']}", "--txoutproof", f"@{f['multi.hex']}")
    assert multi.exit_code == 0 and "height 831332" in multi.output, multi.output
    proof_args = ("--tx", f"@{f['tx.hex']}", "--txoutproof", f"@{f['proof.hex']}")
    mainnet_policy = _verify_831332(f, *proof_args, "--min-confirmations", "6")
    assert mainnet_policy.exit_code != 0
    assert "insufficient-confirmations" in mainnet_policy.output


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.output  # not a traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_verify_bad_inputs_give_one_line_naming_the_problem(tmp_path: Path) -> None:
    f = _block_831332(tmp_path)
    tx, proof = f["tx.hex"].read_text().strip(), f["proof.hex"].read_text().strip()
    cases = [
        (["--tx", tx[:-20], "--txoutproof", proof], ["bad-tx", "ends early"]),
        (["--tx", tx + "zz", "--txoutproof", proof], ["--tx is not hex"]),
        (["--tx", tx[:-1], "--txoutproof", proof], ["--tx is not hex"]),
        (["--tx", f"@{f['other_tx.hex']}", "--txoutproof", proof], ["not-matched"]),
        (
            ["--tx", f"@{f['other_tx.hex']}", "--txoutproof", proof, "--index", "15"],
            ["not-matched"],
        ),
        (["--tx", tx, "--txoutproof", proof[:-10]], ["bad-merkleblock"]),
        (["--tx", tx, "--txoutproof", "@/nonexistent/proof.hex"], ["cannot read"]),
        (["--tx", tx], ["give --txoutproof"]),
        (
            [
                "--tx",
                tx,
                "--branch",
                "abc",
                "--block-hash",
                "00",
                "--index",
                "0",
                "--tx-count",
                "2",
            ],
            ["--branch entry"],
        ),
    ]
    for extra, needles in cases:
        _one_line_error(_verify_831332(f, *extra), *needles)
    other = header_of_block(866342)
    f["headers"].write_text(other.hex())
    _one_line_error(_verify_831332(f, "--tx", tx, "--txoutproof", proof), "unknown-block")
    f["headers"].write_text("not a header\n")
    _one_line_error(_verify_831332(f, "--tx", tx, "--txoutproof", proof), "line 1 is not hex")
    f["headers"].write_text(other.hex()[:-2])
    _one_line_error(_verify_831332(f, "--tx", tx, "--txoutproof", proof), "not a multiple of 80")


def header_of_block(height: int) -> bytes:
    """The real mainnet header at ``height`` from the published Merkle proofs."""
    blocks = vector_files.read_json("bitcoin/merkle_proofs.json")["blocks"]
    return bytes.fromhex(next(b["header"] for b in blocks if b["height"] == height))


def test_verify_names_the_bad_line_of_a_header_file_and_a_missing_height(tmp_path: Path) -> None:
    lines = vector_files.read_text("bitcoin/mainnet_headers_822528_826560.hex").split()[:20]
    lines[7] = lines[8]  # the 8th header no longer links to the 7th
    path = tmp_path / "headers.hex"
    path.write_text("\n".join(lines))
    args = ["spv", "verify", "--headers", str(path), "--tx", "00", "--txoutproof", "00"]
    _one_line_error(_run(*args), "not the mainnet genesis block", "--checkpoint-height")
    _one_line_error(_run(*args, "--checkpoint-height", "822528"), "bad-prevblk", "header 8")


def test_risk_edge_cases_are_one_line_errors() -> None:
    for q, needle in (("0.5", "[0, 0.5)"), ("0.7", "[0, 0.5)"), ("0", "must be > 0"),
                      ("-0.1", "[0, 0.5)"), ("nan", "must be a number")):  # fmt: skip
        result = _run("spv", "risk", "--q", q, "--risk", "1e-6", "--json")
        assert result.exit_code == 2 and needle in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    result = _run("spv", "risk", "--q", "0.499", "--risk", "1e-6")
    assert result.exit_code == 2 and "more than 10000 confirmations" in result.output
    published = _run("spv", "risk", "--q", "0.3", "--risk", "0.001", "--json")
    out = json.loads(published.output)  # Grunspan & Pérez-Marco: 32; Nakamoto: 24
    assert (out["confirmations"], out["nakamoto_confirmations"]) == (32, 24)
