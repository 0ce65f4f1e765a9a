"""Bitcoin's address-binding signatures: the Bitcoin signed-message format.

``"\\x18Bitcoin Signed Message:\\n"`` prefix, double sha256, a 65-byte compact recoverable
signature (python-bitcoinlib's ``bitcoin.signmessage``) by a *compressed* key; the recovered
33-byte pubkey is what a binding records, because the swap scripts need the pubkey itself, not
its hash (:mod:`etm_bridge.exchange.binding`). Pure.
"""

from __future__ import annotations

import base64

from bitcoin.core.key import CECKey, CPubKey
from bitcoin.signmessage import BitcoinMessage

from etm_bridge.errors import BindingError
from etm_bridge.exchange.reasons import Reason


def sign_btc(message: str, secret: bytes) -> bytes:
    """65-byte compact Bitcoin signed-message signature by the compressed key ``secret``."""
    key = CECKey()
    key.set_secretbytes(secret)
    key.set_compressed(True)
    sig, recid = key.sign_compact(BitcoinMessage(message).GetHash())
    return bytes([27 + 4 + recid]) + sig


def btc_pubkey_of(secret: bytes) -> bytes:
    """The 33-byte compressed pubkey of a 32-byte secret."""
    key = CECKey()
    key.set_secretbytes(secret)
    key.set_compressed(True)
    return bytes(key.get_pubkey())


def recover_btc(message: str, signature: bytes) -> bytes:
    """The compressed pubkey that made a Bitcoin signed-message signature, or raise."""
    if len(signature) == 88:  # accept the usual base64 text form too
        signature = base64.b64decode(signature)
    if len(signature) != 65 or not 31 <= signature[0] <= 34:
        raise BindingError(
            Reason.BAD_SIGNATURE,
            "Bitcoin binding signature must be 65 bytes by a compressed key (header 31-34)",
        )
    try:
        pub = CPubKey.recover_compact(BitcoinMessage(message).GetHash(), signature)
    except Exception as exc:  # OpenSSL rejects malformed r/s in several ways
        raise BindingError(Reason.BAD_SIGNATURE, f"signature does not recover: {exc}") from None
    if not pub or len(pub) != 33:
        raise BindingError(Reason.BAD_SIGNATURE, "signature does not recover a public key")
    return bytes(pub)
