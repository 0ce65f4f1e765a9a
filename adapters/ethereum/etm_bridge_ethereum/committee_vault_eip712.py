"""The CommitteeVault's EIP-712 typed data, digests and signature rule (pure, no node).

Exactly what ``contracts/ethereum/CommitteeVault.sol`` (design-14 §3.2, §3.3) computes and
checks: the three typed structs as frozen dataclasses (:class:`CounterLock`, :class:`Payout`,
:class:`Rotate`), :func:`digest` (= the contract's ``hashCounterLock`` / ``hashPayout`` /
``hashRotate``, encoded by eth_account's ``encode_typed_data``, the maintained EIP-712
implementation, not by hand), :func:`recover_signer` (65 bytes, v 27/28,
s <= n/2), :func:`order_signatures` (ascending signer, one per signer), the signer-set rules
(:func:`sort_signers`, :func:`threshold_for`) and the fraud-proof body of design-14 §6.2
(:func:`fraud_body` / :func:`parse_fraud_body`).

This is consensus: ETM recomputes these digests for its covered-digest registry and for fraud
proofs. It imports only ``eth_abi``, ``eth_utils``, ``eth_keys`` and ``eth_account``; the digests
are pinned to a hand-written EIP-712 encoding (unit test), to the contract's ``hash*`` views
(anvil) and to committed vectors. It moves to
``etm_bridge/chains/ethereum/custody/eip712.py`` once issue 12's chain folders land. The I/O
side (deploy, execute) is :mod:`.committee_vault`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar

from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

from etm_bridge.errors import ValidationError

# ---- EIP-712 (design-14 §3.2) ------------------------------------------------------------

NAME = "etm-bridge CommitteeVault"
VERSION = "1"
DOMAIN_FIELDS = (
    ("name", "string"), ("version", "string"), ("chainId", "uint256"),
    ("verifyingContract", "address"), ("salt", "bytes32"),
)  # fmt: skip
DOMAIN_TYPE = f"EIP712Domain({','.join(f'{t} {n}' for n, t in DOMAIN_FIELDS)})"
MAX_SIGNERS = 15
#: secp256k1 group order; a signature with s > ORDER // 2 is refused (malleated twin).
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_BITS = {"uint8": 8, "uint64": 64, "uint256": 256}


class StructKind(IntEnum):
    """The struct kind byte of a fraud-proof body (design-14 §6.2)."""

    COUNTER_LOCK = 1
    PAYOUT = 2
    ROTATE = 3


def _check(name: str, kind: str, value: Any) -> None:
    if kind in _BITS:
        if type(value) is not int or not 0 <= value < 2 ** _BITS[kind]:
            raise ValidationError(f"{name} must be a {kind}, got {value!r}")
    elif kind == "address[]":
        if not isinstance(value, tuple):
            raise ValidationError(f"{name} must be a tuple of 20-byte addresses")
        for i, item in enumerate(value):
            _check(f"{name}[{i}]", "address", item)
    else:
        size = 20 if kind == "address" else 32
        if not isinstance(value, bytes) or len(value) != size:
            raise ValidationError(f"{name} must be {size} bytes ({kind}), got {value!r}")


class _Typed:
    """A typed struct: ``FIELDS`` = (solidity name, EIP-712 type) in declaration order, the
    dataclass fields in the same order."""

    PRIMARY: ClassVar[str]
    KIND: ClassVar[StructKind]
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]

    def __post_init__(self) -> None:
        for (name, kind), value in zip(self.FIELDS, self.values(), strict=True):
            _check(name, kind, value)

    @classmethod
    def type_string(cls) -> str:
        return f"{cls.PRIMARY}({','.join(f'{t} {n}' for n, t in cls.FIELDS)})"

    @classmethod
    def type_hash(cls) -> bytes:
        return keccak(text=cls.type_string())

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    def abi_encode(self) -> bytes:
        """abi.encode of the fields in declaration order (the fraud body's struct bytes)."""
        return encode([t for _, t in self.FIELDS], list(self.values()))

    @classmethod
    def abi_decode(cls, data: bytes) -> Any:
        try:
            values = decode([t for _, t in cls.FIELDS], data, strict=True)
        except Exception as exc:  # eth_abi raises several unrelated types
            raise ValidationError(f"not an abi-encoded {cls.PRIMARY}: {exc}") from exc
        return cls(*(_from_abi(t, v) for (_, t), v in zip(cls.FIELDS, values, strict=True)))

    def struct_hash(self) -> bytes:
        """EIP-712 hashStruct (eth_account; address[] is keccak256 of the padded addresses)."""
        return bytes(_encode({}, self).body)

    def message(self) -> dict[str, Any]:
        """The ``message`` of eth_account typed data (addresses checksummed)."""
        pairs = zip(self.FIELDS, self.values(), strict=True)
        return {name: _to_json(kind, v) for (name, kind), v in pairs}


def _from_abi(kind: str, value: Any) -> Any:
    if kind == "address":
        return bytes.fromhex(value[2:])
    if kind == "address[]":
        return tuple(bytes.fromhex(a[2:]) for a in value)
    return value


def _to_json(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind == "address[]":
        return [to_checksum_address(a) for a in value]
    return value


@dataclass(frozen=True)
class CounterLock(_Typed):
    """A ``counter_lock`` mandate: lock into the HTLC for ``claim_address``; refund to the vault."""

    PRIMARY: ClassVar[str] = "CounterLock"
    KIND: ClassVar[StructKind] = StructKind.COUNTER_LOCK
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("mandateId", "bytes32"), ("epoch", "uint64"), ("preimageHash", "bytes32"),
        ("token", "address"), ("amount", "uint256"), ("claimAddress", "address"),
        ("timelock", "uint256"), ("deadline", "uint64"),
    )  # fmt: skip
    mandate_id: bytes
    epoch: int
    preimage_hash: bytes
    token: bytes  # 20 zero bytes for ether
    amount: int
    claim_address: bytes
    timelock: int  # Ethereum block number
    deadline: int  # unix seconds


@dataclass(frozen=True)
class Payout(_Typed):
    """An ``lp_withdraw`` mandate: pay ``amount`` of ``token`` to ``to`` (the bound address)."""

    PRIMARY: ClassVar[str] = "Payout"
    KIND: ClassVar[StructKind] = StructKind.PAYOUT
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("mandateId", "bytes32"), ("epoch", "uint64"), ("token", "address"),
        ("amount", "uint256"), ("to", "address"), ("deadline", "uint64"),
    )  # fmt: skip
    mandate_id: bytes
    epoch: int
    token: bytes
    amount: int
    to: bytes
    deadline: int


@dataclass(frozen=True)
class Rotate(_Typed):
    """A ``vault_rotation`` mandate: the next signer set, signed by the current one."""

    PRIMARY: ClassVar[str] = "Rotate"
    KIND: ClassVar[StructKind] = StructKind.ROTATE
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("mandateId", "bytes32"), ("epoch", "uint64"), ("newEpoch", "uint64"),
        ("newSigners", "address[]"), ("newThreshold", "uint8"),
    )  # fmt: skip
    mandate_id: bytes
    epoch: int
    new_epoch: int
    new_signers: tuple[bytes, ...]
    new_threshold: int


VaultStruct = CounterLock | Payout | Rotate
STRUCTS: dict[StructKind, type[VaultStruct]] = {s.KIND: s for s in (CounterLock, Payout, Rotate)}
_ANY = Payout(bytes(32), 0, bytes(20), 0, bytes(20), 0)  # a struct for the domain's hash alone


@dataclass(frozen=True)
class VaultDomain:
    """The EIP-712 domain of one deployed vault (``salt`` = the ETM custody domain)."""

    chain_id: int
    vault: bytes
    salt: bytes

    def __post_init__(self) -> None:
        _check("chainId", "uint256", self.chain_id)
        _check("verifyingContract", "address", self.vault)
        _check("salt", "bytes32", self.salt)

    def domain_data(self) -> dict[str, Any]:
        """The EIP-712 ``domain`` object (eth_account derives the type from its five keys, in
        the canonical order the contract's DOMAIN_TYPEHASH names)."""
        return {
            "name": NAME,
            "version": VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.vault),
            "salt": self.salt,
        }

    def separator(self) -> bytes:
        """The contract's ``domainSeparator()`` (eth_account's hash of the domain; the header
        does not depend on the message, any valid struct serves)."""
        return bytes(_encode(self.domain_data(), _ANY).header)

    def typed_data(self, s: VaultStruct) -> dict[str, Any]:
        """``s`` as eth_account's ``full_message`` (EIP-712 JSON)."""
        return {
            "types": {
                "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_FIELDS],
                s.PRIMARY: [{"name": n, "type": t} for n, t in s.FIELDS],
            },
            "primaryType": s.PRIMARY,
            "domain": self.domain_data(),
            "message": s.message(),
        }


def abi_struct(s: VaultStruct) -> tuple[Any, ...]:
    """``s`` as a web3 call argument (a tuple; addresses checksummed)."""
    return tuple(_to_json(kind, v) for (_, kind), v in zip(s.FIELDS, s.values(), strict=True))


def _encode(domain_data: dict[str, Any], s: _Typed) -> SignableMessage:
    """eth_account's EIP-712 encoding of ``s`` (version 0x01, header = domain separator, body =
    hashStruct). ``s`` was range-checked when built, so eth_account's lenient coercions
    (strings to ints, ints to bytes) never apply."""
    types = {s.PRIMARY: [{"name": n, "type": t} for n, t in s.FIELDS]}
    return encode_typed_data(domain_data, types, s.message())


def digest(domain: VaultDomain, s: VaultStruct) -> bytes:
    """keccak256(0x1901 || domainSeparator || hashStruct(s)): what the members sign."""
    encoded = _encode(domain.domain_data(), s)
    return keccak(b"\x19" + encoded.version + encoded.header + encoded.body)


# ---- signer sets and signatures (design-14 §3.3) -----------------------------------------


def threshold_for(n: int) -> int:
    """m = floor(2n/3) + 1, the only threshold the contract accepts for n signers."""
    if type(n) is not int or not 1 <= n <= MAX_SIGNERS:
        raise ValidationError(f"a signer set has 1..{MAX_SIGNERS} members, got {n!r}")
    return 2 * n // 3 + 1


def sort_signers(addresses: Iterable[bytes]) -> tuple[bytes, ...]:
    """Ascending as uint160 (the contract's order); refuses duplicates and the zero address."""
    given = tuple(addresses)
    for i, a in enumerate(given):
        _check(f"signer {i}", "address", a)
    ordered = tuple(sorted(given))  # big-endian 20 bytes: byte order == numeric order
    for i, a in enumerate(ordered):
        if a == bytes(20) or (i and a == ordered[i - 1]):
            raise ValidationError(f"signer set has a zero or repeated address: 0x{a.hex()}")
    threshold_for(len(ordered))
    return ordered


def recover_signer(digest_: bytes, signature: bytes) -> bytes:
    """The 20-byte signer of ``signature`` (r || s || v) over ``digest_``, by the contract's
    rule: 65 bytes, v in {27, 28}, s <= n/2; ValidationError otherwise."""
    if not isinstance(signature, bytes) or len(signature) != 65:
        raise ValidationError("a vault signature is 65 bytes r || s || v")
    r, s, v = (int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"),
               signature[64])  # fmt: skip
    if v not in (27, 28) or s > SECP256K1_ORDER // 2 or not 0 < r < SECP256K1_ORDER or s == 0:
        raise ValidationError("vault signature needs v 27/28, 0 < r < n and 0 < s <= n/2")
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest_)
    except (BadSignature, ValueError) as exc:
        raise ValidationError(f"vault signature does not recover: {exc}") from exc
    return public.to_canonical_address()


def order_signatures(digest_: bytes, signatures: Iterable[bytes]) -> tuple[bytes, ...]:
    """The signatures as the contract wants them: ascending signer, one per signer."""
    by_signer: dict[bytes, bytes] = {}
    for sig in signatures:
        by_signer.setdefault(recover_signer(digest_, sig), sig)
    return tuple(by_signer[a] for a in sorted(by_signer))


def sign(private_key: bytes | str, domain: VaultDomain, s: VaultStruct) -> bytes:
    """Sign ``s`` as EIP-712 typed data (eth_account, RFC 6979, low s, v 27/28)."""
    signed = Account.sign_typed_data(private_key, full_message=domain.typed_data(s))
    if bytes(signed.message_hash) != digest(domain, s):  # full_message vs our 3-part call
        raise ValidationError("eth_account's EIP-712 digest differs from the vault's")
    return bytes(signed.signature)


def fraud_body(s: VaultStruct, signature: bytes) -> bytes:
    """u8 kind || u32 len || abi.encode(fields) || 65-byte signature (design-14 §6.2)."""
    if not isinstance(signature, bytes) or len(signature) != 65:
        raise ValidationError("a vault signature is 65 bytes r || s || v")
    encoded = s.abi_encode()
    return bytes([s.KIND]) + struct.pack(">I", len(encoded)) + encoded + signature


def parse_fraud_body(body: bytes) -> tuple[VaultStruct, bytes]:
    """The (struct, signature) of a fraud body; ValidationError if it is malformed."""
    if len(body) < 5 + 65 or body[0] not in {int(k) for k in StructKind}:
        raise ValidationError("fraud body: too short or unknown struct kind")
    (size,) = struct.unpack(">I", body[1:5])
    if len(body) != 5 + size + 65:
        raise ValidationError(
            f"fraud body: {len(body)} bytes, the length field says {5 + size + 65}"
        )
    return STRUCTS[StructKind(body[0])].abi_decode(body[5 : 5 + size]), body[5 + size :]
