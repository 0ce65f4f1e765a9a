"""``etm-bridge demo``: bring the local stack up and show both chains working for real.

Until the swap engine lands this is the README's main job: start (or reuse) the stack, mine
blocks, make one real transfer on each chain, and print balances read back from the chains.

- Bitcoin: the faucet wallet pays a fresh key of ours; that key then pays a second fresh key in
  a P2WPKH transaction built and signed locally with python-bitcoinlib; one block confirms it.
- Ethereum: anvil's first development account sends ETH to a fresh account in an EIP-1559
  transaction signed locally with eth-account.
- ETM: the funded development account ``user-0`` sends ETM to a fresh ed25519 key in a transfer
  signed locally; the stack's node forges it in its delegate's slot of the shuffled order.

Fresh keys make "balance" exact: everything they hold is the outputs this run created. The stack
is left running (``etm-bridge stack down`` stops it). The swap-engine issue replaces this module.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import click
from etm_bridge_regtest import stack as regtest_stack
from etm_bridge_regtest.anvil import AnvilNode
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.ownkey import OwnKey, Utxo
from rich.console import Console
from rich.table import Table

from etm_bridge.chain.address import address_hash, address_of
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.node.client import NodeClient
from etm_bridge.node.relaying import sign_and_submit
from etm_bridge.units import ETM, format_amount

BTC_FUND_SAT = 50_000_000  # 0.5 BTC from the faucet to our first key
BTC_FEE_SAT = 2_000
ETH_SEND_WEI = 1_500_000_000_000_000_000  # 1.5 ETH
ETM_SEND_UNITS = 25 * ETM


@dataclass(frozen=True)
class Row:
    """One line of the balance table."""

    chain: str
    who: str
    address: str
    balance: str
    evidence: str


def _btc_balance_sat(node: BitcoinNode, utxos: list[Utxo]) -> int:
    """Sum of the still-unspent outputs among ``utxos``, read from the node's UTXO set."""
    total = 0
    for utxo in utxos:
        out = node.rpc.call("gettxout", utxo.txid, utxo.vout)
        total += utxo.value_sat if out is not None else 0
    return total


def bitcoin_transfer(node: BitcoinNode, say: Any) -> list[Row]:
    """Faucet -> alice (wallet send), alice -> bob (our own signature), confirmed."""
    alice, bob = OwnKey(os.urandom(32)), OwnKey(os.urandom(32))
    [mined] = node.mine(1)
    say(f"bitcoin: mined block {node.height()} ({mined[:16]}...)")
    funding = alice.find_output(node.rpc, node.fund(alice.address, BTC_FUND_SAT))
    say(f"bitcoin: faucet paid alice {format_amount(funding.value_sat, 'btc')} ({funding.txid})")
    txid = node.rpc.call("sendrawtransaction", alice.spend(funding, bob.address, BTC_FEE_SAT))
    say(f"bitcoin: alice -> bob signed with alice's own key, sent: {txid}")
    node.mine(1)
    received = bob.find_output(node.rpc, txid)
    confirmations = node.rpc.call("gettxout", txid, received.vout)["confirmations"]
    say(f"bitcoin: confirmed in block {node.height()} ({confirmations} confirmation)")
    return [
        Row("bitcoin", "alice (ours)", alice.address,
            format_amount(_btc_balance_sat(node, [funding]), "btc"), "spent"),
        Row("bitcoin", "bob (ours)", bob.address,
            format_amount(_btc_balance_sat(node, [received]), "btc"),
            f"{txid[:16]}... {confirmations} conf"),
    ]  # fmt: skip


def ethereum_transfer(node: AnvilNode, say: Any) -> list[Row]:
    """anvil account 0 -> a fresh account, EIP-1559, signed locally."""
    from eth_account import Account

    sender_key, sender = node.private_keys[0], node.accounts[0]
    receiver = Account.from_key(os.urandom(32)).address
    receipt = node.send_transaction(sender_key, receiver, value_wei=ETH_SEND_WEI, gas=21_000)
    block = int(receipt["blockNumber"], 16)
    say(f"ethereum: {sender[:10]}... -> {receiver[:10]}... in block {block}: "
        f"{receipt['transactionHash']}")  # fmt: skip
    evidence = f"{receipt['transactionHash'][:18]}... block {block}"
    return [
        Row("ethereum", "anvil account 0", sender,
            format_amount(node.balance_wei(sender), "eth"), "sender"),
        Row("ethereum", "fresh account", receiver,
            format_amount(node.balance_wei(receiver), "eth"), evidence),
    ]  # fmt: skip


def etm_transfer(client: NodeClient, say: Any) -> list[Row]:
    """Development account user-0 -> a fresh ed25519 key, signed locally, forged."""
    sender, receiver = dev_key("user-0"), SigningKey(os.urandom(32))
    payload = TransferPayload(address_hash(receiver.public_key), ETM_SEND_UNITS).encode()
    sent = sign_and_submit(client, sender, TRANSFER, payload)
    block = client.block(int(sent["height"]))
    say(f"etm: user-0 -> fresh key in block {block['height']} "
        f"(forger {block['generatorPublicKey'][:10]}...): {sent['id']}")  # fmt: skip
    evidence = f"{sent['id'][:16]}... height {block['height']}"
    sender_address, receiver_address = (
        address_of(sender.public_key),
        address_of(receiver.public_key),
    )
    return [
        Row("etm", "dev user-0", sender_address,
            format_amount(client.account(sender_address)["balance"], "etm"), "sender"),
        Row("etm", "fresh key", receiver_address,
            format_amount(client.account(receiver_address)["balance"], "etm"), evidence),
    ]  # fmt: skip


def _table(rows: list[Row]) -> Table:
    table = Table(title="Balances read back from the chains")
    for column in ("chain", "who", "address", "balance", "evidence"):
        table.add_column(
            column,
            justify="right" if column == "balance" else "left",
            no_wrap=column in ("address", "evidence"),
        )
    for row in rows:
        table.add_row(row.chain, row.who, row.address, row.balance, row.evidence)
    return table


def _handles(report: dict[str, dict[str, Any]]) -> tuple[BitcoinNode, AnvilNode]:
    btc, eth = report["bitcoin"], report["anvil"]
    bitcoin = BitcoinNode(
        rpc_url=btc["rpc_url"],
        rpc_user=btc["rpc_user"],
        rpc_password=btc["rpc_password"],
        kind=btc["kind"],
        faucet=btc.get("faucet_address"),
    )
    return bitcoin, AnvilNode(rpc_url=eth["rpc_url"], chain_id=eth["chain_id"])


@click.command("demo")
def group() -> None:
    """Bring the local stack up, make a real transfer on each chain, print balances."""
    # A wide table even when piped (rich falls back to 80 columns without a terminal).
    console = Console(width=None if sys.stdout.isatty() else 132)
    config = regtest_stack.StackConfig.from_env()
    console.print(f"[bold]Starting the local stack[/bold] (state in {config.state_dir})")
    report = regtest_stack.up(config)
    for name, info in report.items():
        console.print(f"  {name}: {info['action']} at {info['rpc_url']}")
    bitcoin, anvil = _handles(report)
    console.print(f"[bold]Bitcoin regtest[/bold] ({bitcoin.kind})")
    rows = bitcoin_transfer(bitcoin, console.print)
    console.print("[bold]Ethereum (anvil)[/bold]")
    rows += ethereum_transfer(anvil, console.print)
    console.print("[bold]ETM chain[/bold]")
    rows += etm_transfer(NodeClient(report["etm"]["rpc_url"]), console.print)
    console.print(_table(rows))
    console.print("The stack keeps running: `etm-bridge stack status`, `etm-bridge stack down`.")
