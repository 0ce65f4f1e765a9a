"""A genesis's relay fields over a network's default policy, and the default lookup's error."""

from __future__ import annotations

import pytest

from etm_bridge.errors import ConfigError, ValidationError
from etm_bridge.spv.relay_policy import RelayPolicy, network_default

pytestmark = pytest.mark.unit

BASE = RelayPolicy(6, 7200, "0.1", 100_000)


def test_unset_fields_keep_the_default_and_set_ones_replace_it() -> None:
    assert BASE.overlaid() == BASE
    assert BASE.overlaid(0, 0) == BASE  # a floor or lag of 0 means "the network's"
    assert BASE.overlaid(3, 60, "0", 0) == RelayPolicy(3, 60, "0", 0)  # "0" and 0 are values


def test_an_overlay_is_still_validated() -> None:
    with pytest.raises(ValidationError, match="loss_budget"):
        BASE.overlaid(loss_budget=-1)


def test_an_unknown_network_names_the_known_ones() -> None:
    policies = {"main": BASE, "regtest": RelayPolicy(1)}
    assert network_default(policies, "main", "Toy network") is BASE
    with pytest.raises(ConfigError, match=r"Toy network 'signet'; known: main, regtest"):
        network_default(policies, "signet", "Toy network")
