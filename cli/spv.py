"""``etm-bridge spv risk|verify|status|relay``: confirmation rule, proof checks, the relays.

``risk`` prints how many confirmations an attacker hash share ``q`` and a risk tolerance need
by the exact formula of whitepaper section 3.1 (Grunspan and Pérez-Marco), with Nakamoto's
Poisson figure beside it. ``verify`` checks a Bitcoin inclusion proof offline: it validates a
header chain file with the full relay rules from its first header (the trusted checkpoint), then
the proof (a ``gettxoutproof`` blob or an explicit branch) against the best chain. ``status``
reads the relays' tips, heights, chain work and forks from an ETM node's API (``--url``, else
the configured ``etm.url``: the local stack's node when it is up), or offline from a node's data
directory (``--data-dir``; without any node configured: ``<home>/node``). ``relay`` is a
relayer (:func:`etm_bridge.app.relays.feed`): for each configured chain whose relay anyone may
feed, it compares its node's best chain with the ETM relay (read from the node's API) and sends
the missing headers as signed transactions from the wallet's ETM key, one batch per
transaction, waiting for each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from etm_bridge.app import relays
from etm_bridge.chain.state import State, StateView
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import NETWORKS, params_for
from etm_bridge.errors import ConfigError, HeaderRejectedError, ValidationError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import CHAIN_DB
from etm_bridge.spv import confirmation_risk as spv_risk
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.spv.relay_status import relay_status
from etm_bridge.store import ChainStore

from .context import app_context, get_config
from .options import common_options, fee_option, home_option, passphrase_option
from .spv_inputs import bytes_arg, hash_arg, read_headers

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="ETM_NODE_DIR",
    help="Read this ETM node's data directory (chain.sqlite; read only) instead of its API.",
)


@contextmanager
def open_view(data_dir: Path) -> Iterator[StateView]:
    """The chain state of the node in ``data_dir``, for reading (the node may keep running)."""
    path = Path(data_dir) / CHAIN_DB
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `etm-bridge node init` or pass --data-dir")
    store = ChainStore.open(path)
    try:
        yield State(store, ())
    finally:
        store.close()


@click.group("spv")
def group() -> None:
    """SPV: confirmation risk and offline inclusion-proof checks."""


@group.command("risk")
@click.option("--q", "q", required=True, help="Attacker share of the hash rate, e.g. 0.1.")
@click.option("--risk", "tolerance", required=True, help="Acceptable success chance, e.g. 1e-6.")
@json_option
def risk_command(q: str, tolerance: str, as_json: bool) -> None:
    """Confirmations needed so an attacker with share Q succeeds with chance <= RISK."""
    exact = spv_risk.confirmations_required(q, tolerance)
    nakamoto = spv_risk.nakamoto_confirmations_required(q, tolerance)
    probability = spv_risk.attacker_success_probability_float(q, exact)
    if as_json:
        out = {
            "confirmations": exact,
            "nakamoto_confirmations": nakamoto,
            "q": q,
            "risk": tolerance,
            "attacker_success_probability": probability,
            "nakamoto_probability_at_confirmations": spv_risk.nakamoto_probability(q, exact),
            "formula": "Grunspan-Perez-Marco exact (whitepaper 3.1)",
        }
        click.echo(json.dumps(out))
        return
    click.echo(f"attacker share q = {q}, risk tolerance = {tolerance}")
    click.echo(f"confirmations (exact, whitepaper 3.1):  {exact}  (P = {probability:.3g})")
    click.echo(f"confirmations (Nakamoto's Poisson):     {nakamoto}")


def _load_relay(headers_file: Path, network: str, height: int, now: int) -> BitcoinRelay:
    params = params_for(network)
    headers = read_headers(headers_file)
    first = bh.BlockHeader.from_bytes(headers[0])
    if height == 0 and headers[0] != params.genesis_header:
        raise ValidationError(
            f"the first header ({first.hash_hex}) is not the {params.name} genesis block: "
            "pass its height with --checkpoint-height"
        )
    checkpoint = Checkpoint(height, headers[0], bh.work_from_bits(first.bits))
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), params, checkpoint, mid_period=True)
    try:
        relay.submit_headers(headers[1:], now)
    except HeaderRejectedError as exc:
        # the relay says "<reason>: header <batch index>: <reason>: <detail>"
        index, _, detail = str(exc).split("header ", 1)[-1].partition(": ")
        number = int(index) + 2 if index.isdigit() else "?"
        detail = detail.removeprefix(f"{exc.reason}: ")
        raise HeaderRejectedError(
            exc.reason, f"{headers_file}: header {number} of the file (1 = checkpoint): {detail}"
        ) from None
    return relay


@group.command("verify")
@click.option(
    "--headers",
    "headers_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Header chain file: 80-byte headers in wire order as hex, one per line (the output "
    "of `bitcoin-cli getblockheader <hash> false` for each block, in height order), or the "
    "raw headers concatenated. The first is the trusted checkpoint; the rest must link to it.",
)
@click.option(
    "--checkpoint-height",
    default=0,
    show_default=True,
    help="Height of the first header (0 = the network's genesis block).",
)
@click.option(
    "--network", type=click.Choice(sorted(NETWORKS)), default="mainnet", show_default=True
)
@click.option(
    "--tx",
    "raw_tx",
    required=True,
    help="The raw transaction: the hex that `bitcoin-cli getrawtransaction <txid>` prints "
    "(witness included or not), or @FILE holding that hex or the raw bytes.",
)
@click.option(
    "--txoutproof",
    help="The hex that `bitcoin-cli gettxoutproof '[\"<txid>\"]'` prints (a CMerkleBlock; "
    "several matched txids are fine), or @FILE holding that hex or the raw bytes.",
)
@click.option(
    "--branch",
    help="Instead of --txoutproof: comma-separated sibling hashes from the leaf upward, "
    "display (RPC) byte order.",
)
@click.option("--block-hash", help="With --branch: the block hash, display (RPC) byte order.")
@click.option(
    "--index", type=int, help="Position in the block (needed with --branch; optional otherwise)."
)
@click.option("--tx-count", type=int, help="With --branch: transactions in the block.")
@click.option("--min-confirmations", type=int, help="Default: the network's policy.")
@click.option("--now", type=int, help="Reference unix time for time-too-new (default: now).")
@json_option
def verify_command(
    headers_file: Path,
    checkpoint_height: int,
    network: str,
    raw_tx: str,
    txoutproof: str | None,
    branch: str | None,
    block_hash: str | None,
    index: int | None,
    tx_count: int | None,
    min_confirmations: int | None,
    now: int | None,
    as_json: bool,
) -> None:
    """Check a Bitcoin inclusion proof offline against a validated header chain.

    The header file is validated with the relay's full rules from its first header; the proof
    must be for a block of that chain's best branch with enough headers on top. Example with
    a bitcoind (any version):

    \b
      bitcoin-cli gettxoutproof '["TXID"]' > proof.hex
      bitcoin-cli getrawtransaction TXID 0 BLOCKHASH > tx.hex
      for h in $(seq H $((H+6))); do
        bitcoin-cli getblockheader $(bitcoin-cli getblockhash $h) false; done > headers.hex
      etm-bridge spv verify --headers headers.hex --checkpoint-height H \\
        --tx @tx.hex --txoutproof @proof.hex
    """
    relay = _load_relay(headers_file, network, checkpoint_height, now or int(time.time()))
    tx = bytes_arg(raw_tx, "--tx")
    if txoutproof:
        blob = bytes_arg(txoutproof, "--txoutproof")
        proof = BitcoinTxProof.from_txoutproof(tx, blob, index)
    elif branch and block_hash and index is not None and tx_count:
        hashes = tuple(hash_arg(h, "--branch entry") for h in branch.split(",") if h.strip())
        block = hash_arg(block_hash, "--block-hash")
        proof = BitcoinTxProof(tx, block, index, tx_count, hashes)
    else:
        raise ValidationError(
            "give --txoutproof, or --branch with --block-hash, --index and --tx-count"
        )
    needed = relay.params.default_confirmations if min_confirmations is None else min_confirmations
    confirmed = check_bitcoin_proof(relay, proof, needed)
    out = {
        "valid": True,
        "txid": confirmed.tx.txid_hex,
        "block_hash": confirmed.block_hash_le[::-1].hex(),
        "height": confirmed.height,
        "confirmations": confirmed.confirmations,
        "required_confirmations": needed,
        "outputs": [
            {"value_sat": o.value_sat, "script_pubkey": o.script_pubkey.hex()}
            for o in confirmed.tx.outputs
        ],
    }
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"valid: tx {out['txid']} in block {out['block_hash']} (height {out['height']})")
    click.echo(f"confirmations: {out['confirmations']} (required {needed})")


url_option = click.option(
    "--url", default=None, help="The ETM node's API (default: the etm.url setting)."
)


@group.command("status")
@data_dir_option
@url_option
@home_option
@json_option
def status_command(data_dir: Path | None, url: str | None, as_json: bool) -> None:
    """Relay tips, heights, chain work and forks: from the node's API (--url, else the etm.url
    setting), or offline from --data-dir."""
    url = url if url or data_dir else get_config().etm_url
    if url:
        status = NodeClient(url).spv_status()
    else:
        with open_view(data_dir or get_config().home.node_dir) as view:
            status = relay_status(view)
    if as_json:
        click.echo(json.dumps(status))
        return
    if not status:
        click.echo("no SPV relay is configured in this chain's genesis")
    btc = status.get("bitcoin")
    if btc:
        tip = btc["tip"]
        click.echo(f"bitcoin {btc['network']}: tip {tip['height']} {tip['hash']}")
        click.echo(f"  chain work {tip['chain_work']}, checkpoint {btc['checkpoint_height']}")
        click.echo(
            f"  confirmations required {btc['min_confirmations']}, forks {len(btc['forks'])}"
        )
        for fork in btc["forks"]:
            click.echo(f"  fork tip {fork['height']} {fork['hash']}")
    eth = status.get("ethereum")
    if eth:
        click.echo(f"ethereum {eth['chain']}: tip {eth['tip']['number']} {eth['tip']['hash']}")
        click.echo(f"  trusted relayers {len(eth['trusted_relayers'])}")


@group.command("relay")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    hidden=True,
    help="Deprecated, ignored: the relay's chain is read from the node's API.",
)
@url_option
@click.option("--once", is_flag=True, help="Relay what is missing, then exit.")
@click.option("--max-iterations", type=int, default=None, help="Stop after this many rounds.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=500, show_default=True, help="Headers per transaction (<= 2000).")
@common_options
@passphrase_option
@fee_option
def relay_command(
    data_dir: Path | None,
    url: str | None,
    once: bool,
    max_iterations: int | None,
    interval: float,
    batch: int,
    fee: int | None,
) -> None:
    """Send the Bitcoin node's headers that the ETM chain's relay lacks (anyone may relay).

    The relay's best chain is read from the ETM node's API (--url, else the etm.url setting);
    the Bitcoin node is the configured [chains.bitcoin] one."""
    if not 1 <= batch <= 2000:
        raise ValidationError("--batch must be between 1 and 2000 headers")
    ctx = app_context()
    rounds = 1 if once else max_iterations
    while rounds is None or rounds > 0:
        for sent in relays.feed(ctx, url=url, batch=batch, fee=fee).values():
            click.echo(f"relayed {sent} header(s)")
        rounds = None if rounds is None else rounds - 1
        if rounds != 0:
            time.sleep(interval)
