"""Stack configuration from the environment: state directory and ports."""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_regtest.etm_node import EtmNetworkService, EtmNodeService
from etm_bridge_regtest.stack import (
    DEFAULT_PORTS,
    PORT_OFFSETS,
    STACK_SERVICES,
    StackConfig,
    load_state,
    port_span,
    status,
)

from etm_bridge.errors import ConfigError


def test_defaults_are_the_fixed_stack_ports_under_dot_etm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = StackConfig.from_env({})
    assert config.state_dir == (tmp_path / ".etm" / "stack").resolve()
    assert dict(config.ports) == {
        "bitcoin_rpc": 18443,
        "bitcoin_wallet": 18445,
        "anvil": 8545,
        "etm": 26657,
        "hsd_rpc": 14037,
        "hsd_wallet": 14039,
    }
    assert config.state_file == config.state_dir / "stack.json"
    assert config.pidfile("bitcoin") == config.state_dir / "bitcoin.pid"


def test_base_port_and_state_dir_come_from_the_environment(tmp_path: Path) -> None:
    config = StackConfig.from_env(
        {"ETM_STACK_DIR": str(tmp_path / "s"), "ETM_STACK_BASE_PORT": "25000"}
    )
    assert config.state_dir == (tmp_path / "s").resolve()
    assert dict(config.ports) == {name: 25000 + off for name, off in PORT_OFFSETS.items()}
    assert len(set(config.ports.values())) == len(config.ports)


@pytest.mark.parametrize("value", ["abc", "80", "32767", "-1"])
def test_bad_base_port_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="ETM_STACK_BASE_PORT"):
        StackConfig.from_env({"ETM_STACK_BASE_PORT": value})


def test_every_default_port_is_below_the_ephemeral_range() -> None:
    assert all(port < 32768 for port in DEFAULT_PORTS.values())


def test_services_start_bitcoin_first_then_anvil() -> None:
    assert list(STACK_SERVICES)[:2] == ["bitcoin", "anvil"]
    assert list(STACK_SERVICES).index("hsd") < list(STACK_SERVICES).index("etm")


@pytest.mark.parametrize("text", ["{", "[]", '{"bitcoin": "x"}'])
def test_a_damaged_stack_state_file_is_a_config_error_naming_it(tmp_path: Path, text: str) -> None:
    config = StackConfig(tmp_path)
    config.state_file.write_text(text)
    with pytest.raises(ConfigError, match=r"stack\.json .*delete it"):
        load_state(config)
    with pytest.raises(ConfigError, match=r"stack\.json"):
        status(config)


def test_etm_nodes_come_from_the_environment_and_bound_the_base_port(tmp_path: Path) -> None:
    assert StackConfig.from_env({"ETM_STACK_DIR": str(tmp_path)}).etm_nodes == 4
    one = StackConfig.from_env({"ETM_STACK_DIR": str(tmp_path), "ETM_STACK_NODES": "1"})
    assert one.etm_nodes == 1
    # the last ETM node's port (base + 4 + nodes - 1) stays below 32768
    assert StackConfig.from_env({"ETM_STACK_BASE_PORT": str(32767 - port_span(4))}).etm_nodes
    with pytest.raises(ConfigError, match="ETM_STACK_BASE_PORT"):
        StackConfig.from_env({"ETM_STACK_BASE_PORT": str(32768 - port_span(4))})
    for bad in ("0", "9", "four"):
        with pytest.raises(ConfigError, match="ETM_STACK_NODES"):
            StackConfig.from_env({"ETM_STACK_NODES": bad})


def test_the_etm_service_is_the_network_unless_one_node_or_a_single_node_dir(
    tmp_path: Path,
) -> None:
    network = STACK_SERVICES["etm"](StackConfig(tmp_path), {})
    assert isinstance(network, EtmNetworkService)
    assert [m.name for m in network.members()] == ["etm-0", "etm-1", "etm-2", "etm-3"]
    assert [m.ports for m in network.members()][3] == {"api+p2p": 26657 + 3}
    assert isinstance(STACK_SERVICES["etm"](StackConfig(tmp_path, etm_nodes=1), {}),
                      EtmNodeService)  # fmt: skip
    (tmp_path / "etm" / "data").mkdir(parents=True)
    (tmp_path / "etm" / "data" / "node.json").write_text("{}")  # a stack made by one node
    assert isinstance(STACK_SERVICES["etm"](StackConfig(tmp_path), {}), EtmNodeService)


def test_a_network_with_a_node_down_still_answers_a_service_with_none_does_not() -> None:
    from etm_bridge_regtest.stack import not_answering

    nodes = [{"answering": False}, {"answering": True}]
    report = {"bitcoin": {"answering": True}, "etm": {"answering": False, "nodes": nodes},
              "anvil": {"answering": False}}  # fmt: skip
    assert not_answering(report) == ["anvil"]
    report["etm"]["nodes"] = [{"answering": False}] * 2
    assert not_answering(report) == ["etm", "anvil"]


def test_without_hsd_s_build_the_stack_says_why_and_runs_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etm_bridge_regtest import stack

    monkeypatch.setattr(stack, "hsd_unavailable", lambda: "bdb is not built; run `make deps`")
    config = StackConfig(tmp_path)
    assert stack.unavailable(config) == {
        "hsd": "not started, the stack runs without Handshake: bdb is not built; run `make deps`"
    }
    assert "hsd" not in [s.name for s in stack._services(config, {})]
    etm = STACK_SERVICES["etm"](config, {})
    assert not etm.hns  # a new genesis without the Handshake relay
