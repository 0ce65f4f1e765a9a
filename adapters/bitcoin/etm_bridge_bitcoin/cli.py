"""``etm-bridge spv verify``: a Bitcoin inclusion proof checked offline (this plugin's verb).

The plugin contributes the command to the ``spv`` verb group through the entry-point group
``etm_bridge.cli`` (``spv.verify``); the CLI loads it only when it is run. It validates a header
chain file with the relay's full rules from its first header (the trusted checkpoint), then the
proof (a ``gettxoutproof`` blob or an explicit branch) against the best chain, with the
network's default confirmations unless told otherwise. Inputs are read as bitcoind prints them
(:mod:`.cli_inputs`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from etm_bridge.chains.bitcoin.spv import headers as bitcoin_headers
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import NETWORKS, params_for
from etm_bridge.errors import HeaderRejectedError, ValidationError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

from .cli_inputs import bytes_arg, hash_arg, read_headers

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _load_relay(headers_file: Path, network: str, height: int, now: int) -> BitcoinRelay:
    params = params_for(network)
    headers = read_headers(headers_file)
    first = bitcoin_headers.BlockHeader.from_bytes(headers[0])
    if height == 0 and headers[0] != params.genesis_header:
        raise ValidationError(
            f"the first header ({first.hash_hex}) is not the {params.name} genesis block: "
            "pass its height with --checkpoint-height"
        )
    checkpoint = Checkpoint(height, headers[0], bitcoin_headers.work_from_bits(first.bits))
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


@click.command("verify")
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
