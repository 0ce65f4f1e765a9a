"""``etm-bridge bind``: bind (or rebind, or unbind) the wallet's key of a foreign chain to its ETM
address (:mod:`etm_bridge.app.binding`: the proof, its nonce and expiry)."""

from __future__ import annotations

import click

from etm_bridge.app import binding

from .context import app_context
from .options import common_options, emit, fee_option, json_option, passphrase_option, wait_option


@click.command("bind")
@click.option("--chain", type=click.Choice(binding.bindable_chains()), required=True)
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
    ctx = app_context()
    if unbind:
        done = binding.unbind(ctx, chain, fee=fee, wait=wait)
    else:
        done = binding.bind(ctx, chain, rebind=rebind, valid_blocks=valid_blocks, fee=fee,
                            wait=wait)  # fmt: skip
    data: dict[str, object] = {"action": done.action, "chain": done.ticker}
    if done.key is not None:
        data["key"] = done.key.hex()
    data.update(done.tx.to_json())
    what = f"{data['action']} {data['chain']}" + (f" key {data['key']}" if "key" in data else "")
    emit(data, as_json, f"{what}: tx {data['id']} {data['status']}")
