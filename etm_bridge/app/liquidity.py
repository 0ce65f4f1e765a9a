"""Liquidity (use cases): pools, LP deposits and withdrawals.

:func:`lp_deposit` is one algorithm for every chain; what differs is the chain's record
(its profile's ``client``: the payments a deposit makes, how its proof is encoded and checked,
whether a payment can be resumed, a required destination such as a vault) and the adapter's payments
capability (``pay``, ``payment_status``, ``payment_proof``):

1. preflight, before any coin moves: the options, the pool, the ETM the deposit needs now
   (:func:`deposit_etm_max`: a too small ``etm_max`` would be refused by the chain only after
   the asset was paid), the wallet's ETM balance;
2. pay the pool (or resume an earlier payment by its transaction id), wait for the pool's
   confirmations; a payment is journalled in the home until its deposit is on ETM, and a new
   deposit of the asset is refused meanwhile (:mod:`.deposit_journal`: a rerun never pays
   twice);
3. bring the chain's relay on ETM to that block: feed it when anyone may (or when we are a
   trusted relayer and asked to), else wait for the relayers;
4. prove the payment and submit ``xchg_lp_deposit`` with at most ``etm_max`` ETM.

Progress lines go to ``progress`` ("confirmations a/b", "relayed ...", "ETM relay
confirmations ...").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..chain.address import decode_address
from ..chains.profile import ChainProfile, DepositRequest
from ..chains.registry import chain_registry
from ..errors import ChainError, InsufficientFundsError, NotFoundError, ValidationError
from ..etm_client import header_feed
from ..exchange import payloads, txtypes
from ..swaps.core.ports import TxResult
from ..units import format_amount, known_units, parse_amount
from . import committee_pools, deposit_journal
from .context import AppContext

#: Headroom over the node's ETM quote when ``etm_max`` is omitted (1 %): the pool may move
#: between the quote and the deposit's inclusion; the chain takes only what the deposit needs,
#: so the rest stays in the wallet.
DEFAULT_ETM_SLIPPAGE_PPM = 10_000
#: headers per relay transaction when ``lp deposit`` feeds a relay
DEFAULT_BATCH = header_feed.DEFAULT_BATCH
#: How far back a resumed deposit (``resume_txid``) looks for its payment's block.
RESUME_SCAN_BLOCKS = 1_000
_TXID = re.compile(r"[0-9a-f]{64}")


def deposit_assets() -> tuple[str, ...]:
    """The assets ``lp deposit`` accepts: every chain's native asset a pool can hold."""
    return tuple(c.ticker for c in chain_registry().pooled())


def display(value: int, asset: str) -> str:
    """``value`` base units of ``asset`` as a decimal string (base units for unknown tokens)."""
    if known_units().get(asset.lower()) is not None:
        return format_amount(value, asset)
    return f"{value} {asset} base units"


def parse_asset_amount(text: str, asset: str) -> int:
    """A decimal amount of ``asset`` (``0.01``, or with the asset's unit after it); base units
    for tokens."""
    if known_units().get(asset.lower()) is not None:
        return parse_amount(text, asset)
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"amount {text!r} must be a whole number of base units")
    return int(text)


@dataclass(frozen=True)
class DepositResult:
    """A deposit: the payment's id on its chain (under ``txid_key`` in JSON), the ETM
    transaction, and the depositor's positions after it."""

    txid: str
    txid_key: str
    asset: str
    amount: int
    tx: TxResult
    positions: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {self.txid_key: self.txid, "asset": self.asset, "amount": self.amount,
                **self.tx.to_json(), "positions": self.positions}  # fmt: skip


# --- reads ------------------------------------------------------------------------------------


def pools(ctx: AppContext, url: str | None = None) -> list[dict[str, Any]]:
    return ctx.node(url).pools()


def pool(ctx: AppContext, asset: str, url: str | None = None) -> dict[str, Any]:
    """The pool as the node serves it; a committee pool also with its open and queued
    ``mandates`` where the node serves the custody routes."""
    node = ctx.node(url)
    found = node.pool(asset.lower())
    if committee_pools.is_committee_pool(found):
        mandates = committee_pools.pool_mandates(node, str(found["asset"]))
        if mandates is not None:
            found = {**found, "mandates": mandates}
    return found


def positions(ctx: AppContext, address: str | None = None, url: str | None = None) -> list[dict]:
    """Shares and values of ``address`` (default: the wallet's ETM address, no passphrase)."""
    if address is None:
        address = ctx.public_keys().etm.address
    decode_address(address)
    return ctx.node(url).positions(address)


def obligations(ctx: AppContext, address: str | None = None, url: str | None = None) -> list[dict]:
    if address:
        decode_address(address)
    return ctx.node(url).obligations(address)


# --- pools --------------------------------------------------------------------------------------


def create_pool(
    ctx: AppContext,
    asset: str,
    *,
    fee_ppm: int = 3_000,
    obligation_blocks: int = 8_640,
    min_confirmations: int = 6,
    min_withdrawal: int = 0,
    fee: int | None = None,
    wait: bool = True,
) -> tuple[bytes, TxResult]:
    """Create the ``asset`` pool with the wallet as operator: the wallet's key on the asset's
    chain claims its swaps and receives its deposits. (claim key, the ETM transaction)."""
    asset = asset.lower()
    chain = chain_registry().for_asset(asset)
    claim_key = chain.key_of(ctx.wallet().unsafe_export_chain_secret(chain.wallet_label))
    create = payloads.PoolCreate(
        asset, claim_key, fee_ppm, obligation_blocks, min_confirmations, min_withdrawal
    )
    return claim_key, ctx.exchange().submit(txtypes.POOL_CREATE, create, fee=fee, wait=wait)


# --- deposits -------------------------------------------------------------------------------


def deposit_etm_max(
    pool: dict[str, Any],
    amount: int,
    etm_max: int | None,
    deposit_quote: Callable[[str, int], dict[str, Any]],
) -> int:
    """``etm_max`` checked against the ETM an ``amount`` deposit needs now (``deposit_quote``:
    ``NodeClient.deposit_quote``, the node's ``lp_deposit_quote`` view), or that quote plus
    :data:`DEFAULT_ETM_SLIPPAGE_PPM` when ``etm_max`` is None.

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
            f"{display(amount, asset)} needs at least {display(needed, 'etm')} beside it now; "
            f"--etm {display(etm_max, 'etm')} would be refused (deposit_etm_short) after "
            "paying. Raise --etm, or omit it to send the quote + 1 %"
        )
    return etm_max


def chain_leg(ctx: AppContext, chain: ChainProfile) -> str:
    """The configured leg a payment to or from ``chain``'s pool is made on (an LP's deposit, an
    operator's obligation payment); its table is checked now, before the passphrase is asked."""
    for name in ctx.chains():
        if chain_registry().for_leg(name, ctx.adapter_entry(name)) is chain:
            if ctx.config is not None and not ctx.given:
                ctx.config.chain_options(name)
            return name
    if ctx.config is not None:
        ctx.config.chain_options(chain.name)  # the config's own "not configured" error
    raise ValidationError(f"no configured chain pays {chain.ticker} deposits")


def _check_options(
    chain: ChainProfile, leg: str, resume_txid: str | None, destination: str | None
) -> None:
    resumable = chain.require_client().resumable
    if resume_txid is not None and not (resumable and _TXID.fullmatch(resume_txid)):
        raise ValidationError(f"--txid takes a {leg} txid (64 lowercase hex), got {resume_txid!r}")
    option = chain.require_client().destination
    if option is not None and destination is None:  # not "(got None)": say what is missing
        raise ValidationError(
            f"a {chain.ticker} deposit needs {option.flag} ({option.help.rstrip('.')}): the ETM "
            "chain names none for this pool's operator"
        )
    if option is not None:
        option.check(destination)


def pool_destination(
    ctx: AppContext, chain: ChainProfile, pool: dict[str, Any], given: str | None
) -> str | None:
    """The deposit destination of a chain that needs one (e.g. the operator's vault contract)
    as the ETM chain names it (its relay's ``pool_vaults``, keyed by the pool's claim key), so
    no flag is needed; a given one must be that one (a deposit elsewhere could never be
    proven). ``given`` when the chain needs none or names none."""
    if chain.require_client().destination is None or chain.relay is None:
        return given
    try:
        named = ctx.node().spv_relay(chain.ticker).get("pool_vaults") or {}
    except NotFoundError:
        return given
    found = named.get("0x" + str(pool["claim_key"]).removeprefix("0x").lower())
    if found is None:
        return given
    if given is not None and given.lower() != str(found).lower():
        raise ValidationError(
            f"{given} is not the {chain.ticker} pool's vault: the ETM chain names {found} for "
            "its operator (a deposit elsewhere could not be proven); leave the flag out"
        )
    return str(found)


def _committee_destination(
    ctx: AppContext, chain: ChainProfile, pool: dict[str, Any], given: str | None,
    progress: Callable[[str], None],
) -> str:  # fmt: skip
    """A committee pool's vault (:func:`.committee_pools.agreed_vault`) as the chain client's
    ``destination`` (hex); a ``given`` one must be that vault."""
    vault = committee_pools.agreed_vault(ctx.node(), chain, pool)
    if given is not None and given.lower() not in (vault.address.lower(), vault.destination.hex()):
        raise ValidationError(
            f"{given} is not the {pool['asset']} pool's vault: the committee's is {vault.address}; "
            "leave the flag out"
        )
    progress(f"the {vault.m}-of-{vault.n} committee's vault (epoch {vault.epoch}): {vault.address}")
    return vault.destination.hex()


def lp_deposit(
    ctx: AppContext,
    asset: str,
    amount: int,
    *,
    etm_max: int | None = None,
    min_shares: int = 1,
    resume_txid: str | None = None,
    destination: str | None = None,
    relay: bool = False,
    batch: int | None = None,
    timeout_s: float = 3600.0,
    fee: int | None = None,
    fee_rate: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
    after_pay: Callable[[int], object] = lambda confirmations: None,
) -> DepositResult:
    """Deposit ``amount`` of ``asset`` plus at most ``etm_max`` ETM (see the module).
    ``fee_rate``: the user's own rate for the payment (``--fee-rate``; refused, before anything
    is paid, above the chain's ceiling or on a chain that sets its own fees).
    ``after_pay(confirmations needed)`` runs once the payment is sent (a local stack mines
    those blocks there)."""
    asset = asset.lower()
    chain = chain_registry().for_asset(asset)
    leg = chain_leg(ctx, chain)
    ex = ctx.exchange(trusted_relayer=relay)
    me = ex.etm_address()
    pool = ex.pool(asset)
    if committee_pools.is_committee_pool(pool):  # pays the vault the client derives itself
        destination = _committee_destination(ctx, chain, pool, destination, progress)
    else:
        destination = pool_destination(ctx, chain, pool, destination)
    _check_options(chain, leg, resume_txid, destination)
    etm_max = deposit_etm_max(pool, amount, etm_max, ex.deposit_quote)
    balance = int(ctx.node().account(me)["balance"])
    if balance < etm_max:
        raise InsufficientFundsError(f"{me} holds {display(balance, 'etm')}, less than --etm "
                                     f"{display(etm_max, 'etm')} (plus fees)")  # fmt: skip
    adapter = ctx.adapter(leg)
    with adapter.paying(fee_rate):
        pass  # a rate the chain refuses fails here, before anything is paid
    request = DepositRequest(
        bytes.fromhex(pool["claim_key"]), amount, decode_address(me), destination
    )
    payments = chain.require_client().deposit_payments(request)
    since = adapter.tip().height
    journal = _journal(ctx, asset)
    if resume_txid is None:
        with deposit_journal.paying(journal):
            if journal is not None:
                deposit_journal.refuse_if_pending(journal, chain.require_client().resumable)
            with adapter.paying(fee_rate):
                txid = adapter.pay(payments)
            if journal is not None:
                deposit_journal.record(
                    journal, deposit_journal.PendingDeposit(asset, leg, txid, amount, me)
                )
        progress(f"paid {display(amount, asset)} to the pool: {leg} tx {txid}")
    else:
        txid, since = resume_txid, max(0, since - RESUME_SCAN_BLOCKS)
    needed = int(pool["min_confirmations"])
    after_pay(needed)
    height = wait_confirmed(adapter, leg, txid, since, needed, timeout_s, progress)
    wait_relayed(ex, leg, adapter, height, needed, batch, timeout_s, progress)
    proof = adapter.payment_proof(txid, payments[0])
    chain.require_client().check_deposit(proof, request)
    tx = ex.submit_deposit(
        asset, chain.require_client().deposit_proof(proof), etm_max=etm_max, min_shares=min_shares,
        fee=fee,
    )  # fmt: skip
    if journal is not None:
        deposit_journal.clear(journal, txid)
    mine = ctx.node().positions(me)
    return DepositResult(txid, chain.require_exchange().txid_json_key, asset, amount, tx, mine)


def _journal(ctx: AppContext, asset: str) -> Any:
    """The home's journal of ``asset`` deposits (None: no home, e.g. the demo's parties)."""
    if ctx.config is None:
        return None
    return deposit_journal.path_of(ctx.config.home.deposits_dir, asset)


def wait_confirmed(
    adapter: Any, leg: str, txid: str, since: int, needed: int, timeout_s: float,
    progress: Callable[[str], None],
) -> int:  # fmt: skip
    """Until the payment has ``needed`` confirmations; its block height."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = adapter.payment_status(txid, since_height=since)
        if status.block_height is not None:
            progress(f"confirmations {status.confirmations}/{needed}")
            if status.confirmations >= needed:
                return int(status.block_height)
            since = status.block_height
        time.sleep(1.0)
    raise ChainError(f"{leg} tx {txid} did not get {needed} confirmations in time")


def wait_relayed(
    ex: Any, leg: str, adapter: Any, height: int, needed: int, batch: int | None,
    timeout_s: float, progress: Callable[[str], None],
) -> None:  # fmt: skip
    """Until the ETM relay holds the payment's block with ``needed`` confirmations, feeding it
    ourselves when we may. Header batches pay the chain's fee rule for their size: the
    deposit's ``fee`` is sized for the deposit transaction, and a batch of headers is larger."""
    header = adapter.headers(height, 1)[0]
    feeding = leg in ex.relayed_chains()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if feeding:
            sent = ex.relay_chain(leg, batch=batch)
            progress(f"relayed {sent} {leg} header(s) to the ETM chain")
        have = ex.relay_confirmations(leg, height, header)
        progress(f"ETM relay confirmations of {leg} block {height}: {have}/{needed}")
        if have >= needed:
            return
        time.sleep(1.0)
    raise ChainError(
        f"the ETM chain's {leg} relay did not reach {needed} confirmations of block {height} "
        "in time: is a trusted relayer running (or pass --relay)?"
    )


# --- withdrawals --------------------------------------------------------------------------------


def lp_withdraw(
    ctx: AppContext,
    asset: str,
    shares: int,
    *,
    min_etm: int = 0,
    min_asset: int = 0,
    fee: int | None = None,
    wait: bool = True,
) -> tuple[TxResult, list[dict[str, Any]]]:
    """Burn ``shares`` of the wallet's ``asset`` position: ETM now, the asset as an obligation
    the pool operator must pay. (the ETM transaction, our obligations still pending)."""
    if shares <= 0:
        raise ValidationError(f"SHARES must be a positive number of shares, got {shares}")
    asset = asset.lower()
    ex = ctx.exchange()
    burn = payloads.LpWithdraw(asset, shares, min_etm, min_asset)
    tx = ex.submit(txtypes.LP_WITHDRAW, burn, fee=fee, wait=wait)
    owed = [o for o in ctx.node().obligations(ex.etm_address()) if o["status"] == "pending"]
    return tx, owed
