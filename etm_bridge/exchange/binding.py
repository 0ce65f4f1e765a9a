"""Address binding: prove control of a foreign chain's key and tie it to an ETM address.

Whitepaper 6.2: "User A must first register with En-Tan-Mo to bind the mapping relationship
between User A's ETM wallet address and the [foreign chain's] wallet address". A
:class:`BindingProof` is a signature over :func:`binding_message`, which names the ETM
network, the ETM address, the foreign chain (its ticker), a nonce and an expiry height. How
the chain's key signs, and which key a signature proves, is the chain profile's ``binding``
part (e.g. a signed-message format recovering a public key, or a recoverable signature naming
an address); the key it records is what that chain's swaps use.

A proof is rejected if its signature does not prove the claimed key (forged), if it names
another ETM address or network, if it expired, if its expiry is too far ahead, or if its nonce
is not above the last nonce used by that ETM address on that chain (replayed). Binding,
rebinding (replace a binding) and unbinding are separate, explicit operations; one foreign key
binds to at most one ETM address, so an SPV-seen payment has one owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chains.profile import BindingSpec
from ..chains.registry import chain_registry
from ..errors import BindingError
from .reasons import Reason

#: A proof may not expire more than this many ETM blocks after the block that records it.
MAX_PROOF_LIFETIME_BLOCKS = 8_640


def chain_of_asset(asset: str) -> str:
    """The chain (ticker) whose key a pool asset's swaps use (``BindingError`` if none)."""
    return chain_registry().for_asset(asset).ticker


def binding_scheme(chain: str) -> BindingSpec:
    """How keys of chain ``chain`` (a ticker) sign bindings (``BindingError`` if none can)."""
    for profile in chain_registry().profiles:
        if profile.ticker == chain:
            return profile.binding
    raise BindingError(Reason.UNSUPPORTED_CHAIN, f"cannot bind chain {chain!r}")


def key_length(chain: str) -> int:
    """The length of the key a binding on ``chain`` records (``BindingError`` if none)."""
    return binding_scheme(chain).key_len


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
    """A signed claim that ``key`` (the chain's kind of key) is ``etm_address``'s."""

    etm_address: str
    chain: str
    key: bytes
    nonce: int
    expiry_height: int
    signature: bytes

    def __post_init__(self) -> None:
        key_len = key_length(self.chain)
        if not isinstance(self.key, bytes) or len(self.key) != key_len:
            raise BindingError(Reason.BAD_PARAMETER, f"{self.chain} key must be {key_len} bytes")
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
    scheme = binding_scheme(proof.chain)
    signer = scheme.signer(proof.message(network), proof.signature, proof.key)
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
