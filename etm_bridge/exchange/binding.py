"""Address binding: prove control of a BTC or ETH key and tie it to an ETM address.

Whitepaper 6.2: "User A must first register with En-Tan-Mo to bind the mapping relationship
between User A's ETM wallet address and the BTC wallet address". A :class:`BindingProof` is a
signature over :func:`binding_message`, which names the ETM network, the ETM address, the
foreign chain, a nonce and an expiry height:

- Bitcoin: the Bitcoin signed-message format (``"\\x18Bitcoin Signed Message:\\n"`` prefix,
  double sha256, 65-byte compact recoverable signature, python-bitcoinlib's
  ``bitcoin.signmessage``) by a *compressed* key; the recovered 33-byte pubkey is recorded,
  because the swap scripts need the pubkey itself, not its hash.
- Ethereum: an EIP-191 ``personal_sign`` signature (eth-account ``encode_defunct`` +
  ``Account.recover_message``); the recovered 20-byte address is recorded.

A proof is rejected if its signature does not recover the claimed key (forged), if it names
another ETM address or network, if it expired, if its expiry is too far ahead, or if its nonce
is not above the last nonce used by that ETM address on that chain (replayed). Binding,
rebinding (replace a binding) and unbinding are separate, explicit operations; one foreign key
binds to at most one ETM address, so an SPV-seen payment has one owner.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from bitcoin.core.key import CECKey, CPubKey
from bitcoin.signmessage import BitcoinMessage
from eth_account import Account
from eth_account.messages import encode_defunct

from ..errors import BindingError
from .reasons import Reason

#: Foreign chains a key can be bound for, and the length of the key recorded for each.
KEY_LEN = {"btc": 33, "eth": 20}
#: A proof may not expire more than this many ETM blocks after the block that records it.
MAX_PROOF_LIFETIME_BLOCKS = 8_640


def chain_of_asset(asset: str) -> str:
    """The chain whose key a pool asset's swaps use: ``btc``; ``eth`` for ETH and ERC-20s."""
    if asset == "btc":
        return "btc"
    if asset == "eth" or asset.startswith("erc20:"):
        return "eth"
    raise BindingError(Reason.UNSUPPORTED_CHAIN, f"no foreign chain for asset {asset!r}")


def binding_message(
    network: str, etm_address: str, chain: str, nonce: int, expiry_height: int
) -> str:
    """The exact text a binding proof signs."""
    return (
        "etm-bridge address binding v1\n"
        f"ETM network: {network}\n"
        f"ETM address: {etm_address}\n"
        f"chain: {chain}\n"
        f"nonce: {nonce}\n"
        f"expires after ETM height: {expiry_height}"
    )


@dataclass(frozen=True)
class BindingProof:
    """A signed claim that ``key`` (33-byte pubkey or 20-byte address) is ``etm_address``'s."""

    etm_address: str
    chain: str
    key: bytes
    nonce: int
    expiry_height: int
    signature: bytes

    def __post_init__(self) -> None:
        if self.chain not in KEY_LEN:
            raise BindingError(Reason.UNSUPPORTED_CHAIN, f"cannot bind chain {self.chain!r}")
        if not isinstance(self.key, bytes) or len(self.key) != KEY_LEN[self.chain]:
            raise BindingError(
                Reason.BAD_PARAMETER, f"{self.chain} key must be {KEY_LEN[self.chain]} bytes"
            )
        if not isinstance(self.nonce, int) or self.nonce < 0:
            raise BindingError(Reason.BAD_PARAMETER, f"nonce must be >= 0, got {self.nonce!r}")

    def message(self, network: str) -> str:
        return binding_message(
            network, self.etm_address, self.chain, self.nonce, self.expiry_height
        )


@dataclass(frozen=True)
class Binding:
    """A recorded binding: the key swaps with ``etm_address`` use on ``chain``."""

    etm_address: str
    chain: str
    key: bytes
    nonce: int
    bound_height: int


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


def sign_eth(message: str, private_key: bytes) -> bytes:
    """65-byte EIP-191 ``personal_sign`` signature."""
    return bytes(Account.sign_message(encode_defunct(text=message), private_key).signature)


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


def recover_eth(message: str, signature: bytes) -> bytes:
    """The 20-byte address that made an EIP-191 signature, or raise."""
    if len(signature) != 65:
        raise BindingError(Reason.BAD_SIGNATURE, "EIP-191 signature must be 65 bytes")
    try:
        address = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # eth-keys raises BadSignature / ValueError on malformed input
        raise BindingError(Reason.BAD_SIGNATURE, f"signature does not recover: {exc}") from None
    return bytes.fromhex(address[2:])


def verify_proof(proof: BindingProof, network: str, height: int) -> None:
    """Raise unless ``proof`` is signed by its key and is live at ``height``."""
    if proof.expiry_height < height:
        raise BindingError(
            Reason.PROOF_EXPIRED, f"proof expired after height {proof.expiry_height}, now {height}"
        )
    if proof.expiry_height > height + MAX_PROOF_LIFETIME_BLOCKS:
        raise BindingError(
            Reason.PROOF_TOO_LONG_LIVED,
            f"proof expiry {proof.expiry_height} is more than {MAX_PROOF_LIFETIME_BLOCKS} "
            f"blocks after {height}",
        )
    recover = recover_btc if proof.chain == "btc" else recover_eth
    signer = recover(proof.message(network), proof.signature)
    if signer != proof.key:
        raise BindingError(
            Reason.WRONG_SIGNER,
            f"signature is by {signer.hex()}, not the claimed key {proof.key.hex()} "
            "(forged, or signed over another message)",
        )


def check_binding(
    proof: BindingProof,
    *,
    sender: str,
    network: str,
    height: int,
    last_nonce: int | None,
    current: Binding | None,
    key_owner: str | None,
    rebind: bool,
) -> Binding:
    """The binding ``proof`` creates, submitted by ``sender`` at ``height``, or raise.

    ``last_nonce`` is the highest nonce already used by ``sender`` on ``proof.chain`` (None if
    never), ``current`` its binding on that chain, ``key_owner`` the ETM address the proof's key
    is bound to now (None if none). ``rebind`` says the sender asked to replace ``current``.
    """
    if proof.etm_address != sender:
        raise BindingError(
            Reason.WRONG_ETM_ADDRESS, f"proof names {proof.etm_address}, sent by {sender}"
        )
    if last_nonce is not None and proof.nonce <= last_nonce:
        raise BindingError(
            Reason.NONCE_REPLAYED, f"nonce {proof.nonce} is not above the last one, {last_nonce}"
        )
    if current is not None and not rebind:
        raise BindingError(
            Reason.ALREADY_BOUND, f"{sender} is already bound on {proof.chain}; rebind explicitly"
        )
    if current is None and rebind:
        raise BindingError(Reason.NOT_BOUND, f"{sender} has no {proof.chain} binding to replace")
    if key_owner is not None and key_owner != sender:
        raise BindingError(
            Reason.KEY_BOUND_ELSEWHERE, f"{proof.key.hex()} is bound to {key_owner}; unbind it"
        )
    verify_proof(proof, network, height)
    return Binding(sender, proof.chain, proof.key, proof.nonce, height)
