"""Bitcoin side of ``etm-bridge lp deposit``: pay the pool with an owner tag, then prove it.

Not a verb module. The deposit the exchange accepts (``etm_bridge.chains.bitcoin.etm.verifier``)
is a transaction with an output paying ``P2WPKH(pool claim key)`` and exactly one
``OP_RETURN "ETMD" || address20`` output naming the ETM owner. :func:`deposit_outputs` says what
those outputs are; :func:`pay_tagged` pays them through :meth:`BitcoinAdapter.pay` (the adapter
picks the coins, skipping those a pending transaction already spends, and keeps its index to
mined blocks); :func:`wait_proof` waits for the confirmations and returns the
:class:`~etm_bridge.chains.bitcoin.etm.verifier.BtcProof`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bitcoin.core import CBlock
from etm_bridge_bitcoin.adapter import BitcoinAdapter
from etm_bridge_bitcoin.proofs import block_inclusion_proof

from etm_bridge.chains.bitcoin.etm.verifier import BtcProof
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import ChainError, ValidationError

#: How far back ``lp deposit --txid`` looks for the earlier payment's block.
RESUME_SCAN_BLOCKS = 1_000
_OP_RETURN = 0x6A


def op_return_script(data: bytes) -> bytes:
    """``OP_RETURN <data>`` with a direct push (data of at most 75 bytes)."""
    if not 0 < len(data) <= 75:
        raise ValueError("OP_RETURN data must be 1..75 bytes")
    return bytes([_OP_RETURN, len(data)]) + data


def deposit_outputs(to_script: bytes, amount_sat: int, data: bytes) -> list[tuple[bytes, int]]:
    """The deposit's ``(script_pubkey, amount_sat)`` outputs in order: the pool payment at output
    0 (where :func:`wait_proof` expects it), then the zero-value ``OP_RETURN data`` owner tag."""
    return [(to_script, amount_sat), (op_return_script(data), 0)]


def pay_tagged(
    adapter: BitcoinAdapter, to_script: bytes, amount_sat: int, data: bytes
) -> tuple[str, int]:
    """Pay :func:`deposit_outputs` from the adapter's coins; returns (txid, node height before
    it). DustError or InsufficientFundsError (from the adapter) when it cannot be paid."""
    height = int(adapter.rpc.call("getblockcount"))
    return adapter.pay(deposit_outputs(to_script, amount_sat, data)), height


def _find_block(adapter: BitcoinAdapter, txid: str, from_height: int) -> int | None:
    """The height of the best-chain block holding ``txid`` at or above ``from_height``."""
    tip = int(adapter.rpc.call("getblockcount"))
    for height in range(from_height, tip + 1):
        raw = adapter.rpc.call("getblock", adapter.rpc.call("getblockhash", height), 0)
        block = CBlock.deserialize(bytes.fromhex(raw))
        if any(tx.GetTxid()[::-1].hex() == txid for tx in block.vtx):
            return height
    return None


def wait_proof(
    adapter: BitcoinAdapter,
    txid: str,
    from_height: int,
    confirmations: int,
    *,
    timeout_s: float = 3600.0,
    progress: Callable[[int, int], None] | None = None,
) -> BtcProof:
    """Wait until ``txid`` has ``confirmations``; its proof (payment at output 0)."""
    deadline, height = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        height = _find_block(adapter, txid, from_height if height is None else height)
        if height is not None:
            have = int(adapter.rpc.call("getblockcount")) - height + 1
            if progress is not None:
                progress(have, confirmations)
            if have >= confirmations:
                raw = adapter.rpc.call("getblock", adapter.rpc.call("getblockhash", height), 0)
                proof = block_inclusion_proof(CBlock.deserialize(bytes.fromhex(raw)), height, txid)
                return BtcProof.from_adapter_proof(proof, 0)
        time.sleep(1.0)
    raise ChainError(f"Bitcoin tx {txid} did not get {confirmations} confirmations in time")


def check_payment(proof: BtcProof, to_script: bytes, amount_sat: int, data: bytes) -> None:
    """The proven transaction pays ``amount_sat`` to ``to_script`` at output 0 and carries the
    ``OP_RETURN data`` output (what a resumed deposit must match); ValidationError otherwise."""
    tx = parse_tx(proof.tx_proof.raw_tx)
    out = tx.outputs[0] if tx.outputs else None
    if out is None or out.script_pubkey != to_script or out.value_sat != amount_sat:
        raise ValidationError(
            f"bitcoin tx {tx.txid_hex} does not pay {amount_sat} sat to the pool at output 0"
        )
    if op_return_script(data) not in [o.script_pubkey for o in tx.outputs]:
        raise ValidationError(f"bitcoin tx {tx.txid_hex} does not carry this wallet's owner tag")
