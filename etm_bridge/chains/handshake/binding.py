"""Handshake's address-binding signatures: hsd's signed-message format.

hsd (``rpc.js:signMessageWithPrivkey`` / ``verifyMessage``) signs
``BLAKE2b-256("handshake signed message:\\n" || message)`` with a 64-byte compact ``r || s``
signature and verifies by recovering the key and comparing its BLAKE2b-160 with the address. A
binding records the 33-byte compressed key itself (the swap scripts need the key), so
:func:`signer_of` checks the signature against the claimed key: it must be the key one of the
four recovery ids gives. A signature from ``hsd-cli rpc signmessagewithprivkey`` (base64) is
accepted too. Signing and recovery use python-bitcoinlib's libsecp256k1-compatible keys. Pure.
"""

from __future__ import annotations

import base64
import hashlib

from bitcoin.core.key import CECKey, CPubKey

from etm_bridge.errors import BindingError
from etm_bridge.exchange.reasons import Reason

MAGIC = b"handshake signed message:\n"


def message_hash(message: str) -> bytes:
    return hashlib.blake2b(MAGIC + message.encode(), digest_size=32).digest()


def _key(secret: bytes) -> CECKey:
    key = CECKey()
    key.set_secretbytes(secret)
    key.set_compressed(True)
    return key


def hns_pubkey_of(secret: bytes) -> bytes:
    return bytes(_key(secret).get_pubkey())


def sign_hns(message: str, secret: bytes) -> bytes:
    """The 64-byte ``r || s`` signature hsd's ``signmessagewithprivkey`` makes."""
    sig, _recid = _key(secret).sign_compact(message_hash(message))
    return bytes(sig)


def signer_of(message: str, signature: bytes, claimed: bytes) -> bytes:
    """``claimed`` if it made ``signature`` over ``message``; BindingError otherwise."""
    if len(signature) == 88:  # hsd prints the signature as base64
        signature = base64.b64decode(signature)
    if len(signature) != 64:
        raise BindingError(Reason.BAD_SIGNATURE, "Handshake binding signature must be 64 bytes")
    if len(claimed) != 33 or claimed[0] not in (2, 3):
        raise BindingError(Reason.BAD_SIGNATURE, "Handshake key must be 33 bytes, compressed")
    digest = message_hash(message)
    for recid in range(4):
        try:
            pub = CPubKey.recover_compact(digest, bytes([31 + recid]) + signature)
        except Exception:  # OpenSSL rejects malformed r/s in several ways
            continue
        if pub and bytes(pub) == claimed:
            return claimed
    raise BindingError(Reason.BAD_SIGNATURE, "the signature is not by the claimed Handshake key")
