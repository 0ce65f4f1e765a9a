"""BitcoinAdapter construction, addresses and lock ids (no node is contacted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.adapter import parse_lock_id

from etm_bridge.adapter import KeyKind
from etm_bridge.adapters_registry import load_adapter_class
from etm_bridge.errors import ConfigError, LockNotFoundError


def _config(tmp_path: Path, **changes: object) -> dict:
    base = {
        "rpc_url": "http://127.0.0.1:1",
        "secret_hex": "01" * 32,
        "data_dir": str(tmp_path),
        "network": "regtest",
    }
    return {**base, **changes}


def test_the_plugin_is_found_by_its_entry_point() -> None:
    assert load_adapter_class("bitcoin") is BitcoinAdapter


def test_info_and_keys(tmp_path: Path) -> None:
    adapter = BitcoinAdapter.from_config(_config(tmp_path))
    info = adapter.info()
    assert (info.chain, info.base_unit, info.decimals) == ("bitcoin", "sat", 8)
    assert info.key_kind is KeyKind.SECP256K1_COMPRESSED and len(adapter.our_key()) == 33
    assert info.default_confirmations == 1
    assert adapter.address().startswith("bcrt1q")
    mainnet = BitcoinAdapter.from_config(_config(tmp_path, network="mainnet"))
    assert mainnet.address().startswith("bc1q") and mainnet.info().default_confirmations == 6


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rpc_url": None}, "needs 'rpc_url'"),
        ({"secret_hex": "zz"}, "bitcoin adapter config"),
        ({"secret_hex": "01" * 31}, "32 bytes"),
        ({"network": "dogenet"}, "unknown Bitcoin network"),
        ({"fallback_fee_sat_vb": 0}, "fallback_fee_sat_vb must be >= 1"),
        ({"fallback_fee_sat_vb": "x"}, "bitcoin adapter config"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path: Path, changes: dict, message: str) -> None:
    config = {k: v for k, v in _config(tmp_path, **changes).items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        BitcoinAdapter.from_config(config)


def test_lock_ids_carry_outpoint_and_hashlock() -> None:
    txid, vout, hashlock = parse_lock_id("ab" * 32 + ":1:" + "cd" * 32)
    assert (txid, vout, hashlock) == ("ab" * 32, 1, bytes.fromhex("cd" * 32))
    for bad in ["ab" * 32 + ":1", "ab" * 31 + ":0:" + "cd" * 32, "ab" * 32 + ":x:" + "cd" * 32]:
        with pytest.raises(LockNotFoundError, match="not a Bitcoin lock id"):
            parse_lock_id(bad)
