"""``etm-bridge lp deposit|withdraw|positions|obligations``: investors of the exchange pools.

Reads go through the ETM node's API (``--url``, else the ``etm.url`` setting). ``deposit btc``
pays the pool on Bitcoin with the wallet's Bitcoin key (an output to the pool's claim key plus
the ``OP_RETURN "ETMD" || address20`` owner tag), waits for the pool's confirmations, relays the
Bitcoin headers the ETM chain lacks and submits ``xchg_lp_deposit`` with the inclusion proof,
together with at most ``--etm`` ETM from the wallet's ETM account. ``deposit eth`` deposits
through the operator's PoolVault instead and waits for the chain's Ethereum relay
(:mod:`.lp_eth`). Before any coin moves, ``deposit`` asks the node how much ETM the asset
amount needs now (``/api/exchange/pools/{asset}/deposit-quote``) and refuses an ``--etm``
below it (the chain would refuse it with ``deposit_etm_short`` only after the asset was paid);
without ``--etm`` it sends that quote plus :data:`DEFAULT_ETM_SLIPPAGE_PPM` (1 %), the unused
part staying in the wallet. ``withdraw`` burns shares:
the ETM part is paid at once, the asset part becomes an obligation the pool operator must pay
(shown by ``lp obligations``); ``--min-etm`` / ``--min-asset`` make the chain refuse a burn
paying less (``slippage``). ``positions`` defaults to the wallet's ETM address. Amounts are
decimal strings with or without unit (``0.01`` or
``"0.01 BTC"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import SigningKey
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof, p2wpkh
from etm_bridge.errors import InsufficientFundsError, ValidationError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.node import relaying
from etm_bridge.node.client import NodeClient
from etm_bridge.units import parse_amount
from etm_bridge.wallet import UnlockedWallet, load_keystore

from .context import get_config, unlock_wallet
from .options import common_options, passphrase_option
from .pool import fmt, json_option, read_client, url_option
from .wallet import bitcoin_adapter_config
from .xchg_tx import fee_option, node_client, submit, wait_option


@click.group("lp")
def group() -> None:
    """Liquidity providers (investors) of the exchange pools."""


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


#: Headroom ``lp deposit`` adds to the node's ETM quote when ``--etm`` is omitted (1 %): the
#: pool may move between the quote and the deposit's inclusion; the chain takes only what the
#: deposit needs, so the rest stays in the wallet.
DEFAULT_ETM_SLIPPAGE_PPM = 10_000
#: asset -> the config's chain table its deposit is paid on.
DEPOSIT_CHAINS = {"btc": "bitcoin", "eth": "ethereum"}


@group.command("positions")
@click.argument("address", required=False)
@url_option
@common_options
@json_option
def positions_command(address: str | None, url: str | None, as_json: bool) -> None:
    """Shares, share of the pool and value now of ADDRESS (etm1...; default: the wallet's)."""
    if address is None:
        address = load_keystore(get_config().keystore_path).public.etm.address
    decode_address(address)
    rows = read_client(url).positions(address)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"{address} holds no pool shares")
    for r in rows:
        a = r["asset"]
        click.echo(
            f"{a}: {r['shares']} shares ({r['share_ppm'] / 10_000:g} % of the pool), worth "
            f"{fmt(r['value_asset'], a)} + {fmt(r['value_etm'], 'etm')} now, of which fees "
            f"earned {fmt(r['fees_earned_asset'], a)} + {fmt(r['fees_earned_etm'], 'etm')}"
        )


@group.command("obligations")
@click.argument("address", required=False)
@url_option
@common_options
@json_option
def obligations_command(address: str | None, url: str | None, as_json: bool) -> None:
    """External-asset withdrawals the operator owes (all, or ADDRESS's), with deadlines."""
    if address:
        decode_address(address)
    rows = read_client(url).obligations(address)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no obligations")
    for o in rows:
        click.echo(
            f"#{o['obligation_id']} {fmt(o['amount'], o['asset'])} to {o['destination']} "
            f"for {o['investor']}: {o['status']}, due by ETM height {o['deadline_height']}"
        )


@group.command("withdraw")
@click.argument("asset")
@click.argument("shares", type=int)
@click.option("--min-etm", default=None, help="Refuse a burn paying less ETM, e.g. '10 ETM'.")
@click.option("--min-asset", default=None, help="Refuse a burn paying less of ASSET.")
@common_options
@passphrase_option
@fee_option
@wait_option
@json_option
def withdraw_command(
    asset: str,
    shares: int,
    min_etm: str | None,
    min_asset: str | None,
    fee: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Burn SHARES of the wallet's ASSET pool position: ETM now, the asset as an obligation."""
    if shares <= 0:
        raise ValidationError(f"SHARES must be a positive number of shares, got {shares}")
    asset = asset.lower()
    least_etm = 0 if min_etm is None else parse_amount(min_etm, "etm")
    least_asset = 0 if min_asset is None else parse_amount(min_asset, asset)
    wallet = unlock_wallet()
    payload = pl.LpWithdraw(asset, shares, least_etm, least_asset)
    client = node_client()
    result = submit(client, wallet.etm_signing_key(), tt.LP_WITHDRAW, payload, fee=fee, wait=wait)
    mine = [o for o in client.obligations(wallet.public().etm.address) if o["status"] == "pending"]
    result["obligations"] = mine
    if as_json:
        _echo_json(result)
        return
    click.echo(f"withdraw {shares} {asset} shares: tx {result['id']} {result['status']}")
    for o in mine:
        click.echo(f"  obligation #{o['obligation_id']}: {fmt(o['amount'], o['asset'])} owed")


@group.command("deposit")
@click.argument("asset", type=click.Choice(["btc", "eth"], case_sensitive=False))
@click.argument("amount")
@click.option(
    "--etm",
    "etm_amount",
    default=None,
    help="Most ETM to add, e.g. 100 or '100 ETM' (default: the node's quote + 1 %).",
)
@click.option("--min-shares", default=1, show_default=True, help="Fail below this many shares.")
@click.option(
    "--txid", default=None, help="btc: prove this earlier payment instead of paying again."
)
@click.option("--vault", default=None, help="eth: the pool operator's PoolVault address.")
@click.option("--relay", is_flag=True, help="eth: relay the headers with the wallet's ETM key.")
@click.option("--batch", default=relaying.DEFAULT_BATCH, show_default=True, help="Headers/tx.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait per chain.")
@common_options
@passphrase_option
@fee_option
@json_option
def deposit_command(
    asset: str,
    amount: str,
    etm_amount: str | None,
    min_shares: int,
    txid: str | None,
    vault: str | None,
    relay: bool,
    batch: int,
    timeout: float,
    fee: int | None,
    as_json: bool,
) -> None:
    """Deposit AMOUNT of ASSET (paid on Bitcoin / through the pool's Ethereum PoolVault, proven
    by SPV) plus at most --etm ETM into the pool.

    btc: if a run stops after paying (the payment's txid was printed), run it again with --txid
    to prove and submit that payment instead of paying twice."""
    asset = asset.lower()
    amount_units = parse_amount(amount, asset)
    etm_max = None if etm_amount is None else parse_amount(etm_amount, "etm")
    get_config().chain_options(DEPOSIT_CHAINS[asset])  # a bad table fails before the passphrase
    wallet = unlock_wallet()
    client, key, me = node_client(), wallet.etm_signing_key(), wallet.public().etm.address
    pool, etm_max = _preflight(client, asset, me, amount_units, etm_max, txid, vault)
    if asset == "btc":
        deposit = _BtcDeposit(pool, amount_units, decode_address(me))
        txid, btc_proof = deposit.pay_and_prove(wallet, client, key, txid, batch, fee, timeout)
        proof, tx_key = btc_proof.encode(), "bitcoin_txid"
    else:
        txid, proof = _eth_deposit(wallet, client, key, pool, vault, amount_units, relay, timeout)
        tx_key = "ethereum_tx"
    result = relaying.submit_deposit(
        client, key, asset, proof, etm_max=etm_max, min_shares=min_shares, fee=fee
    )
    out = {tx_key: txid, "asset": asset, "amount": amount_units, **result}
    out["positions"] = client.positions(me)
    if as_json:
        _echo_json(out)
        return
    click.echo(f"deposit: tx {result['id']} {result['status']} at ETM height {result['height']}")
    for r in out["positions"]:
        if r["asset"] == asset:
            click.echo(f"  now {r['shares']} shares worth {fmt(r['value_asset'], asset)} + "
                       f"{fmt(r['value_etm'], 'etm')}")  # fmt: skip


def _preflight(
    client: NodeClient,
    asset: str,
    me: str,
    amount: int,
    etm_max: int | None,
    txid: str | None,
    vault: str | None,
) -> tuple[dict[str, Any], int]:
    """The pool and the ``etm_max`` to send, after every check that can fail before any coin
    moves (the ETM the deposit needs, the wallet's ETM balance, the options)."""
    pool = client.pool(asset)
    etm_max = deposit_etm_max(pool, amount, etm_max, client.deposit_quote)
    balance = int(client.account(me)["balance"])
    if balance < etm_max:
        raise InsufficientFundsError(
            f"{me} holds {fmt(balance, 'etm')}, less than --etm {fmt(etm_max, 'etm')} (plus fees)"
        )
    if txid is not None and (asset != "btc" or not re.fullmatch(r"[0-9a-f]{64}", txid)):
        raise ValidationError(f"--txid takes a Bitcoin txid (64 lowercase hex), got {txid!r}")
    if asset == "eth" and not (vault and re.fullmatch(r"0x[0-9a-fA-F]{40}", vault)):
        raise ValidationError(f"an eth deposit needs --vault 0x<40 hex> (got {vault!r})")
    return pool, etm_max


def deposit_etm_max(
    pool: dict[str, Any],
    amount: int,
    etm_max: int | None,
    deposit_quote: Callable[[str, int], dict[str, Any]],
) -> int:
    """``etm_max`` checked against the ETM an ``amount`` deposit needs now (``deposit_quote``:
    ``NodeClient.deposit_quote``, the node's ``lp_deposit_quote`` view), or
    that quote plus :data:`DEFAULT_ETM_SLIPPAGE_PPM` when ``etm_max`` is None.

    The pool's first deposit sets the price, so it has no quote: it needs an explicit ``--etm``.
    """
    asset = str(pool["asset"])
    if int(pool["total_shares"]) == 0:
        if etm_max is None:
            raise ValidationError(f"the {asset} pool is empty: its first deposit needs --etm")
        return etm_max
    needed = int(deposit_quote(asset, amount)["etm_needed"])
    if etm_max is None:
        return needed + -(-needed * DEFAULT_ETM_SLIPPAGE_PPM // 1_000_000)
    if etm_max < needed:
        raise ValidationError(
            f"{fmt(amount, asset)} needs at least {fmt(needed, 'etm')} beside it now; --etm "
            f"{fmt(etm_max, 'etm')} would be refused (deposit_etm_short) after paying. Raise "
            "--etm, or omit it to send the quote + 1 %"
        )
    return etm_max


def _eth_deposit(
    wallet: UnlockedWallet,
    client: NodeClient,
    key: SigningKey,
    pool: dict[str, Any],
    vault: str | None,
    amount_wei: int,
    relay: bool,
    timeout_s: float,
) -> tuple[str, bytes]:
    from .lp_eth import deposit_and_prove

    config = get_config()
    owner = decode_address(wallet.public().etm.address)
    rpc_url = config.require("chains.ethereum.rpc_url")
    _, options = config.chain_options("ethereum")
    return deposit_and_prove(
        rpc_url,
        "0x" + wallet.unsafe_export_chain_secret("eth").hex(),
        Path(options["data_dir"]),
        str(vault),
        owner,
        amount_wei,
        client=client,
        confirmations=int(pool["min_confirmations"]),
        relay_key=key if relay else None,
        timeout_s=timeout_s,
        progress=_progress,
    )


class _BtcDeposit:
    """The Bitcoin leg of one deposit: pay (or find the earlier payment), wait, relay, prove."""

    def __init__(self, pool: dict[str, Any], amount_sat: int, owner: bytes) -> None:
        self.pool, self.amount_sat = pool, amount_sat
        self.script = p2wpkh(bytes.fromhex(pool["claim_key"]))
        self.tag = DEPOSIT_TAG + owner

    def pay_and_prove(
        self,
        wallet: UnlockedWallet,
        client: NodeClient,
        key: SigningKey,
        txid: str | None,
        batch: int,
        fee: int | None,
        timeout_s: float,
    ) -> tuple[str, BtcProof]:
        from etm_bridge_bitcoin.adapter import BitcoinAdapter

        from .lp_btc import RESUME_SCAN_BLOCKS, check_payment, pay_tagged, wait_proof

        adapter = BitcoinAdapter.from_config(bitcoin_adapter_config(get_config(), wallet))
        try:
            if txid is None:
                txid, height = pay_tagged(adapter, self.script, self.amount_sat, self.tag)
                what = fmt(self.amount_sat, self.pool["asset"])
                _progress(f"paid {what} to the pool: bitcoin tx {txid}")
            else:
                height = max(0, int(adapter.rpc.call("getblockcount")) - RESUME_SCAN_BLOCKS)
            proof = wait_proof(
                adapter, txid, height + 1, int(self.pool["min_confirmations"]), timeout_s=timeout_s,
                progress=lambda have, n: _progress(f"confirmations {have}/{n}"),
            )  # fmt: skip
            check_payment(proof, self.script, self.amount_sat, self.tag)
            sent = relaying.relay_missing_btc_headers(client, key, adapter, batch=batch, fee=fee)
            _progress(f"relayed {sent} Bitcoin header(s) to the ETM chain")
        finally:
            adapter.close()
        return txid, proof


def _progress(message: str) -> None:
    """Progress on stderr (stdout stays clean JSON with --json)."""
    click.echo(message, err=True)
