"""Fixtures for the Ethereum integration tests: the HTLC and a test token deployed once per
session on the throwaway ``anvil_node``, and adapters on chosen prefunded accounts.

Account use (anvil's development keys): 5 deploys and holds the token supply, 6 and 7 are the
two swap parties, 8 and 9 are used by the nonce tests. Keys 0-4 are left to other areas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from etm_bridge_ethereum import Deployment, EthereumAdapter, deploy_contract
from etm_bridge_ethereum.htlc import HtlcCodec

DEPLOYER, US, THEM = 5, 6, 7
TOKEN_SUPPLY = 10**27
TOKEN_GRANT = 10**24


@pytest.fixture
def eth_mine(anvil_node: Any) -> Callable[[int], None]:
    """Mine ``blocks`` empty blocks on anvil."""
    return lambda blocks: anvil_node.rpc.call("anvil_mine", hex(blocks))


@pytest.fixture
def parties() -> tuple[int, int]:
    """Account indexes of the two swap parties: (us, them)."""
    return US, THEM


@pytest.fixture(scope="session")
def eth_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ethereum")


@pytest.fixture(scope="session")
def htlc(anvil_node: Any, eth_data_dir: Path) -> Deployment:
    return deploy_contract(
        anvil_node.rpc_url, anvil_node.private_keys[DEPLOYER], eth_data_dir / "deployer"
    )


@pytest.fixture(scope="session")
def token(anvil_node: Any, eth_data_dir: Path, htlc: Deployment) -> Deployment:
    """The test token, with TOKEN_GRANT sent to each swap party."""
    key = anvil_node.private_keys[DEPLOYER]
    deployment = deploy_contract(
        anvil_node.rpc_url,
        key,
        eth_data_dir / "deployer",
        "TestToken",
        ("Test Token", "TST", TOKEN_SUPPLY),
    )
    deployer = EthereumAdapter.from_config(_config(anvil_node, htlc, eth_data_dir, DEPLOYER))
    try:
        for index in (US, THEM):
            to = bytes.fromhex(anvil_node.accounts[index][2:])
            data = HtlcCodec().transfer(to, TOKEN_GRANT)
            deployer.sender.transact(deployment.address, data, 0, "transfer")
    finally:
        deployer.close()
    return deployment


def _config(anvil_node: Any, htlc: Deployment, data_dir: Path, index: int) -> dict[str, Any]:
    return {
        "rpc_url": anvil_node.rpc_url,
        "private_key": anvil_node.private_keys[index],
        "htlc_address": htlc.address,
        "data_dir": str(data_dir / f"account-{index}"),
        "from_block": htlc.block_number,
        "receipt_timeout_s": 30,
    }


@pytest.fixture
def adapter_config(anvil_node: Any, htlc: Deployment, eth_data_dir: Path) -> Callable[[int], dict]:
    """Config of an adapter on prefunded account ``index`` (same data dir across calls)."""
    return lambda index: _config(anvil_node, htlc, eth_data_dir, index)


@pytest.fixture
def adapters(adapter_config: Callable[[int], dict]) -> Iterator[Callable[[int], EthereumAdapter]]:
    """Factory of adapters on account ``index``; all are closed after the test."""
    made: list[EthereumAdapter] = []

    def make(index: int) -> EthereumAdapter:
        made.append(EthereumAdapter.from_config(adapter_config(index)))
        return made[-1]

    yield make
    for adapter in made:
        adapter.close()
