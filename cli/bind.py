"""``etm-bridge bind``: bind (or rebind, or unbind) the wallet's BTC or ETH key to its ETM address.

The proof signs :func:`etm_bridge.exchange.binding.binding_message` with the wallet's Bitcoin
key (Bitcoin signed-message format) or Ethereum key (EIP-191). The nonce must grow with every
proof of this address on this chain: it is the last nonce the node recorded (which outlives an
unbind) plus one, so binds in a row never collide (each waits for inclusion unless
``--no-wait``; two ``--no-wait`` binds before a block would share a nonce). The proof expires
``--valid-blocks`` ETM blocks after the current tip.
"""

from __future__ import annotations

import json

import click

from etm_bridge.chains.registry import chain_registry
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt

from .options import common_options, json_option, passphrase_option
from .xchg_tx import fee_option, node_client, submit, unlock_wallet, wait_option


@click.command("bind")
@click.option("--chain", type=click.Choice(["btc", "eth"]), required=True)
@click.option("--rebind", is_flag=True, help="Replace this address's existing binding.")
@click.option("--unbind", is_flag=True, help="Remove the binding instead.")
@click.option("--valid-blocks", default=100, show_default=True, help="Proof lifetime (blocks).")
@common_options
@passphrase_option
@fee_option
@wait_option
@json_option
def group(
    chain: str,
    rebind: bool,
    unbind: bool,
    valid_blocks: int,
    fee: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Prove control of the wallet's CHAIN key and bind it to the wallet's ETM address."""
    wallet = unlock_wallet()
    client = node_client()
    key = wallet.etm_signing_key()
    if unbind:
        result = submit(client, key, tt.UNBIND, pl.Unbind(chain), fee=fee, wait=wait)
        _show({"action": "unbind", "chain": chain, **result}, as_json)
        return
    status = client.status()
    public = wallet.public()
    last = client.last_binding_nonce(public.etm.address, chain)
    nonce, expiry = (0 if last is None else last) + 1, int(status["height"]) + valid_blocks
    network = f"{int(status['networkId']):#010x}"
    message = bd.binding_message(network, public.etm.address, chain, nonce, expiry)
    scheme = chain_registry().by_ticker(chain).binding
    foreign, signature = scheme.sign(message, wallet.unsafe_export_chain_secret(chain))
    payload = pl.Bind(chain, foreign, nonce, expiry, signature, rebind)
    result = submit(client, key, tt.BIND, payload, fee=fee, wait=wait)
    action = "rebind" if rebind else "bind"
    _show({"action": action, "chain": chain, "key": foreign.hex(), **result}, as_json)


def _show(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    what = f"{data['action']} {data['chain']}" + (f" key {data['key']}" if "key" in data else "")
    click.echo(f"{what}: tx {data['id']} {data['status']}")
