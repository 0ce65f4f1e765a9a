"""``node init --nodes N --network-dir DIR`` and ``node init --genesis FILE``: multi-node networks.

:func:`init_network` writes one data dir per node (``DIR/node-0`` ... ``DIR/node-<N-1>``) with
the same ``genesis.json``; the genesis delegates are dealt round-robin (delegate *i* forges on
node ``i % N``), so each node's ``forging_keys.json`` holds **only its own** delegates' keys;
nodes beyond the delegates hold none (non-forging). Each ``node.json`` has its own port
(``base_port + i``; 0 for every node means "any free port", for tests that pass peers at start),
its own admin token, and every other node as a peer (``advertise_host:port``).

:func:`join_node` makes a data dir for a node joining an existing network: a copy of the
network's ``genesis.json`` (checked to parse), peers, and optionally forging keys from a file
(``{"seeds": [...]}``) for a delegate moving its key to this node.

UNSAFE for real funds, like ``node init``: the genesis keys are the public development keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..chain.genesis import GenesisConfig
from ..errors import ConfigError
from ..private_files import write_private
from ..spv.genesis_section import SpvSection
from .config import DEFAULT_HOST, NODE_CONFIG, NodeConfig, new_admin_token
from .service import load_forging_keys, save_forging_keys
from .setup import NODE_TX_PLUGINS, init_node


def node_dir(network_dir: Path, index: int) -> Path:
    return Path(network_dir) / f"node-{index}"


def init_network(
    network_dir: Path,
    *,
    nodes: int,
    delegates: int = 4,
    block_time_s: int = 10,
    funded_accounts: int = 10,
    host: str = DEFAULT_HOST,
    base_port: int = 26657,
    advertise_host: str = DEFAULT_HOST,
    genesis_time: int | None = None,
    force: bool = False,
    tx_plugins: tuple[str, ...] = NODE_TX_PLUGINS,
    spv: SpvSection | None = None,
) -> list[NodeConfig]:
    """Write ``nodes`` data dirs sharing one genesis; returns their configs (module doc)."""
    if not 1 <= nodes <= 101:
        raise ConfigError(f"nodes must be in 1..101, got {nodes}")
    if base_port and base_port + nodes > 65536:
        raise ConfigError(f"ports {base_port}..{base_port + nodes - 1} do not fit below 65536")
    first = init_node(
        node_dir(network_dir, 0), delegates=delegates, block_time_s=block_time_s,
        funded_accounts=funded_accounts, host=host, port=base_port, genesis_time=genesis_time,
        force=force, tx_plugins=tx_plugins, spv=spv,
    )  # fmt: skip
    all_keys = load_forging_keys(first.forging_keys_path)
    ordered = [all_keys[pk] for pk in _delegate_order(first.genesis_path)]
    ports = [base_port + i if base_port else 0 for i in range(nodes)]
    configs = []
    for i in range(nodes):
        peers = tuple(f"{advertise_host}:{ports[j]}" for j in range(nodes) if j != i and ports[j])
        mine = {k.public_key: k for k in ordered[i::nodes]}
        if i == 0:
            config = NodeConfig(data_dir=first.data_dir, admin_token=first.admin_token,
                                host=host, port=ports[0], peers=peers)  # fmt: skip
            save_forging_keys(config.forging_keys_path, mine)
            config.save()
        else:
            config = join_node(node_dir(network_dir, i), first.genesis_path, peers=peers,
                               host=host, port=ports[i], force=force)  # fmt: skip
            save_forging_keys(config.forging_keys_path, mine)
        configs.append(config)
    return configs


def _delegate_order(genesis_path: Path) -> list[bytes]:
    genesis = GenesisConfig.from_json(json.loads(genesis_path.read_text()))
    return [d.public_key for d in genesis.delegates]


def join_node(
    data_dir: Path,
    genesis_file: Path,
    *,
    peers: tuple[str, ...] = (),
    host: str = DEFAULT_HOST,
    port: int = 26657,
    forging_keys_file: Path | None = None,
    force: bool = False,
) -> NodeConfig:
    """A data dir for a node joining the network whose genesis is ``genesis_file``."""
    data_dir = Path(data_dir)
    if (data_dir / NODE_CONFIG).exists() and not force:
        raise ConfigError(f"{data_dir} already holds a node; pass --force to overwrite it")
    try:
        text = Path(genesis_file).read_text()
        GenesisConfig.from_json(json.loads(text))
    except FileNotFoundError:
        raise ConfigError(f"genesis file {genesis_file} not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{genesis_file} is not a genesis.json: {exc}") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in ("chain.sqlite", "chain.sqlite-wal", "chain.sqlite-shm"):
        (data_dir / name).unlink(missing_ok=True)
    config = NodeConfig(data_dir=data_dir, admin_token=new_admin_token(), host=host, port=port,
                        peers=peers)  # fmt: skip
    write_private(config.genesis_path, text)
    keys = load_forging_keys(forging_keys_file) if forging_keys_file is not None else {}
    if forging_keys_file is not None and not keys:
        raise ConfigError(f"{forging_keys_file} holds no forging keys")
    save_forging_keys(config.forging_keys_path, keys)
    config.save()
    return config
