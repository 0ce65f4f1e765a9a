"""``etm-bridge node init|run|status|account|round|block|tx|delegates|slashing-protection``.

``init`` writes a development chain (genesis, delegate keys, node config with a random admin
token) into ``--data-dir`` (default ``$ETM_NODE_DIR``, else ``<home>/node``); ``run`` serves it on
loopback and forges for every delegate whose key is in the data dir. The read verbs talk to
``--url`` over HTTP (default ``$ETM_NODE_URL``, else the ``etm.url`` setting, which is the local
stack's node while it is up, else ``http://127.0.0.1:26657``).
``slashing-protection export|import`` move the keys' never-sign-twice record (EIP-3076 format)
between data dirs. Every ``--json`` is snake_case: the node API's camelCase keys are converted
(:func:`.output.snake_keys`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from etm_bridge.app.relays import genesis_relays
from etm_bridge.chain.genesis import genesis_block
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ValidationError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import DEFAULT_HOST, DEFAULT_PORT, NodeConfig
from etm_bridge.node.custody_verbs import custody_init, run_signer
from etm_bridge.node.network_setup import init_network, join_node
from etm_bridge.node.server import load_genesis, run_node
from etm_bridge.node.setup import NODE_TX_PLUGINS, init_node, init_summary, relays_from_options
from etm_bridge.node.slashing_protection import SlashingProtection, load_interchange

from .context import get_config
from .options import home_option, json_option
from .output import snake_keys

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def _data_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """``--data-dir`` / ``$ETM_NODE_DIR``, else ``<home>/node`` (never the current directory)."""
    return value if value is not None else get_config(ctx).home.node_dir


def _url(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """``--url`` / ``$ETM_NODE_URL``, else the ``etm.url`` setting, else the default port."""
    return value or get_config(ctx).etm_url or DEFAULT_URL


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="ETM_NODE_DIR",
    callback=_data_dir,
    help="The node's data directory (default: $ETM_NODE_DIR, else <home>/node).",
)
url_option = click.option(
    "--url",
    default=None,
    envvar="ETM_NODE_URL",
    callback=_url,
    help=f"Node API URL (default: $ETM_NODE_URL, else the etm.url setting, else {DEFAULT_URL}).",
)


def _show(data: dict[str, Any], as_json: bool) -> None:
    """A node's answer (its API is camelCase) with snake_case keys, as JSON or ``key value``
    lines: every ``--json`` of the command line is snake_case."""
    data = snake_keys(data)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for key, value in data.items():
        shown = json.dumps(value) if isinstance(value, list | dict) else value
        click.echo(f"{key:<20} {shown}")


def _enabled(genesis_path: Path) -> dict[str, Any]:
    """The genesis's transaction plug-ins as written, and one line saying what they enable
    (the exchange, and which chains' relays: the SPV plug-in's, and each chain with its own)."""
    plugins = [str(p) for p in json.loads(genesis_path.read_text())["params"]["tx_plugins"]]
    relayed = chain_registry().relayed()
    names = []
    for plugin in plugins:
        if plugin == "etm_bridge.node.spv_plugin":
            shared = [c.name for c in relayed if c.relay is not None and not c.relay.tx_plugin]
            names.append(f"SPV relays ({', '.join(shared)})")
        elif plugin == "etm_bridge.exchange.txtypes":
            names.append("exchange (pools, swaps)")
        else:
            own = [c.name for c in relayed if c.relay is not None and c.relay.tx_plugin == plugin]
            names.append(f"{own[0]} relay" if own else plugin)
    return {"tx_plugins": plugins, "enables": ", ".join(names) or "core transactions only"}


def _hex(text: str, what: str, length: int) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"{what} is not hex: {text!r}") from None
    if len(raw) != length:
        raise ValidationError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def _option(spec: Any) -> Any:
    """A chain's ``node init`` option (:class:`etm_bridge.chains.profile.OptionSpec`)."""
    kind = click.Choice(spec.choices) if spec.choices else spec.type
    shown = spec.default is not None and spec.default != "" and not spec.multiple
    return click.option(spec.flag, spec.dest, type=kind, multiple=spec.multiple,
                        default=spec.default, metavar=spec.metavar, help=spec.help or None,
                        show_default=shown)  # fmt: skip


def chain_init_options(func: Any) -> Any:
    """Every installed chain's ``node init`` options (its profile's ``node_init``), in the
    registry's order; their values reach the command as keyword arguments by ``dest``."""
    specs = [o for p in chain_registry().relayed() if p.node_init for o in p.node_init.options]
    for spec in reversed(specs):
        func = _option(spec)(func)
    return func


@click.group("node")
def group() -> None:
    """A local ETM chain node: init, run, and read its API."""


@group.command("init")
@data_dir_option
@home_option
@click.option("--delegates", default=5, show_default=True, help="Genesis delegates (1-101).")
@click.option("--block-time", default=10, show_default=True, help="Slot length in seconds.")
@click.option("--funded", default=10, show_default=True, help="Funded dev accounts user-<i>.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to bind.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="Port (0: any free port).")
@click.option("--force", is_flag=True, help="Overwrite an existing node and delete its chain.")
@click.option("--core-only", is_flag=True, help="No plug-ins: no SPV relays, no exchange.")
@click.option(
    "--dev-pools",
    is_flag=True,
    help="Development only: allow pools on a development relay (a regtest network whose "
    "headers anyone can forge). Without it the chain refuses such pools.",
)
@chain_init_options
@click.option(
    "--nodes",
    type=int,
    default=None,
    help="Write a network of this many nodes (one data dir each) into --network-dir.",
)
@click.option(
    "--network-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --nodes: where node-0 ... node-<N-1> go (default: --data-dir).",
)
@click.option(
    "--advertise-host",
    default=DEFAULT_HOST,
    show_default=True,
    help="With --nodes: the host each node's peers dial (its address on the network).",
)
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Join an existing network: copy its genesis.json (no new chain).",
)
@click.option(
    "--peer", "peers", multiple=True, help="With --genesis: HOST:PORT of a peer (repeatable)."
)
@click.option(
    "--forging-keys",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --genesis: a forging_keys.json with this node's own delegate key(s).",
)
@json_option
def init_command(
    data_dir: Path,
    delegates: int,
    block_time: int,
    funded: int,
    host: str,
    port: int,
    force: bool,
    core_only: bool,
    dev_pools: bool,
    nodes: int | None,
    network_dir: Path | None,
    advertise_host: str,
    genesis_file: Path | None,
    peers: tuple[str, ...],
    forging_keys: Path | None,
    as_json: bool,
    **chain_values: Any,
) -> None:
    """Write a development genesis (UNSAFE deterministic dev keys), forging keys and config.

    The chain loads the SPV relays and the value exchange unless --core-only; each installed
    chain's options (--<ticker>-...) say where its relay starts (its network and checkpoint,
    or a node to read the checkpoint from). Pools on a development relay need --dev-pools.

    A network (docs/network.md): --nodes N --network-dir DIR writes DIR/node-<i> with one
    genesis, each node holding only its own delegates' keys (dealt round-robin), ports
    --port + i, every other node as a peer. --genesis FILE [--peer HOST:PORT]... [--forging-keys
    FILE] prepares a node joining an existing network."""
    if genesis_file is not None:
        joined = join_node(data_dir, genesis_file, peers=peers, host=host, port=port,
                           forging_keys_file=forging_keys, force=force)  # fmt: skip
        _show({"data_dir": str(joined.data_dir), "peers": list(joined.peers),
               "url": f"http://{joined.host}:{joined.port}",
               "forging_keys": forging_keys is not None}, as_json)  # fmt: skip
        return
    relays = relays_from_options(chain_values)
    spv = genesis_relays(relays, dev_pools)
    if nodes is not None:
        configs = init_network(
            network_dir or data_dir, nodes=nodes, delegates=delegates, block_time_s=block_time,
            funded_accounts=funded, host=host, base_port=port, advertise_host=advertise_host,
            force=force, tx_plugins=() if core_only else NODE_TX_PLUGINS, spv=spv,
        )  # fmt: skip
        _show({"nodes": [{"data_dir": str(c.data_dir), "url": f"http://{c.host}:{c.port}",
                          "peers": list(c.peers)} for c in configs],
               "delegates": delegates, "block_time_s": block_time,
               **_enabled(configs[0].genesis_path)}, as_json)  # fmt: skip
        return
    config = init_node(
        data_dir,
        delegates=delegates,
        block_time_s=block_time,
        funded_accounts=funded,
        host=host,
        port=port,
        force=force,
        tx_plugins=() if core_only else NODE_TX_PLUGINS,
        spv=spv,
    )
    _show(
        {
            "data_dir": str(config.data_dir),
            "genesis": str(config.genesis_path),
            "node_config": str(config.data_dir / "node.json"),
            "url": f"http://{config.host}:{config.port}",
            "delegates": delegates,
            "block_time_s": block_time,
            **_enabled(config.genesis_path),
            **init_summary(chain_values, relays),
            "dev_pools": dev_pools,
        },
        as_json,
    )


@group.command("run")
@data_dir_option
@home_option
@click.option("--host", default=None, help="Override the configured bind address.")
@click.option("--port", type=int, default=None, help="Override the configured port.")
@click.option("--no-forging", is_flag=True, help="Serve the API without forging.")
@click.option(
    "--peer",
    "peers",
    multiple=True,
    help="HOST:PORT of a peer node to stay connected to (repeatable; added to node.json's).",
)
@click.option(
    "--unsafe-censor",
    default=None,
    metavar="tx-types=NAME[,NAME...]",
    help="TEST ONLY, development networks only: accept transactions of these types but never "
    "relay them nor include them in forged blocks (an attacker, for tests).",
)
def run_command(
    data_dir: Path,
    host: str | None,
    port: int | None,
    no_forging: bool,
    peers: tuple[str, ...],
    unsafe_censor: str | None,
) -> None:
    """Serve the node's API and peer protocol, forge on its delegates' slots, until Ctrl-C /
    SIGTERM."""
    forging = False if no_forging else None
    config = NodeConfig.load(
        data_dir, host=host, port=port, forging=forging, unsafe_censor=unsafe_censor
    )
    if peers:
        config = replace(config, peers=tuple(dict.fromkeys(config.peers + peers)))
    run_node(config, announce=lambda line: click.echo(line, nl=True))


@group.command("status")
@url_option
@home_option
@json_option
def status_command(url: str, as_json: bool) -> None:
    """Height, tip, state digest, round, finality and forging of a running node."""
    _show(NodeClient(url).status(), as_json)


@group.command("account")
@url_option
@home_option
@click.argument("address")
@json_option
def account_command(url: str, address: str, as_json: bool) -> None:
    """Balance (base units), nonce, votes and delegate record of ADDRESS."""
    _show(NodeClient(url).account(address), as_json)


@group.command("round")
@url_option
@home_option
@json_option
def round_command(url: str, as_json: bool) -> None:
    """The current round's forging order (chaotic shuffle) and whose slot is now."""
    _show(NodeClient(url).current_round(), as_json)


@group.command("block")
@url_option
@home_option
@click.argument("ref", default="latest")
@json_option
def block_command(url: str, ref: str, as_json: bool) -> None:
    """A block in the whitepaper's JSON form. REF: a height, the 64-bit decimal id, the 64-hex
    id, or ``latest`` (the default)."""
    client = NodeClient(url)
    _show(client.block(client.status()["height"] if ref == "latest" else ref), as_json)


@group.command("tx")
@url_option
@home_option
@click.argument("tx_id")
@json_option
def tx_command(url: str, tx_id: str, as_json: bool) -> None:
    """A transaction by its 64-hex id: decoded fields, status (pending/confirmed) and height."""
    _show(NodeClient(url).transaction(tx_id), as_json)


@group.command("delegates")
@url_option
@home_option
@json_option
def delegates_command(url: str, as_json: bool) -> None:
    """Registered delegates: name, vote weight, deposit, slashed, in the current round."""
    _show(NodeClient(url).delegates(), as_json)


@group.group("custody")
def custody_group() -> None:
    """This delegate's custody keys (threshold custody of pool assets, docs/custody.md)."""


@custody_group.command("init")
@data_dir_option
@home_option
@json_option
def custody_init_command(data_dir: Path, as_json: bool) -> None:
    """Create custody_keys.json (0600; never overwritten) for every custody chain of this
    node's genesis, and print the public keys to register."""
    _show(custody_init(data_dir), as_json)


@group.command("signer")
@data_dir_option
@home_option
@click.option("--node-url", default=None, help="Its node's API (default: from node.json).")
def signer_command(data_dir: Path, node_url: str | None) -> None:
    """Run the custody signer beside this node: sign only what final ETM mandates, never
    twice, share the signatures, submit assembled spends (docs/custody.md)."""
    run_signer(data_dir, node_url)


@group.group("slashing-protection")
def slashing_protection_group() -> None:
    """The forging keys' never-sign-twice record (EIP-3076 interchange): export it before moving
    a key to another machine, import it there before that node forges."""


def _protection(data_dir: Path) -> SlashingProtection:
    config = NodeConfig.load(data_dir)
    genesis = load_genesis(config)
    return SlashingProtection(
        config.slashing_protection_path, genesis_block(genesis).id, genesis.params.network_id
    )


@slashing_protection_group.command("export")
@data_dir_option
@home_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the interchange JSON here (default: standard output).")  # fmt: skip
@click.option("--key", "keys", multiple=True, help="Only this public key (hex; repeatable).")
def protection_export_command(data_dir: Path, out: Path | None, keys: tuple[str, ...]) -> None:
    """Print (or write) the highest slot each forging key signed, EIP-3076 format."""
    protection = _protection(data_dir)
    try:
        wanted = [_hex(k, "--key", 32) for k in keys] or None
        text = json.dumps(protection.export(wanted), indent=2) + "\n"
    finally:
        protection.close()
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}")


@slashing_protection_group.command("import")
@data_dir_option
@home_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def protection_import_command(data_dir: Path, file: Path, as_json: bool) -> None:
    """Merge an interchange FILE: each key's record becomes the higher of the two (this node
    then refuses to sign at or below it). The file must be for this chain."""
    protection = _protection(data_dir)
    try:
        result = protection.import_(load_interchange(file))
    finally:
        protection.close()
    import time  # here, not at the top: only this command reads the clock

    from etm_bridge.chain.params import etm_time

    params = load_genesis(NodeConfig.load(data_dir)).params
    now_slot = params.slot_of(etm_time(time.time()))
    for key, slot in result.items():
        if slot > now_slot:
            hours = (slot - now_slot) * params.block_time_s / 3600
            click.echo(
                f"warning: key {key[:16]}… is recorded at slot {slot}, {hours:.1f} h after the"
                f" current slot {now_slot}: this node will not forge with it before then (a clock"
                " ran ahead, or the file is wrong: an import never lowers a record)",
                err=True,
            )
    _show({"imported": len(result), "highest_slots": result}, as_json)
