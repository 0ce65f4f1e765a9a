"""The state transition: admitting a transaction, validating and applying a block (pure).

``apply_tx`` is the one path every transaction takes (mempool and blocks). ``apply_block``
validates a block against the tip recorded in state and applies it to a :class:`State`
overlay; the caller (``ledger.Chain``) commits the overlay's changes through the store in one
database transaction. Every rejection raises a typed error with a reason code:

* tx, in the order checked: ``wrong_network``, ``unknown_type``, ``tx_too_large`` (it could
  never fit a block), ``fee_too_low``, ``bad_signature``, ``wrong_nonce``,
  ``insufficient_balance``; only then is the payload decoded: ``malformed_field``
  (``bad_amount`` for an integer field out of its range); ``block_amount_full`` (forging only:
  the block's u64 totalAmount has no room left); the types' own codes, and
  ``rejected_by_type`` for anything else a type's check/apply raised (rolled back).
* block: ``wrong_version``, ``wrong_network``, ``wrong_height``, ``wrong_previous``,
  ``future_block``, ``late_block`` (only with ``now``: the slot is over, the whitepaper's time
  check), ``stale_slot``, ``wrong_delegate``, ``delegate_slashed`` (slashed since the round's
  order was set: its slots are missed), ``bad_signature``, ``bad_reveal`` (the RANDAO
  reveal is not the generator's VRF proof for the block's round), ``hashing_test_failed``,
  ``wrong_reward``, ``too_many_transactions``, ``payload_too_large``, ``bad_payload_length``,
  ``bad_payload_hash``, ``wrong_transaction_count``, ``wrong_total_amount``, ``wrong_total_fee``,
  ``invalid_transaction`` (naming the tx and its own reason).

The costly checks of a header, its block signature (in the chain's signing domain, the genesis
id: ``genesis.signing_genesis_id``) and its RANDAO reveal (a VRF proof, ~1 ms), are
:func:`check_signatures`, a pure function of the header, the params and the genesis id: a node
may run it ahead in worker threads (``preverify.py``) and hand its result in as
``trusted_beta``, which only skips recomputing what was verified for exactly that header id.

Order inside a block: header rules, payload rules, then the header's own effects
(``open_block``: count the slot, mix the RANDAO reveal, and at a round's last block close the
round), then the transactions, then the forger's reward and fees (``finish_block``).
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import (
    AmountError,
    BlockRejectedError,
    EtmBridgeError,
    StoreError,
    TxRejectedError,
    ValidationError,
)
from . import vrf
from .address import address_hash
from .block import Block, BlockHeader, merkle_root
from .codec import MAX_U64
from .genesis import signing_genesis_id
from .params import ChainParams
from .registry import Registry, TxContext, TxType
from .rounds import (
    close_round,
    mix_reveal,
    record_slot,
    reveal_alpha,
    round_order,
    slot_delegate,
    slot_forfeited,
)
from .state import ACCOUNTS, META, Account, State, StateView
from .tx import Tx

TIP_KEY = b"tip"
NO_GENERATOR = bytes(32)
#: Failures of the machine, not of a transaction: rolled back and re-raised, never a rejection.
#: (State reads through the store raise StoreError; RecursionError cannot come from input, which
#: every decoder caps far below the recursion limit, so it is treated as a fault too.)
_ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (
    StoreError,
    OSError,
    MemoryError,
    RecursionError,
)


@dataclass(frozen=True)
class Tip:
    height: int
    block_id: bytes
    slot: int
    timestamp: int


def read_tip(view: StateView) -> Tip:
    return parse_tip(view.get(META, TIP_KEY))


def parse_tip(raw: bytes | None) -> Tip:
    """The tip record (``meta/tip``) as a :class:`Tip`."""
    if raw is None:
        raise ValidationError("state has no tip: genesis was not applied")
    return _parse_tip(raw)


@lru_cache(maxsize=16)
def _parse_tip(raw: bytes) -> Tip:
    """Parsed once per record (a block reads the tip several times; a Tip is immutable)."""
    tip = json.loads(raw)
    return Tip(tip["height"], bytes.fromhex(tip["id"]), tip["slot"], tip["timestamp"])


def write_tip(state: State, params: ChainParams, header: BlockHeader) -> None:
    slot = params.slot_of(header.timestamp)
    tip = {"height": header.height, "id": header.id.hex(), "slot": slot}
    state.put_json(META, TIP_KEY, {**tip, "timestamp": header.timestamp})


def _admission(registry: Registry, tx: Tx, params: ChainParams, verify_sig: bool) -> TxType[Any]:
    """Every rule that needs no payload decoding, cheapest first (issue 11, item 3): a payload
    is decoded only once its sender has signed it and offered at least the minimum fee."""
    if tx.network != params.network_id:
        raise TxRejectedError("wrong_network", f"tx is for network {tx.network:#x}")
    tx_type = registry.type_of(tx.type_id)
    if tx.size > params.max_block_payload_bytes:
        raise TxRejectedError(
            "tx_too_large", f"{tx.size} bytes never fit a block ({params.max_block_payload_bytes})"
        )
    minimum = params.fee_base + params.fee_per_byte * tx.size + tx_type.min_fee
    if tx.fee < minimum:
        raise TxRejectedError("fee_too_low", f"fee {tx.fee} is below the minimum {minimum}")
    if verify_sig and not tx.signature_ok():
        raise TxRejectedError("bad_signature", "signature does not verify for the sender key")
    return tx_type


def precheck_tx(state: StateView, registry: Registry, tx: Tx, params: ChainParams) -> None:
    """What :func:`apply_tx` checks before decoding, except the signature, the costly part:
    network, type, size, fee minimum, nonce and fee balance. The mempool runs it before
    admitting (review a13d): a transaction refused for its nonce or balance costs the peer that
    gossiped it nothing (an honest peer's state may differ), so verifying its signature first
    let one peer make the node verify 1,000 signatures per message for free. Block validation
    keeps :func:`apply_tx`'s order (no block's validity changes, only the mempool's reason for a
    transaction that fails both ways)."""
    _admission(registry, tx, params, verify_sig=False)
    acct = state.account(tx.sender)
    if tx.nonce != acct.nonce:
        raise TxRejectedError("wrong_nonce", f"tx nonce {tx.nonce}, account nonce {acct.nonce}")
    if acct.balance < tx.fee:
        raise TxRejectedError("insufficient_balance", f"balance {acct.balance} < fee {tx.fee}")


def _decode(tx_type: TxType[Any], tx: Tx) -> Any:
    """The decoded payload; any failure of the type's decoder is ``malformed_field``."""
    try:
        return tx_type.decode(tx.payload)
    except AmountError as exc:  # an integer out of its range is a bad amount
        raise TxRejectedError("bad_amount", f"{tx_type.name} payload: {exc}") from None
    except ValidationError as exc:
        raise TxRejectedError("malformed_field", f"{tx_type.name} payload: {exc}") from None
    except _ENVIRONMENT_ERRORS:
        raise
    except Exception as exc:  # a decoder bug must not pass for a crash of the node
        raise TxRejectedError(
            "malformed_field", f"{tx_type.name} payload: {type(exc).__name__}: {exc}"
        ) from None


def apply_tx(
    state: State,
    registry: Registry,
    tx: Tx,
    ctx: TxContext,
    verify_sig: bool = True,
    amount_room: int = MAX_U64,
) -> int:
    """Validate ``tx`` and apply it; on any rejection no state changes (savepoint rollback).

    Returns the ETM amount the tx moved (its type's ``amount``, for the header's totalAmount);
    a tx moving more than ``amount_room`` is refused (``block_amount_full``) before it applies,
    so a forger never builds a header whose u64 totalAmount overflows (issue 11, item 10).
    Whatever the type's ``check``/``apply`` raise is undone and becomes a rejection
    (``rejected_by_type``), except a failure of the machine itself (:data:`_ENVIRONMENT_ERRORS`),
    which is undone and re-raised: a full disk is not a verdict on the transaction.
    """
    tx_type = _admission(registry, tx, ctx.params, verify_sig)
    acct = state.account(tx.sender)
    if tx.nonce != acct.nonce:
        raise TxRejectedError("wrong_nonce", f"tx nonce {tx.nonce}, account nonce {acct.nonce}")
    if acct.balance < tx.fee:
        raise TxRejectedError("insufficient_balance", f"balance {acct.balance} < fee {tx.fee}")
    payload = _decode(tx_type, tx)
    state.savepoint()
    try:
        moved = tx_type.amount(payload)
        if moved > amount_room:
            left = f"the block's u64 totalAmount has {amount_room} left"
            raise TxRejectedError("block_amount_full", f"moves {moved}; {left}")
        state.set_account(Account(tx.sender, acct.balance - tx.fee, acct.nonce + 1))
        tx_type.check(state, tx, payload, ctx)
        tx_type.apply(state, tx, payload, ctx)
    except TxRejectedError:
        state.rollback()
        raise
    except _ENVIRONMENT_ERRORS:
        state.rollback()
        raise
    except Exception as exc:  # project errors and any library's (issue 11, item 11)
        state.rollback()
        what = str(exc) if isinstance(exc, EtmBridgeError) else f"{type(exc).__name__}: {exc}"
        raise TxRejectedError("rejected_by_type", f"{tx_type.name}: {what}") from exc
    state.release()
    return moved


def _reject(reason: str, detail: str) -> BlockRejectedError:
    return BlockRejectedError(reason, detail)


def check_header(
    view: StateView,
    params: ChainParams,
    h: BlockHeader,
    now: int | None,
    trusted_beta: bytes | None = None,
) -> tuple[int, bytes]:
    """Header rules against the tip in ``view``; returns the block's slot and VRF output.

    ``trusted_beta``: what :func:`check_signatures` returned for exactly this header (same id)
    on this chain, computed ahead (``preverify.py``); the signature and reveal are then not
    verified again. Never pass anything else."""
    tip = read_tip(view)
    if h.version != params.block_version:
        raise _reject("wrong_version", f"version {h.version}, expected {params.block_version}")
    if h.network != params.network_id:
        raise _reject("wrong_network", f"header is for network {h.network:#x}")
    if h.height != tip.height + 1:
        raise _reject("wrong_height", f"height {h.height}, tip is {tip.height}")
    if h.previous_block != tip.block_id:
        raise _reject("wrong_previous", f"previous {h.previous_block.hex()} is not the tip")
    if now is not None and h.timestamp > now + params.max_clock_drift_s:
        raise _reject("future_block", f"timestamp {h.timestamp} is ahead of now ({now})")
    slot = params.slot_of(h.timestamp)
    if now is not None and now >= params.slot_time(slot + 1) + params.max_clock_drift_s:
        raise _reject("late_block", f"slot {slot} ended before now ({now}): forged too late")
    if slot <= tip.slot:
        raise _reject("stale_slot", f"slot {slot} is not after the tip's slot {tip.slot}")
    order = round_order(view, params.round_of(h.height))
    expected = slot_delegate(order, slot)
    if h.generator_public_key != expected:
        raise _reject("wrong_delegate", f"slot {slot} belongs to {expected.hex()}")
    if slot_forfeited(view, order, expected):
        raise _reject("delegate_slashed", f"slot {slot}'s delegate was slashed in this round")
    if h.reward != params.block_reward:
        raise _reject("wrong_reward", f"reward {h.reward}, expected {params.block_reward}")
    if h.hash_value() >= params.hash_target:
        raise _reject("hashing_test_failed", "sha256d(header) is not below the hashing target")
    if trusted_beta is not None:
        return slot, trusted_beta
    return slot, check_signatures(params, signing_genesis_id(view), h)


def check_signatures(params: ChainParams, genesis_id: bytes, h: BlockHeader) -> bytes:
    """The block signature (for the chain of ``genesis_id``) and the RANDAO reveal (the
    generator's VRF proof for the block's round); returns the reveal's VRF output. Pure and
    thread-safe: it reads nothing but its arguments (``bad_signature``, ``bad_reveal``)."""
    if not h.signature_ok(genesis_id):
        raise _reject("bad_signature", "block signature does not verify for the generator")
    alpha = reveal_alpha(params.network_id, params.round_of(h.height))
    beta = vrf.verify(h.generator_public_key, alpha, h.reveal)
    if beta is None:
        raise _reject("bad_reveal", "the reveal is not the generator's VRF proof for this round")
    return beta


def check_payload(params: ChainParams, block: Block) -> None:
    h, txs = block.header, block.transactions
    if len(txs) > params.max_txs_per_block:
        raise _reject("too_many_transactions", f"{len(txs)} > {params.max_txs_per_block}")
    if h.number_of_transactions != len(txs):
        raise _reject("wrong_transaction_count", f"header says {h.number_of_transactions}")
    length = sum(tx.size for tx in txs)
    if length > params.max_block_payload_bytes:
        raise _reject("payload_too_large", f"{length} > {params.max_block_payload_bytes} bytes")
    if h.payload_length != length:
        raise _reject("bad_payload_length", f"header {h.payload_length}, payload {length}")
    if h.payload_hash != merkle_root([tx.id for tx in txs]):
        raise _reject("bad_payload_hash", "payload hash is not the Merkle root of the tx ids")


def apply_block(
    state: State,
    registry: Registry,
    params: ChainParams,
    block: Block,
    now: int | None,
    verified: Container[bytes] = (),
    trusted_beta: bytes | None = None,
) -> None:
    """Validate ``block`` on the tip in ``state`` and apply it (raises BlockRejectedError).

    ``verified``: ids of transactions whose signatures were already verified; ``trusted_beta``:
    see :func:`check_header`."""
    h = block.header
    prev_slot = read_tip(state).slot
    slot, beta = check_header(state, params, h, now, trusted_beta)
    check_payload(params, block)
    open_block(
        state, params, h.height, h.generator_public_key, prev_slot, slot, beta,
        registry=registry, timestamp=h.timestamp,
    )  # fmt: skip
    state.prefetch(ACCOUNTS, {tx.sender for tx in block.transactions})
    ctx = TxContext(params, h.height, h.timestamp, h.generator_public_key)
    total_amount = total_fee = 0
    for i, tx in enumerate(block.transactions):
        try:
            total_amount += apply_tx(state, registry, tx, ctx, verify_sig=tx.id not in verified)
        except TxRejectedError as exc:
            raise _reject("invalid_transaction", f"tx {i} {tx.id.hex()}: {exc}") from exc
        total_fee += tx.fee
    if total_amount != h.total_amount:
        raise _reject("wrong_total_amount", f"header {h.total_amount}, txs {total_amount}")
    if total_fee != h.total_fee:
        raise _reject("wrong_total_fee", f"header {h.total_fee}, txs {total_fee}")
    finish_block(state, params, h)


def open_block(
    state: State,
    params: ChainParams,
    height: int,
    generator: bytes,
    prev_slot: int,
    slot: int,
    beta: bytes,
    registry: Registry | None = None,
    timestamp: int = 0,
) -> None:
    """The header's effects, before any transaction: count the slot (and the misses since
    ``prev_slot``), mix the reveal's VRF output ``beta`` into the round's RANDAO accumulator, and
    at a round's last block close the round (election, rewards, next order: ``rounds.py``),
    then run ``registry``'s round hooks with the block's header ``timestamp``."""
    record_slot(state, params, height, prev_slot, slot, generator)
    mix_reveal(state, params, height, beta)
    if params.is_round_end(height):
        hooks = registry.round_hooks if registry is not None else ()
        close_round(state, params, height, timestamp, hooks)


def finish_block(state: State, params: ChainParams, h: BlockHeader) -> None:
    """After the transactions: pay the forger its reward and fees, move the tip."""
    forger = address_hash(h.generator_public_key)
    state.mint(forger, h.reward)
    state.credit(forger, h.total_fee)
    write_tip(state, params, h)
