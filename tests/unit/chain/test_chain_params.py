"""Chain parameters refuse values that would break the chain, naming the parameter."""

from __future__ import annotations

from dataclasses import replace

import pytest

from etm_bridge.chain.params import MIN_HASH_TARGET, ChainParams
from etm_bridge.errors import ConfigError


@pytest.mark.parametrize("target", [0, 5, MIN_HASH_TARGET - 1, 2**256 + 1])
def test_a_hash_target_outside_the_light_range_is_refused(target: int) -> None:
    # A target of 5 once froze a forging node: the nonce search (up to 2**32 tries) ran on the
    # node's event-loop thread, so the API stopped answering and SIGTERM was never handled.
    with pytest.raises(ConfigError, match="hash_target must be in"):
        replace(ChainParams(), hash_target=target)


def test_the_hardest_allowed_target_round_trips_through_genesis_json() -> None:
    params = replace(ChainParams(), hash_target=MIN_HASH_TARGET)
    assert ChainParams.from_json(params.to_json()) == params


@pytest.mark.parametrize(
    ("name", "value"),
    [("block_time_s", "10"), ("max_txs_per_block", -1), ("fee_base", 1.5), ("block_reward", None)],
)
def test_a_mistyped_parameter_is_named(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        replace(ChainParams(), **{name: value})


def test_a_genesis_of_the_version_1_header_era_says_to_re_create_the_chain() -> None:
    old = {**ChainParams().to_json(), "block_version": 1}
    with pytest.raises(ConfigError, match=r"block_version 1 is not supported.*node init --force"):
        ChainParams.from_json(old)
