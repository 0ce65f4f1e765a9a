"""LP deposits into and withdrawals from a committee pool (design-14 sections 2.2, 4.1 kind 3,
4.5, 4.7 rules 1-2): what :class:`~.port.ChainCustody` does for tx 206 and 207.

* **Deposit** (206): the proven output must pay a vault that accepts deposits now
  (:func:`.vaults.accepting`: the newest committee's, or the one before within
  ``grace_blocks``); an older vault of this chain is ``stale_vault``, anything else (an
  operator key, a stranger) ``wrong_destination``; a deposit transaction spending an output
  ETM records as the vault's is ``custody_pool`` (members moving vault money into a "deposit"
  to buy shares with it: their signatures are fraud anyway, and this refuses the direct form);
  an output below the chain's withdrawal floor (dust plus a payout's fee) is ``bad_amount``
  (hundreds of dust outputs from one transaction would each cost about what they hold to
  spend, and push withdrawals past ``max_inputs``).
  The output becomes an ``unspent`` vault
  output of the vault's epoch (``custody_utxos``); an outpoint ETM already knows is
  ``deposit_replayed``. Books (rule "deposit proven"): ``held`` and the pool's reserve grow by
  the same amount, both read from state, so no account changes.
* **Withdrawal** (207, asset part): an ``lp_withdraw`` mandate (id from the withdraw tx id)
  paying the investor's bound key ``asset_out`` less the payout's own network fee, spending
  the active vault's unspent outputs (the smallest one output covering ``asset_out`` without
  dust change, so a small withdrawal cannot reserve the largest output; else the selection of
  :func:`.utxo.select_inputs`, target ``asset_out``; if that leaves change below the chain's
  ``change_dust`` the target grows by it, so the fee actually paid is always the payout's own);
  ``queued`` when the vault cannot cover it, or while any mandate is queued (strict FIFO: a
  stream of small withdrawals opened at once would keep a queued large one from ever being
  funded; the round hook funds the queue, :mod:`.hooks`); a queued withdrawal must be payable
  by one input (its payout less the smallest fee is no dust), else it is refused like an
  opened one (``bad_parameter``), since as the queue's head it would hold the queue. Books
  (rule 2): ``owed += asset_out`` (the exchange takes it from the reserve).

Every function writes into a :func:`.vaults.overlay` whose changes the port hands to the
exchange's plan; a custody refusal becomes an :class:`~etm_bridge.errors.ExchangeError` with the
same reason. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..chain.state import State, StateView
from ..errors import CustodyError, ExchangeError
from ..exchange.obligations import VerifiedDeposit, withdrawal_floor
from ..exchange.reasons import Reason as XReason
from . import mandate_store, records
from .params import CustodyParams
from .records import MandateKind
from .spec import SpendRequest
from .utxo import select_inputs
from .vaults import ChainPart, accepting, all_vaults, overlay


def get_account(view: StateView, asset: str) -> records.CustodyAccount:
    raw = view.get_json(records.ACCOUNTS, asset.encode())
    return records.CustodyAccount() if raw is None else records.decode(records.CustodyAccount, raw)


def put_account(state: State, asset: str, account: records.CustodyAccount) -> None:
    state.put_json(records.ACCOUNTS, asset.encode(), records.encode(account))


def deposit(
    view: StateView, params: CustodyParams, part: ChainPart, d: VerifiedDeposit, height: int
) -> State:
    """Record the deposit's output as a vault output (see the module docstring)."""
    open_now = accepting(view, params, part, height)
    epoch = open_now.get(d.destination) if d.destination else None
    if epoch is None:
        known = all_vaults(view, part)
        if d.destination in known:
            raise ExchangeError(
                XReason.STALE_VAULT,
                f"the deposit pays the vault of committee epoch {known[d.destination]}, which no "
                "longer accepts deposits: pay the active vault (pool show --json)",
            )
        raise ExchangeError(
            XReason.WRONG_DESTINATION,
            f"the deposit does not pay the {part.ticker} committee's vault (an operator key or "
            "another script): pay the active vault's address (pool show --json)",
        )
    if not d.custody_ref:
        raise ExchangeError(XReason.BAD_PARAMETER, "the chain's verifier named no outpoint")
    floor = withdrawal_floor(d.asset)
    if d.amount < floor:
        raise ExchangeError(
            XReason.BAD_AMOUNT,
            f"a deposit of {d.amount} is below the {d.asset} floor of {floor} (dust plus a "
            "payout's fee): a smaller vault output costs the LPs about what it holds to spend",
        )
    paid_from_vault = [op for op in d.spends if mandate_store.get_utxo(view, part.ticker, op)]
    if paid_from_vault:
        raise ExchangeError(
            XReason.CUSTODY_POOL,
            f"the deposit spends the vault's own output {paid_from_vault[0].hex()}: vault money "
            "buys no shares (a spend no mandate covers is a theft: report it with tx 304)",
        )
    if mandate_store.get_utxo(view, part.ticker, d.custody_ref) is not None:
        raise ExchangeError(
            XReason.DEPOSIT_REPLAYED, f"vault output {d.custody_ref.hex()} is already recorded"
        )
    state = overlay(view)
    utxo = records.CustodyUtxo(part.ticker, d.custody_ref, d.amount, epoch,
                               records.UtxoStatus.UNSPENT, None, height)  # fmt: skip
    mandate_store.put_utxo(state, utxo)
    return state


def _select(
    candidates: Sequence[records.CustodyUtxo], epoch: int, amount: int, dust: int, most: int
) -> tuple[records.CustodyUtxo, ...] | None:
    """The smallest single output covering ``amount`` without dust change, else
    :func:`.utxo.select_inputs` (largest first): a small withdrawal must not reserve the
    vault's largest output, which would queue every other withdrawal until it is proven."""
    fits = [u for u in candidates if u.status is records.UtxoStatus.UNSPENT and u.epoch == epoch
            and (u.amount == amount or u.amount >= amount + dust)]  # fmt: skip
    if fits:
        return (min(fits, key=lambda u: (u.amount, u.outpoint)),)
    chosen = select_inputs(candidates, epoch, amount, lambda k: 0, most)
    if chosen is not None and 0 < sum(u.amount for u in chosen) - amount < dust:
        chosen = select_inputs(candidates, epoch, amount + dust, lambda k: 0, most)
    return chosen


def _inputs(
    view: StateView, part: ChainPart, epoch: int, amount: int
) -> tuple[records.CustodyUtxo, ...] | None:
    """The inputs a payout of ``amount`` spends now (``_select`` over ``epoch``'s outputs)."""
    candidates = mandate_store.epoch_utxos(view, part.ticker, epoch)
    return _select(candidates, epoch, amount, part.setting("change_dust", 0),
                   part.setting("max_inputs", 50))  # fmt: skip


def _payout_request(
    part: ChainPart,
    committee: records.Committee,
    source: bytes,
    terms: dict[str, object],
    inputs: Sequence[records.CustodyUtxo],
) -> SpendRequest:
    """Revision 0's request; ``terms`` gain ``payout_fee`` (the payout's own fee, fixed across
    bumps)."""
    req = mandate_store.vault_request(MandateKind.LP_WITHDRAW, part.ticker, source, committee,
                                      part.spec.vault(committee, part.cfg), terms,
                                      part.setting("fee_rate", 1))  # fmt: skip
    terms["payout_fee"] = part.spec.build(req, inputs, part.cfg).fee
    return replace(req, terms=terms)


def _payable(
    part: ChainPart,
    committee: records.Committee,
    source: bytes,
    terms: dict[str, object],
    height: int,
) -> None:
    """Refuse (the spec's ``bad_parameter``) a withdrawal whose payout even one input paying
    it exactly (the smallest fee) would leave as dust: queued, no selection could ever fund
    it, and as the queue's head it would hold every later withdrawal for ever."""
    amount = int(str(terms["amount"]))
    probe = records.CustodyUtxo(part.ticker, bytes(36), amount, committee.epoch,
                                records.UtxoStatus.UNSPENT, None, height)  # fmt: skip
    _payout_request(part, committee, source, dict(terms), (probe,))


def withdraw(
    view: StateView,
    params: CustodyParams,
    part: ChainPart,
    committee: records.Committee,
    withdraw_tx_id: bytes,
    asset: str,
    asset_out: int,
    payee: bytes,
    height: int,
    now_s: int,
) -> tuple[State, records.Mandate]:
    """Open (or queue) the ``lp_withdraw`` mandate of a withdrawal (see the module)."""
    state = overlay(view)
    spec, cfg, ticker = part.spec, part.cfg, part.ticker
    terms: dict[str, object] = {"amount": asset_out, "claim_key": payee.hex()}
    waiting = bool(mandate_store.queue_page(view, 1))  # strict FIFO: no jumping the queue
    inputs = None if waiting else _inputs(view, part, committee.epoch, asset_out)
    kind = MandateKind.LP_WITHDRAW
    try:
        if inputs is None:
            _payable(part, committee, withdraw_tx_id, terms, height)
            mandate = mandate_store.queue_mandate(state, spec, kind, ticker, asset, withdraw_tx_id,
                                                  terms, height)  # fmt: skip
        else:
            req = _payout_request(part, committee, withdraw_tx_id, terms, inputs)
            mandate = mandate_store.open_mandate(state, spec, cfg, req, ticker, asset,
                                                 withdraw_tx_id, inputs, height,
                                                 now_s + params.sign_window_s)  # fmt: skip
    except CustodyError as exc:
        raise ExchangeError(exc.reason, exc.detail) from exc
    state.put(records.PAYOUTS, payee + mandate.id, b"\x01")
    acc = get_account(view, asset)
    put_account(state, asset, replace(acc, owed=acc.owed + asset_out))
    return state, mandate


def payable_by(part: ChainPart, committee: records.Committee, queued: records.Mandate) -> bool:
    """Whether one input of ``committee``'s vault paying the queued withdrawal exactly would
    leave a payout above dust (its 207 checked this against the committee of its day; a larger
    committee's inputs cost more, so a later one may never pay it)."""
    terms: dict[str, object] = {"amount": int(queued.terms["amount"]),
                                "claim_key": queued.terms["claim_key"]}  # fmt: skip
    try:
        _payable(part, committee, queued.source, terms, queued.created_height)
    except CustodyError:
        return False
    return True


def fund(
    state: State,
    params: CustodyParams,
    part: ChainPart,
    committee: records.Committee,
    queued: records.Mandate,
    queue_key: bytes,
    height: int,
    now_s: int,
) -> records.Mandate | None:
    """Fund a queued ``lp_withdraw`` mandate as its 207 would have opened it now (the same
    selection over ``committee``'s outputs, the same request, a window from ``now_s``), or
    None (nothing written) when the vault cannot pay it yet. The books do not move: the 207
    counted ``owed``."""
    amount = int(queued.terms["amount"])
    inputs = _inputs(state, part, committee.epoch, amount)
    if inputs is None:
        return None
    terms: dict[str, object] = {"amount": amount, "claim_key": queued.terms["claim_key"]}
    try:
        req = _payout_request(part, committee, queued.source, terms, inputs)
        return mandate_store.fund_mandate(state, part.spec, part.cfg, req, queue_key, inputs,
                                          height, now_s + params.sign_window_s)  # fmt: skip
    except CustodyError:  # a payout its fee leaves as dust over these inputs: not yet
        return None
