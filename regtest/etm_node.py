"""The ETM node (``etm-bridge node run``) as a stack Service: a single-node development chain.

On first start ``prepare`` runs ``node init`` in ``<stack>/etm/data``: 5 genesis delegates with
the deterministic development keys (``dev_key("delegate-<i>")``), 10 funded accounts
``dev_key("user-<i>")`` with 1,000,000 ETM each, 1-second slots, and a random admin token. The
node forges for all genesis delegates. Later starts reuse the data dir (the chain continues).
The chain loads the SPV relays and the exchange (``node.setup.NODE_TX_PLUGINS``): the Bitcoin
relay starts at the regtest genesis block with the first header batch; given ``eth_rpc_url``
(the stack's anvil, started first), the Ethereum relay starts at anvil's head at init, with
``dev_key("user-0")`` as its trusted relayer, and the EtherSwapHTLC and a PoolVault for a fresh
ETH pool operator key are deployed on anvil and named in the genesis (``eth_pool.json``, 0600:
addresses and the operator's key, see :mod:`.eth_pool`).
UNSAFE for real funds: every development key is public.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.ethereum.node_init import relay_genesis_from_node
from etm_bridge.errors import NodeUnavailableError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NODE_CONFIG, NodeConfig
from etm_bridge.node.setup import init_node
from etm_bridge.private_files import read_private
from etm_bridge.spv.genesis_section import SpvSection

from .eth_pool import ETH_POOL_FILE, deploy_eth_pool
from .service import Service

DELEGATES = 5
BLOCK_TIME_S = 1
FUNDED_ACCOUNTS = 10


class EtmNodeService(Service):
    """One ETM node forging for every development delegate, API on one loopback port."""

    name: ClassVar[str] = "etm"
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(self, home: Path, *, port: int, eth_rpc_url: str | None = None) -> None:
        super().__init__(home)
        self.port = port
        self.eth_rpc_url = eth_rpc_url

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"api": self.port}

    def prepare(self) -> None:
        super().prepare()
        if not (self.data_dir / NODE_CONFIG).exists():
            init_node(
                self.data_dir,
                delegates=DELEGATES,
                block_time_s=BLOCK_TIME_S,
                funded_accounts=FUNDED_ACCOUNTS,
                port=self.port,
                spv=self._eth_relay(),
                allow_dev_pools=True,  # the local stack's regtest/anvil pools (development)
            )

    def _eth_relay(self) -> SpvSection | None:
        if self.eth_rpc_url is None:
            return None
        relayers = (dev_key("user-0").public_key,)
        pool = deploy_eth_pool(self.eth_rpc_url, self.home / ETH_POOL_FILE)
        return SpvSection({"eth": relay_genesis_from_node(
            self.eth_rpc_url,
            relayers=relayers,
            htlc_contract=bytes.fromhex(pool["htlc_address"][2:]),
            pool_vaults=((bytes.fromhex(pool["operator"][2:]), bytes.fromhex(pool["vault"][2:])),),
        )})  # fmt: skip

    def command(self) -> list[str]:
        etm_bridge = Path(sys.executable).parent / "etm-bridge"
        data = str(self.data_dir)
        return [str(etm_bridge), "node", "run", "--data-dir", data, "--port", str(self.port)]

    def probe(self) -> bool:
        try:
            NodeClient(self.api_url, timeout_s=2.0).status()
        except NodeUnavailableError:
            return False
        return True

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "kind": "etm",
            "rpc_url": self.api_url,
            "ports": self.ports,
            "data_dir": str(self.data_dir),
            "dev_keys": f"dev_key('delegate-0..{DELEGATES - 1}'), dev_key('user-0..9')",
            "log": str(self.log_path),
        }
        if (self.data_dir / NODE_CONFIG).exists():
            info["admin_token"] = NodeConfig.load(self.data_dir).admin_token
        saved = read_private(self.home / ETH_POOL_FILE)
        if saved is not None:
            pool = json.loads(saved)
            info["eth_pool"] = {k: v for k, v in pool.items() if k != "operator_key"}
            info["eth_pool"]["file"] = str(self.home / ETH_POOL_FILE)
        return info
