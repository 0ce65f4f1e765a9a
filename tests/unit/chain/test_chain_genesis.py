"""A genesis config file that is wrong in any field is a ConfigError naming what was wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import GenesisConfig, dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.errors import ConfigError

USER = encode_address(address_hash(dev_key("user-0").public_key))


def _parent(data: dict[str, Any], path: str) -> tuple[Any, Any]:
    """The container holding the last step of a dotted ``path`` and that step's key/index."""
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    return target, int(last) if isinstance(target, list) else last


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target, key = _parent(data, path)
        target[key] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target, key = _parent(data, path)
        del target[key]

    return edit


def _dev_json() -> dict[str, Any]:
    genesis, _keys = dev_genesis(replace(ChainParams(), genesis_time=1_000), 3, funded=2)
    return genesis.to_json()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_drop("params"), "missing field 'params'"),
        (_drop("delegates.0.publicKey"), "missing field 'publicKey'"),
        (_set("delegates.0.publicKey", "ab"), "publicKey must be 32 bytes"),
        (_set("delegates.0.publicKey", "zz"), "non-hexadecimal"),
        (_set("balances", [1]), "malformed genesis config"),
        (_set(f"balances.{USER}", 1.9), "bad genesis balance"),  # was truncated to 1
        (_set(f"balances.{USER}", "5"), "bad genesis balance"),
        (_set(f"balances.{USER}", True), "bad genesis balance"),
        (_set(f"balances.{USER}", -1), "bad genesis balance"),
        (_set(f"balances.{USER.upper()}", 5), "address twice"),
        (_set("delegates", []), "at least one delegate"),
        (_set("params.block_time_s", "10"), "block_time_s"),
        (_set("params.hash_target", "zz"), "malformed genesis config"),
    ],
)
def test_a_malformed_genesis_is_named(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    data = _dev_json()
    edit(data)
    with pytest.raises(ConfigError, match=message):
        GenesisConfig.from_json(data)


def test_the_dev_genesis_round_trips() -> None:
    data = _dev_json()
    assert GenesisConfig.from_json(data).to_json() == data
