"""Handshake's client side of ETM pools (its profile's ``client``): a proven lock's adapter id and
the LP deposit (payments, proof encoding, the check of a resumed payment) and the operator's
payment of withdrawal obligations.

A :class:`~etm_bridge.adapter.Payment` destination on Handshake is the output's address as
``version (1 byte) || hash``: ``0x00 || BLAKE2b-160(key)`` pays a key, ``0x1f || data`` is the
nulldata output. Pure: built on the chain folder's SPV and verifier code; no node, no plugin.
"""

from __future__ import annotations

from etm_bridge.adapter import Payment
from etm_bridge.chains.profile import DepositRequest, ObligationRequest
from etm_bridge.errors import ValidationError
from etm_bridge.observations import InclusionProof

from .etm import scripts
from .etm.verifier import HnsProof
from .spv.tx import NULLDATA_VERSION, parse_stripped_tx


def adapter_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """``txid || vout u32 BE`` (what the verifier proves) -> ``<txid hex>:<vout>:<hashlock>``
    (Handshake shows hashes unreversed)."""
    if len(lock_id) != 36:
        return None
    return f"{lock_id[:32].hex()}:{int.from_bytes(lock_id[32:], 'big')}:{hashlock.hex()}"


def deposit_payments(req: DepositRequest) -> list[Payment]:
    """The pool's key paid at output 0, then the one nulldata ``"ETMD" || owner``."""
    pay = Payment(bytes([0]) + scripts.key_hash(req.claim_key), req.amount)
    tag = Payment(bytes([NULLDATA_VERSION]) + scripts.DEPOSIT_TAG + req.owner20, 0)
    return [pay, tag]


def deposit_proof(proof: InclusionProof) -> bytes:
    return HnsProof.from_adapter_proof(proof, 0).encode()


def check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    """The proven transaction pays the pool at output 0 and carries this owner's tag only."""
    tx = parse_stripped_tx(proof.leaf)
    pay, tag = deposit_payments(req)
    out = tx.outputs[0] if tx.outputs else None
    if (
        out is None
        or bytes([out.address_version]) + out.address_hash != pay.destination
        or (out.value != pay.amount or out.covenant_type != 0)
    ):
        raise ValidationError(
            f"handshake tx {tx.txid.hex()} does not pay {pay.amount} doo to the pool at output 0"
        )
    if scripts.nulldata(tx) != [tag.destination[1:]]:
        raise ValidationError(f"handshake tx {tx.txid.hex()} does not carry this wallet's tag")


def obligation_payments(req: ObligationRequest) -> list[Payment]:
    """The investor's bound key paid at output 0, then the one nulldata ``"ETMO" || ids``."""
    pay = Payment(bytes([0]) + scripts.key_hash(req.destination), req.amount)
    tag = Payment(bytes([NULLDATA_VERSION]) + scripts.payment_data(list(req.obligation_ids)), 0)
    return [pay, tag]


def obligation_proof(proof: InclusionProof) -> bytes:
    """The ``xchg_obligation_paid`` proof of output 0 (the payment to the bound key)."""
    return HnsProof.from_adapter_proof(proof, 0).encode()
