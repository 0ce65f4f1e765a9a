"""Bitcoin's client side of ETM pools (its profile's ``client``): a proven lock's adapter id and
the LP deposit (payments, proof encoding, the check of a resumed payment) and the operator's
payment of withdrawal obligations.

Pure: built on the chain folder's SPV and verifier code; no node, no plugin.
"""

from __future__ import annotations

from etm_bridge.adapter import Payment
from etm_bridge.chains.profile import DepositRequest, ObligationRequest
from etm_bridge.errors import ValidationError
from etm_bridge.observations import InclusionProof

from .etm.verifier import DEPOSIT_TAG, BtcProof, p2wpkh, payment_tag
from .spv.tx import parse_tx

_OP_RETURN = 0x6A


def adapter_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """``txid_le || vout u32 BE`` -> the adapter's ``<txid display hex>:<vout>:<hashlock>``."""
    if len(lock_id) != 36:
        return None
    return f"{lock_id[:32][::-1].hex()}:{int.from_bytes(lock_id[32:], 'big')}:{hashlock.hex()}"


def _op_return(data: bytes) -> bytes:
    if not 0 < len(data) <= 75:
        raise ValueError("OP_RETURN data must be 1..75 bytes")
    return bytes([_OP_RETURN, len(data)]) + data


def deposit_payments(req: DepositRequest) -> list[Payment]:
    """The pool payment at output 0, then the ``OP_RETURN "ETMD" || owner`` tag. An operator
    pool is paid at its claim key (P2WPKH); a committee pool (no claim key) at its vault, the
    P2WSH script in ``destination`` (hex) that the client derived from the committee
    (``etm_bridge.app.committee_pools``). A committee pool without a vault is refused, rather
    than paying the P2WPKH of an empty key, which nobody can spend."""
    tag = Payment(_op_return(DEPOSIT_TAG + req.owner20), 0)
    if not req.claim_key:
        return [Payment(_vault_script(req.destination), req.amount), tag]
    if len(req.claim_key) != 33:
        raise ValidationError(
            f"the pool's claim key is {len(req.claim_key)} bytes, not a Bitcoin key"
        )
    return [Payment(p2wpkh(req.claim_key), req.amount), tag]


def _vault_script(destination: str | None) -> bytes:
    try:
        spk = bytes.fromhex(destination or "")
    except ValueError:
        spk = b""
    if len(spk) != 34 or spk[:2] != b"\x00\x20":
        raise ValidationError(
            "a committee pool's deposit pays its vault (a P2WSH script), and none was given: "
            "the ETM node names no vault for this pool (pool show --json)"
        )
    return spk


def deposit_proof(proof: InclusionProof) -> bytes:
    return BtcProof.from_adapter_proof(proof, 0).encode()


def check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    """The proven transaction pays the pool at output 0 and carries the owner tag."""
    tx = parse_tx(proof.leaf)
    pay, tag = deposit_payments(req)
    out = tx.outputs[0] if tx.outputs else None
    if out is None or out.script_pubkey != pay.destination or out.value_sat != pay.amount:
        raise ValidationError(
            f"bitcoin tx {tx.txid_hex} does not pay {pay.amount} sat to the pool at output 0"
        )
    if tag.destination not in [o.script_pubkey for o in tx.outputs]:
        raise ValidationError(f"bitcoin tx {tx.txid_hex} does not carry this wallet's owner tag")


def obligation_payments(req: ObligationRequest) -> list[Payment]:
    """The investor's bound key paid (P2WPKH) at output 0, then ``OP_RETURN "ETMO" || ids``."""
    tag = _op_return(payment_tag(req.obligation_ids))
    return [Payment(p2wpkh(req.destination), req.amount), Payment(tag, 0)]


def obligation_proof(proof: InclusionProof) -> bytes:
    """The ``xchg_obligation_paid`` proof of output 0 (the payment to the bound key)."""
    return BtcProof.from_adapter_proof(proof, 0).encode()
