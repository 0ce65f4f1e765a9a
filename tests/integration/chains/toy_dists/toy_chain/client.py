"""The toy chain's client side of ETM pools (its profile's ``client``): lock ids, the LP
deposit's payments and proofs. Pure."""

from __future__ import annotations

import json

from etm_bridge.adapter import HtlcLock, Payment
from etm_bridge.chains.profile import DepositRequest
from etm_bridge.errors import ValidationError
from etm_bridge.observations import InclusionProof

from .exchange import DEPOSIT_TAG, encode_proof


def adapter_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """The exchange proved ``txid`` (internal order); the fake adapter's id is ``<txid>:0``."""
    return None if len(lock_id) != 32 else f"{lock_id[::-1].hex()}:0"


def lock_proof(lock: HtlcLock, proof: InclusionProof) -> bytes:
    return encode_proof(proof)


def deposit_payments(req: DepositRequest) -> list[Payment]:
    return [Payment(req.claim_key, req.amount, DEPOSIT_TAG + req.owner20)]


def deposit_proof(proof: InclusionProof) -> bytes:
    return encode_proof(proof)


def check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    [pay] = deposit_payments(req)
    outputs = json.loads(proof.leaf).get("outputs", [])
    if [pay.destination.hex(), pay.amount, pay.data.hex()] not in outputs:
        raise ValidationError("the toy tx does not make this deposit")
