"""The committed contract artifacts are exactly what the pinned solcjs builds from the sources."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts" / "ethereum"


def _compile_module():
    spec = importlib.util.spec_from_file_location("etm_contracts_compile", CONTRACTS / "compile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compile_module():
    return _compile_module()


@pytest.fixture(scope="module")
def fresh(compile_module):
    return compile_module.compile_all()


def test_artifacts_record_the_sha256_of_the_committed_sources(compile_module):
    for name, filename in compile_module.CONTRACTS.items():
        artifact = json.loads((CONTRACTS / "artifacts" / f"{name}.json").read_text())
        source = (CONTRACTS / filename).read_bytes()
        assert artifact["sourceSha256"] == hashlib.sha256(source).hexdigest(), name
        assert artifact["compiler"]["version"] == compile_module.SOLC_VERSION


def test_fresh_compile_reproduces_the_committed_artifacts_byte_for_byte(compile_module, fresh):
    assert set(fresh) == {
        "EtherSwapHTLC", "TestToken", "PoolVault", "CommitteeVault", "TestFeeToken",
        "TestHookToken", "TestReentrantReceiver",
    }  # fmt: skip
    assert compile_module.stale_artifacts(fresh) == []


def test_a_changed_artifact_is_reported_stale(compile_module, fresh):
    changed = dict(fresh["TestToken"], bytecode=fresh["TestToken"]["bytecode"] + "00")
    assert compile_module.stale_artifacts({"TestToken": changed}) == ["TestToken"]


def test_htlc_abi_has_the_boltz_style_surface():
    abi = json.loads((CONTRACTS / "artifacts" / "EtherSwapHTLC.json").read_text())["abi"]
    names = {(e["type"], e.get("name")) for e in abi}
    for event in ("Locked", "Claimed", "Refunded"):
        assert ("event", event) in names
    for error in ("SwapNotFound", "InvalidPreimageLength", "TimelockNotReached"):
        assert ("error", error) in names
    for fn in ("lock", "lockToken", "claim", "refund", "hashValues", "swaps", "version"):
        assert ("function", fn) in names
    locked = next(e for e in abi if e.get("name") == "Locked")
    assert locked["inputs"][0] == {
        "indexed": True,
        "internalType": "bytes32",
        "name": "preimageHash",
        "type": "bytes32",
    }


def test_committee_vault_abi_has_no_admin_surface():
    """Money leaves only through the three executes; nothing else writes the signer set."""
    abi = json.loads((CONTRACTS / "artifacts" / "CommitteeVault.json").read_text())["abi"]
    writes = {
        e["name"] for e in abi if e["type"] == "function" and e["stateMutability"] != "view"
    } - {"domainSeparator"}
    assert writes == {
        "deposit", "depositToken", "claimSwapIn", "refundCounterLock",
        "executeCounterLock", "executePayout", "executeRotate",
    }  # fmt: skip
    assert [e["type"] for e in abi if e["type"] in ("receive", "fallback")] == ["receive"]
    events = {
        e["name"]: [(i["name"], i["type"], i["indexed"]) for i in e["inputs"]]
        for e in abi
        if e["type"] == "event"
    }
    assert events["Deposited"] == [  # PoolVault's signature: one reader for both
        ("etmOwner", "bytes20", True), ("from", "address", True),
        ("token", "address", False), ("amount", "uint256", False),
    ]  # fmt: skip
    assert events["Paid"] == [
        ("mandateId", "bytes32", True), ("to", "address", True), ("digest", "bytes32", False),
        ("token", "address", False), ("amount", "uint256", False),
    ]  # fmt: skip
    assert set(events) == {
        "Deposited", "CounterLocked", "Paid", "Rotated", "SwapInClaimed", "CounterRefunded"
    }  # fmt: skip
