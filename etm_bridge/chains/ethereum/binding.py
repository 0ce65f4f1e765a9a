"""Ethereum's address-binding signatures: EIP-191 ``personal_sign``.

eth-account's ``encode_defunct`` + ``Account.sign_message`` / ``Account.recover_message``; the
recovered 20-byte address is what a binding records (:mod:`etm_bridge.exchange.binding`). Pure.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from etm_bridge.errors import BindingError
from etm_bridge.exchange.reasons import Reason


def sign_eth(message: str, private_key: bytes) -> bytes:
    """65-byte EIP-191 ``personal_sign`` signature."""
    return bytes(Account.sign_message(encode_defunct(text=message), private_key).signature)


def address_of(private_key: bytes) -> bytes:
    """The 20-byte address of a 32-byte secret."""
    return bytes.fromhex(Account.from_key(private_key).address[2:])


def recover_eth(message: str, signature: bytes) -> bytes:
    """The 20-byte address that made an EIP-191 signature, or raise."""
    if len(signature) != 65:
        raise BindingError(Reason.BAD_SIGNATURE, "EIP-191 signature must be 65 bytes")
    try:
        address = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # eth-keys raises BadSignature / ValueError on malformed input
        raise BindingError(Reason.BAD_SIGNATURE, f"signature does not recover: {exc}") from None
    return bytes.fromhex(address[2:])
