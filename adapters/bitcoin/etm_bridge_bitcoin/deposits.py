"""Tagged payments and their exchange proofs, over the adapter's payments capability.

A pool deposit or an obligation payment on Bitcoin is a transaction paying ``script_pubkey``
at output 0 plus one ``OP_RETURN <data>`` output (the exchange's owner / payment tag).
:func:`pay_tagged` makes it through :meth:`BitcoinAdapter.pay`, :func:`wait_proof` waits for its
confirmations and returns the exchange's proof (``BtcProof``, payment at output 0), and
:func:`check_payment` checks a proven transaction is that payment (what a resumed deposit must
match). ``etm-bridge lp deposit`` itself goes through ``etm_bridge.app.liquidity``; these are
for scripts and tests that pay by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from etm_bridge.adapter import Payment
from etm_bridge.chains.bitcoin.etm.verifier import BtcProof
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import ChainError, LockNotFoundError, ValidationError

from .adapter import BitcoinAdapter

_OP_RETURN = 0x6A


def op_return_script(data: bytes) -> bytes:
    """``OP_RETURN <data>`` with a direct push (data of at most 75 bytes)."""
    if not 0 < len(data) <= 75:
        raise ValueError("OP_RETURN data must be 1..75 bytes")
    return bytes([_OP_RETURN, len(data)]) + data


def deposit_outputs(to_script: bytes, amount_sat: int, data: bytes) -> list[tuple[bytes, int]]:
    """The ``(script_pubkey, amount_sat)`` outputs in order: the payment at output 0 (where
    :func:`wait_proof` expects it), then the zero-value ``OP_RETURN data`` tag."""
    return [(to_script, amount_sat), (op_return_script(data), 0)]


def pay_tagged(
    adapter: BitcoinAdapter, to_script: bytes, amount_sat: int, data: bytes
) -> tuple[str, int]:
    """Pay :func:`deposit_outputs` from the adapter's coins; (txid, node height before it)."""
    height = adapter.tip().height
    outputs = deposit_outputs(to_script, amount_sat, data)
    return adapter.pay([Payment(script, value) for script, value in outputs]), height


def wait_proof(
    adapter: BitcoinAdapter,
    txid: str,
    from_height: int,
    confirmations: int,
    *,
    timeout_s: float = 3600.0,
    progress: Callable[[int, int], None] | None = None,
) -> BtcProof:
    """Wait until ``txid`` has ``confirmations``; its exchange proof (payment at output 0)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = adapter.payment_status(txid, since_height=from_height)
        except LockNotFoundError:
            status = None
        if status is not None and status.block_height is not None:
            if progress is not None:
                progress(status.confirmations, confirmations)
            if status.confirmations >= confirmations:
                proof = adapter.transaction_proof(txid, status.block_height)
                return BtcProof.from_adapter_proof(proof, 0)
        time.sleep(1.0)
    raise ChainError(f"Bitcoin tx {txid} did not get {confirmations} confirmations in time")


def check_payment(proof: BtcProof, to_script: bytes, amount_sat: int, data: bytes) -> None:
    """The proven transaction pays ``amount_sat`` to ``to_script`` at output 0 and carries the
    ``OP_RETURN data`` output; ValidationError otherwise."""
    tx = parse_tx(proof.tx_proof.raw_tx)
    out = tx.outputs[0] if tx.outputs else None
    if out is None or out.script_pubkey != to_script or out.value_sat != amount_sat:
        raise ValidationError(
            f"bitcoin tx {tx.txid_hex} does not pay {amount_sat} sat to the pool at output 0"
        )
    if op_return_script(data) not in [o.script_pubkey for o in tx.outputs]:
        raise ValidationError(f"bitcoin tx {tx.txid_hex} does not carry this wallet's owner tag")
