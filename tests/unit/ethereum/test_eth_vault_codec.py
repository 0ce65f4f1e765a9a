"""The PoolVault's surface and the adapter's calldata and log lookup for it (no node)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak
from etm_bridge_ethereum.vault import VaultCodec, obligation_word, vault_log_index

from etm_bridge.errors import ChainError, ValidationError

ROOT = Path(__file__).resolve().parents[3]
ABI = json.loads((ROOT / "contracts/ethereum/artifacts/PoolVault.json").read_text())["abi"]
VAULT = "0x" + "5a" * 20


def _selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def test_the_vault_has_no_admin_surface_and_no_plain_receive() -> None:
    functions = {e["name"] for e in ABI if e["type"] == "function"}
    assert functions == {"deposit", "depositToken", "pay", "payToken", "operator", "version"}
    assert not [e for e in ABI if e["type"] in ("receive", "fallback")]
    errors = {e["name"] for e in ABI if e["type"] == "error"}
    assert {"ZeroAmount", "InvalidAddress", "InvalidEtmOwner", "TokenAmountMismatch"} <= errors
    events = {
        e["name"]: [(i["type"], i["indexed"]) for i in e["inputs"]]
        for e in ABI
        if e["type"] == "event"
    }
    assert events == {
        "Deposited": [("bytes20", True), ("address", True), ("address", False), ("uint256", False)],
        "Paid": [("bytes32", True), ("address", True), ("address", False), ("uint256", False)],
    }


def test_calldata_is_the_abi_encoding_of_the_arguments() -> None:
    codec = VaultCodec()
    owner, to, token = b"\xe7" * 20, b"\x5e" * 20, b"\x70" * 20
    assert codec.deposit(owner) == _selector("deposit(bytes20)") + owner + bytes(12)
    assert (
        codec.pay(7, to) == _selector("pay(bytes32,address)") + obligation_word(7) + bytes(12) + to
    )
    assert codec.deposit_token(token, 5, owner) == (
        _selector("depositToken(address,uint256,bytes20)")
        + bytes(12) + token + (5).to_bytes(32, "big") + owner + bytes(12)
    )  # fmt: skip
    assert codec.pay_token(1, token, 5, to)[:4] == _selector(
        "payToken(bytes32,address,uint256,address)"
    )
    for bad in (lambda: codec.deposit(owner[:19]), lambda: codec.pay(1, to + b"\x00")):
        with pytest.raises(ValidationError):
            bad()


def test_obligation_word_is_a_big_endian_u64() -> None:
    assert obligation_word(2**64 - 1) == bytes(24) + b"\xff" * 8
    for bad in (-1, 2**64, True, "1"):
        with pytest.raises(ValidationError):
            obligation_word(bad)  # type: ignore[arg-type]


def test_vault_log_index_finds_the_one_vault_event() -> None:
    codec = VaultCodec()
    topic = codec.topics["Deposited"]
    transfer = {"address": "0x" + "70" * 20, "topics": ["0x" + "01" * 32]}
    mine = {"address": VAULT.upper().replace("0X", "0x"), "topics": ["0x" + topic.hex()]}
    receipt = {"transactionHash": "0xab", "logs": [transfer, mine]}
    assert vault_log_index(receipt, VAULT, topic) == 1
    with pytest.raises(ChainError, match="0 vault events"):
        vault_log_index(receipt, VAULT, codec.topics["Paid"])
    with pytest.raises(ChainError, match="2 vault events"):
        vault_log_index({**receipt, "logs": [mine, mine]}, VAULT, topic)
