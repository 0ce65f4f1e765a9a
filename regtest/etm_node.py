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
addresses and the operator's key, see :mod:`.eth_pool`); given ``hns`` (hsd can run here), the
Handshake relay starts at regtest's genesis block (its own tx plug-in, which the genesis lists;
anyone may feed it, as ``node init --hns-network regtest``).

:class:`EtmNetworkService` is the stack's ETM network: ``NETWORK_NODES`` (4) delegate nodes
from ``init_network`` in ``<stack>/etm/node-<k>``, one genesis with ``NETWORK_DELEGATES`` (4)
delegates dealt one per node (each ``forging_keys.json`` holds only its node's key), node *k*
on loopback port ``port + k`` (one port: API and ``/p2p``) with every other node as a peer, and
one admin token shared by the stack's nodes (the stack's client config names one). Each node is
an :class:`EtmNetworkNode` member with its own pidfile (``etm-<k>.pid``) and log; they start in
parallel and ``up`` returns once every node has a peer for each other node and is not syncing.
With 4 delegates a block is final after blocks by 3 of them, so the network still finalizes
with one node down.
UNSAFE for real funds: every development key is public.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.ethereum.node_init import relay_genesis_from_node
from etm_bridge.chains.handshake.node_init import relay_genesis as hns_relay_genesis
from etm_bridge.errors import NodeUnavailableError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NODE_CONFIG, NodeConfig
from etm_bridge.node.network_setup import init_network, node_dir
from etm_bridge.node.setup import init_node
from etm_bridge.private_files import read_private
from etm_bridge.spv.genesis_section import SpvSection

from . import procs
from .eth_pool import ETH_POOL_FILE, deploy_eth_pool
from .service import Service, ServiceGroup

DELEGATES = 5
BLOCK_TIME_S = 1
FUNDED_ACCOUNTS = 10
NETWORK_NODES = 4
NETWORK_DELEGATES = 4


class EtmNodeService(Service):
    """One ETM node forging for every development delegate, API on one loopback port."""

    name: ClassVar[str] = "etm"
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(
        self, home: Path, *, port: int, eth_rpc_url: str | None = None, hns: bool = False
    ) -> None:
        super().__init__(home)
        self.port = port
        self.eth_rpc_url = eth_rpc_url
        self.hns = hns

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
        return relay_section(self.home, self.eth_rpc_url, hns=self.hns)

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
        info.update(eth_pool_info(self.home))
        return info


def eth_relay_section(home: Path, eth_rpc_url: str | None) -> SpvSection | None:
    """The genesis relays: Ethereum from anvil's head, after deploying the stack's EtherSwap
    HTLC and PoolVault on it (``home/eth_pool.json``); None without anvil."""
    if eth_rpc_url is None:
        return None
    relayers = (dev_key("user-0").public_key,)
    pool = deploy_eth_pool(eth_rpc_url, home / ETH_POOL_FILE)
    return SpvSection({"eth": relay_genesis_from_node(
        eth_rpc_url,
        relayers=relayers,
        htlc_contract=bytes.fromhex(pool["htlc_address"][2:]),
        pool_vaults=((bytes.fromhex(pool["operator"][2:]), bytes.fromhex(pool["vault"][2:])),),
    )})  # fmt: skip


def relay_section(home: Path, eth_rpc_url: str | None, *, hns: bool) -> SpvSection | None:
    """:func:`eth_relay_section`, plus the Handshake relay at regtest's genesis if ``hns``."""
    spv = eth_relay_section(home, eth_rpc_url)
    if not hns:
        return spv
    relays = dict(spv.relays) if spv is not None else {}
    return SpvSection({**relays, "hns": hns_relay_genesis("regtest")})


def eth_pool_info(home: Path) -> dict[str, Any]:
    """``{"eth_pool": addresses}`` once deployed (never the operator's key), else {}."""
    saved = read_private(home / ETH_POOL_FILE)
    if saved is None:
        return {}
    pool = {k: v for k, v in json.loads(saved).items() if k != "operator_key"}
    return {"eth_pool": {**pool, "file": str(home / ETH_POOL_FILE)}}


def probe_node(url: str) -> bool:
    try:
        NodeClient(url, timeout_s=2.0).status()
    except NodeUnavailableError:
        return False
    return True


class EtmNetworkNode(Service):
    """One delegate node of the stack's network (``etm-<k>``), already initialised."""

    name: ClassVar[str] = "etm-k"  # each instance names itself etm-<k> (its pidfile and log)

    def __init__(self, home: Path, index: int, port: int) -> None:
        super().__init__(home)
        self.name = f"etm-{index}"  # type: ignore[misc]  # one Service per node of a group
        self.index = index
        self.port = port

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"api+p2p": self.port}

    def command(self) -> list[str]:
        etm_bridge = Path(sys.executable).parent / "etm-bridge"
        return [str(etm_bridge), "node", "run", "--data-dir", str(self.home),
                "--port", str(self.port)]  # fmt: skip

    def probe(self) -> bool:
        return probe_node(self.api_url)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.api_url, "p2p_port": self.port,
                "data_dir": str(self.home), "log": str(self.log_path)}  # fmt: skip


class EtmNetworkService(ServiceGroup):
    """The stack's ETM network of delegate nodes (module doc)."""

    name = "etm"
    start_timeout_s: ClassVar[float] = 60.0

    def __init__(
        self, home: Path, *, port: int, eth_rpc_url: str | None = None,
        nodes: int = NETWORK_NODES, hns: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(home)
        self.port = port
        self.eth_rpc_url = eth_rpc_url
        self.size = nodes
        self.hns = hns

    def members(self) -> list[Service]:
        return [EtmNetworkNode(node_dir(self.home, k), k, self.port + k) for k in range(self.size)]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port + k}" for k in range(self.size)]

    def prepare(self) -> None:
        super().prepare()
        if (node_dir(self.home, 0) / NODE_CONFIG).exists():
            return
        spv = relay_section(self.home, self.eth_rpc_url, hns=self.hns)
        configs = init_network(
            self.home, nodes=self.size, delegates=NETWORK_DELEGATES, block_time_s=BLOCK_TIME_S,
            funded_accounts=FUNDED_ACCOUNTS, base_port=self.port,
            spv=replace(spv or SpvSection(), allow_dev_pools=True),  # regtest/anvil pools
        )  # fmt: skip
        for config in configs[1:]:  # one admin token for the stack's nodes (client.toml)
            replace(config, admin_token=configs[0].admin_token).save()

    def after_ready(self) -> None:
        """Until every node has a peer for each other node and is not syncing."""

        def connected() -> bool:
            try:
                views = [NodeClient(url, timeout_s=2.0).status() for url in self.urls]
            except NodeUnavailableError:
                return False
            return all(v["peers"] >= self.size - 1 and not v["syncing"] for v in views)

        procs.wait_until(connected, timeout_s=self.start_timeout_s,
                         what=f"the {self.size} ETM nodes peering", interval_s=0.2)  # fmt: skip

    def view(self, node: dict[str, Any], answering: bool) -> dict[str, Any]:
        """The node's own word: height, final height, peers, forging keys, syncing."""
        if not answering:
            return {}
        token = NodeConfig.load(Path(node["data_dir"])).admin_token
        client = NodeClient(node["url"], admin_token=token, timeout_s=5.0)
        try:
            status, forging = client.status(), client.forging_status()
        except NodeUnavailableError as exc:
            return {"error": str(exc)}
        return {"height": status["height"], "final_height": status["finalizedHeight"],
                "peers": status["peers"], "syncing": status["syncing"],
                "forging_keys": len(forging.get("publicKeys") or ()),
                "forging": bool(forging.get("enabled"))}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        nodes = [m.describe() for m in self.members()]
        info: dict[str, Any] = {
            "kind": "etm-network",
            "rpc_url": self.urls[0],
            "urls": self.urls,
            "nodes": nodes,
            "ports": {m["name"]: m["p2p_port"] for m in nodes},
            "data_dir": str(self.home),
            "dev_keys": f"dev_key('delegate-0..{NETWORK_DELEGATES - 1}') (one per node), "
            f"dev_key('user-0..9')",
        }
        if (node_dir(self.home, 0) / NODE_CONFIG).exists():
            info["admin_token"] = NodeConfig.load(node_dir(self.home, 0)).admin_token
        info.update(eth_pool_info(self.home))
        return info
