"""BitcoinAdapter construction, addresses and lock ids (no node is contacted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.adapter import parse_lock_id
from etm_bridge_bitcoin.fees import FeePolicy
from etm_bridge_bitcoin.txbuild import sat_vb_from_estimate

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
        ({"fallback_fee_sat_vb": "x"}, "bitcoin adapter config: fallback_fee_sat_vb"),
        ({"max_fee_sat_vb": 1.5j}, "bitcoin adapter config: max_fee_sat_vb"),
        ({"min_fee_sat_vb": 5, "max_fee_sat_vb": 4}, "min_fee_sat_vb <= fallback_fee_sat_vb"),
        ({"fallback_fee_sat_vb": 3000}, "<= 3000 <= 1000"),
        ({"min_fee_sat_vb": 3}, "3 <= 2 <= 1000"),
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


@pytest.mark.parametrize(
    ("reply", "rate", "source"),
    [
        ({"feerate": 21.0, "blocks": 2}, 1_000, "node"),  # 2.1 M sat/vB: a node gone mad
        ({"feerate": 0.00021, "blocks": 2}, 21, "node"),
        ({"feerate": 0.000001, "blocks": 2}, 1, "node"),  # 0.1 sat/vB (Core 30's relay floor)
        ({"errors": ["Insufficient data or no feerate found"], "blocks": 0}, 2, "fallback"),
        (-1, 2, "fallback"),  # bcoin without an estimate
    ],
)
def test_the_nodes_estimate_is_bounded_and_its_source_reported(
    reply: object, rate: int, source: str
) -> None:
    choice = FeePolicy().choose(sat_vb_from_estimate(reply))
    assert (choice.rate, choice.source) == (rate, source)
    assert choice.bounded == (choice.node_rate not in (None, rate))


def test_configured_bounds_apply_to_the_estimate_and_hold_the_fallback(tmp_path: Path) -> None:
    config = _config(tmp_path, min_fee_sat_vb=5, fallback_fee_sat_vb=8, max_fee_sat_vb=40)
    fees = BitcoinAdapter.from_config(config).fees
    assert fees == FeePolicy(fallback_sat_vb=8, min_sat_vb=5, max_sat_vb=40)
    assert [fees.choose(r).rate for r in (None, 1, 5, 39, 40, 41, 10**9)] == [
        8,
        5,
        5,
        39,
        40,
        40,
        40,
    ]
    assert fees.choose(10**9).bounded and not fees.choose(39).bounded
