"""Ethereum's client side of ETM pools (its profile's ``client``): a proven lock's adapter id and
the LP deposit through the operator's PoolVault (payment, proof encoding, the log's check).

Pure: built on the chain folder's receipt and verifier code; no node, no plugin.
"""

from __future__ import annotations

from eth_utils import keccak

from etm_bridge.adapter import Payment
from etm_bridge.chains.profile import DepositRequest
from etm_bridge.errors import ValidationError
from etm_bridge.observations import InclusionProof

from .etm.verifier import DEPOSITED_EVENT, EthLogProof, EthProof
from .spv.headers import decode_event, decode_receipt

_VAULT_DEPOSIT = keccak(b"deposit(bytes20)")[:4]


def adapter_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """A contract's 32-byte swap id -> its hex."""
    return lock_id.hex() if len(lock_id) == 32 else None


def deposit_payments(req: DepositRequest) -> list[Payment]:
    """One call of the operator's PoolVault: ``deposit(bytes20 etmOwner)`` with the value."""
    vault = bytes.fromhex(str(req.destination).removeprefix("0x"))
    return [Payment(vault, req.amount, _VAULT_DEPOSIT + req.owner20 + bytes(12))]


def deposit_proof(proof: InclusionProof) -> bytes:
    """The receipt proof naming the vault log (``item``) plus the tx-trie nodes (``aux``)."""
    if proof.item is None:
        raise ValidationError("an ethereum deposit proof must name the vault log (item)")
    return EthLogProof(EthProof.from_adapter_proof(proof, proof.item), proof.aux).encode()


def check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    """The proven log is the vault's ``Deposited`` of this amount for this owner."""
    logs = decode_receipt(proof.leaf).logs
    if proof.item is None or not 0 <= proof.item < len(logs):
        raise ValidationError("the deposit proof names no log of its receipt")
    log = logs[proof.item]
    vault = bytes.fromhex(str(req.destination).removeprefix("0x"))
    event = decode_event(log, DEPOSITED_EVENT)
    if log.address != vault or event["etmOwner"] != req.owner20 or event["amount"] != req.amount:
        raise ValidationError("the proven vault log is not this wallet's deposit of this amount")
