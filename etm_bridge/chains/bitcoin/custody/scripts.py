"""Key policies, vault and v2 HTLC scripts, witnesses, marker v2 and the ETMW tag (design-14 2.1).

Pinned in ``contracts/bitcoin/custody.md`` and ``custody_vectors.json``. Policy bytes are
``0xa0 || m || n || pk_1 .. pk_n`` (compressed keys ascending, BIP67); ``0xa0`` never starts a
compressed key, so a policy and a single key never collide.

Scripts (paid to as P2WSH ``OP_0 <sha256(ws)>``):

* vault: ``OP_m <pks> OP_n OP_CHECKMULTISIG``
* swap-in v2: ``OP_IF OP_SIZE <32> OP_EQUALVERIFY OP_SHA256 <H> OP_EQUALVERIFY <multisig>
  OP_ELSE <T> OP_CLTV OP_DROP <refund_pk> OP_CHECKSIG OP_ENDIF``
* counter v2: ``OP_IF OP_SIZE <32> OP_EQUALVERIFY OP_SHA256 <H> OP_EQUALVERIFY <claim_pk>
  OP_CHECKSIG OP_ELSE <T> OP_CLTV OP_DROP <multisig> OP_ENDIF``
* v1 (direct swaps, unchanged): single claim and refund keys, one ``OP_CHECKSIG`` after
  ``OP_ENDIF``.

:func:`parse_htlc_script` accepts exactly v1 or v2, canonically encoded (it rebuilds the script
from the fields it read and compares the bytes). Pure.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUALVERIFY,
    OP_IF,
    OP_RETURN,
    OP_SHA256,
    OP_SIZE,
    CScript,
)

from etm_bridge.errors import ValidationError

POLICY_TAG = 0xA0
PUBKEY_LEN = 33
MAX_KEYS = 15
HASHLOCK_LEN = PREIMAGE_LEN = 32
LOCKTIME_THRESHOLD = 500_000_000
MARKER_V2_TAG = b"ETM\x02"
MARKER_V2_LEN = 74
ROLE_SWAP_IN, ROLE_COUNTER = 0x01, 0x02
WITHDRAWAL_TAG = b"ETMW"
CLAIM_SELECTOR, REFUND_SELECTOR, DUMMY = b"\x01", b"", b""


def require_pubkey(key: bytes, what: str = "key") -> bytes:
    if not isinstance(key, bytes) or len(key) != PUBKEY_LEN or key[0] not in (2, 3):
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise ValidationError(f"{what} must be a 33-byte compressed public key, got {got}")
    return key


def require_height(height: int) -> int:
    if not isinstance(height, int) or isinstance(height, bool):
        raise ValidationError(f"timelock must be an int block height, got {height!r}")
    if not 0 < height < LOCKTIME_THRESHOLD:
        raise ValidationError(f"timelock must be a block height in 1..{LOCKTIME_THRESHOLD - 1}")
    return height


def require_hashlock(hashlock: bytes) -> bytes:
    if not isinstance(hashlock, bytes) or len(hashlock) != HASHLOCK_LEN:
        raise ValidationError("hashlock must be 32 bytes (sha256 of the preimage)")
    return hashlock


@dataclass(frozen=True)
class KeyPolicy:
    """``m`` of the ``keys`` (ascending compressed keys, 1 <= m <= n <= 15)."""

    m: int
    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        n = len(self.keys)
        if not 1 <= n <= MAX_KEYS:
            raise ValidationError(f"a key policy has 1..{MAX_KEYS} keys, got {n}")
        if not isinstance(self.m, int) or not 1 <= self.m <= n:
            raise ValidationError(f"a key policy's threshold must be in 1..{n}, got {self.m!r}")
        for k in self.keys:
            require_pubkey(k, "policy key")
        if list(self.keys) != sorted(set(self.keys)):
            raise ValidationError("policy keys must be distinct and ascending (BIP67)")

    @staticmethod
    def of(m: int, keys: Sequence[bytes]) -> KeyPolicy:
        """Sorts ``keys`` (BIP67) first."""
        return KeyPolicy(m, tuple(sorted(keys)))

    @property
    def n(self) -> int:
        return len(self.keys)

    def encode(self) -> bytes:
        return bytes([POLICY_TAG, self.m, self.n]) + b"".join(self.keys)

    def multisig(self) -> list:
        return [self.m, *self.keys, self.n, OP_CHECKMULTISIG]

    def vault_script(self) -> bytes:
        return bytes(CScript(self.multisig()))

    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()


def parse_policy(raw: bytes) -> KeyPolicy:
    """Exactly ``0xa0 || m || n || n sorted distinct keys``; ValidationError otherwise."""
    if len(raw) < 3 or raw[0] != POLICY_TAG:
        raise ValidationError("not a key policy (must start with 0xa0, m, n)")
    m, n = raw[1], raw[2]
    if len(raw) != 3 + PUBKEY_LEN * n:
        raise ValidationError(f"key policy of {n} keys must be {3 + 33 * n} bytes, got {len(raw)}")
    keys = tuple(raw[3 + 33 * i : 36 + 33 * i] for i in range(n))
    return KeyPolicy(m, keys)


@dataclass(frozen=True)
class HtlcV1:
    """The direct-swap template (``contracts/bitcoin/htlc.md``)."""

    hashlock: bytes
    claim_key: bytes
    refund_key: bytes
    timelock: int

    def __post_init__(self) -> None:
        require_hashlock(self.hashlock)
        require_pubkey(self.claim_key, "claim key")
        require_pubkey(self.refund_key, "refund key")
        require_height(self.timelock)

    @property
    def script(self) -> bytes:
        return bytes(
            CScript(
                [
                    *_head(self.hashlock),
                    self.claim_key,
                    OP_ELSE,
                    *_cltv(self.timelock),
                    self.refund_key,
                    OP_ENDIF,
                    OP_CHECKSIG,
                ]
            )
        )


@dataclass(frozen=True)
class SwapInHtlc:
    """v2, the user locks: claim = preimage + the committee's m signatures; refund = the user."""

    hashlock: bytes
    policy: KeyPolicy
    refund_key: bytes
    timelock: int

    def __post_init__(self) -> None:
        require_hashlock(self.hashlock)
        require_pubkey(self.refund_key, "refund key")
        require_height(self.timelock)

    @property
    def script(self) -> bytes:
        return _v2_script(
            self.hashlock, self.policy, self.refund_key, self.timelock, policy_claims=True
        )


@dataclass(frozen=True)
class CounterHtlc:
    """v2, the vault locks: claim = preimage + the user's signature; refund = m signatures at T."""

    hashlock: bytes
    claim_key: bytes
    policy: KeyPolicy
    timelock: int

    def __post_init__(self) -> None:
        require_hashlock(self.hashlock)
        require_pubkey(self.claim_key, "claim key")
        require_height(self.timelock)

    @property
    def script(self) -> bytes:
        return _v2_script(
            self.hashlock, self.policy, self.claim_key, self.timelock, policy_claims=False
        )


Htlc = HtlcV1 | SwapInHtlc | CounterHtlc


def _head(hashlock: bytes) -> list:
    return [
        OP_IF,
        OP_SIZE,
        bytes([PREIMAGE_LEN]),
        OP_EQUALVERIFY,
        OP_SHA256,
        hashlock,
        OP_EQUALVERIFY,
    ]


def _cltv(timelock: int) -> list:
    return [timelock, OP_CHECKLOCKTIMEVERIFY, OP_DROP]


def _v2_script(
    hashlock: bytes, policy: KeyPolicy, key: bytes, timelock: int, *, policy_claims: bool
) -> bytes:
    """The v2 template: the policy's multisig in the claim branch and ``key``'s CHECKSIG in the
    refund branch (swap-in, ``policy_claims``), or the other way round (counter)."""
    multisig, single = policy.multisig(), [key, OP_CHECKSIG]
    claim, refund = (multisig, single) if policy_claims else (single, multisig)
    return bytes(CScript([*_head(hashlock), *claim, OP_ELSE, *_cltv(timelock), *refund, OP_ENDIF]))


def p2wsh(witness_script: bytes) -> bytes:
    """``OP_0 <sha256(witness_script)>``."""
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


def p2wpkh(pubkey: bytes) -> bytes:
    """``OP_0 <hash160(pubkey)>``."""
    require_pubkey(pubkey, "payee key")
    h = hashlib.new("ripemd160", hashlib.sha256(pubkey).digest()).digest()
    return b"\x00\x14" + h


# --- parsing ----------------------------------------------------------------------------------


def _items(script: bytes) -> list:
    try:
        return list(CScript(script))
    except Exception as exc:  # python-bitcoinlib raises its own CScriptInvalidError
        raise ValidationError(f"not a valid script: {exc}") from exc


def _small(item: object) -> int | None:
    """OP_1..OP_16 as its number (python-bitcoinlib yields them as plain ints), else None."""
    if type(item) is int and 1 <= item <= 16:
        return item
    return None


def _number(item: object) -> int:
    """A CLTV height operand: OP_1..OP_16 or a push (canonical form checked by the caller)."""
    small = _small(item)
    if small is not None:
        return small
    if isinstance(item, bytes) and 0 < len(item) <= 5 and not item[-1] & 0x80:
        return int.from_bytes(item, "little")
    raise ValidationError("timelock operand is not a positive number")


def _policy_at(items: list, start: int, n: int) -> KeyPolicy:
    m, n_op = _small(items[start]), _small(items[start + 1 + n])
    keys = items[start + 1 : start + 1 + n]
    if m is None or n_op != n or not all(isinstance(k, bytes) for k in keys):
        raise ValidationError("multisig part is malformed")
    return KeyPolicy(m, tuple(keys))


def parse_vault_script(script: bytes) -> KeyPolicy:
    """The policy of a canonical vault script; ValidationError otherwise."""
    items = _items(script)
    try:
        policy = _policy_at(items, 0, len(items) - 3)
    except (IndexError, ValidationError) as exc:
        raise ValidationError(f"not a vault script: {exc}") from exc
    if policy.vault_script() != bytes(script):
        raise ValidationError("not a vault script (non-canonical)")
    return policy


def parse_htlc_script(script: bytes) -> Htlc:
    """Exactly v1, swap-in v2 or counter v2, canonically encoded; ValidationError otherwise."""
    items = _items(script)
    try:
        parsed = _parse_items(items)
    except (IndexError, ValidationError, TypeError) as exc:
        raise ValidationError(f"script is not an etm-bridge HTLC template: {exc}") from exc
    if parsed.script != bytes(script):
        raise ValidationError("script is not an etm-bridge HTLC template (non-canonical)")
    return parsed


def _parse_items(items: list) -> Htlc:
    hashlock = items[5]
    if not isinstance(hashlock, bytes):
        raise ValidationError("no hashlock push")
    if len(items) == 15:  # v1
        return HtlcV1(hashlock, items[7], items[12], _number(items[9]))
    n = len(items) - 17
    if n < 1:
        raise ValidationError("wrong shape")
    if items[8] == OP_CHECKSIG:  # counter v2: claim key then CHECKSIG
        return CounterHtlc(hashlock, items[7], _policy_at(items, 13, n), _number(items[10]))
    policy = _policy_at(items, 7, n)
    return SwapInHtlc(hashlock, policy, items[14 + n], _number(items[11 + n]))


# --- witnesses (bottom to top; the witness script last) ----------------------------------------


def vault_witness(sigs: Sequence[bytes], vault_script: bytes) -> list[bytes]:
    return [DUMMY, *sigs, vault_script]


def swap_in_claim_witness(sigs: Sequence[bytes], preimage: bytes, htlc: SwapInHtlc) -> list[bytes]:
    return [DUMMY, *sigs, preimage, CLAIM_SELECTOR, htlc.script]


def swap_in_refund_witness(sig: bytes, htlc: SwapInHtlc) -> list[bytes]:
    return [sig, REFUND_SELECTOR, htlc.script]


def counter_claim_witness(sig: bytes, preimage: bytes, htlc: CounterHtlc) -> list[bytes]:
    return [sig, preimage, CLAIM_SELECTOR, htlc.script]


def counter_refund_witness(sigs: Sequence[bytes], htlc: CounterHtlc) -> list[bytes]:
    return [DUMMY, *sigs, REFUND_SELECTOR, htlc.script]


# --- marker v2 and the withdrawal tag -----------------------------------------------------------


@dataclass(frozen=True)
class MarkerV2:
    """``OP_RETURN PUSH74("ETM\\x02" || role || key 33 || T u32 LE || sha256(policy))``."""

    role: int
    key: bytes
    timelock: int
    policy_hash: bytes

    def __post_init__(self) -> None:
        if self.role not in (ROLE_SWAP_IN, ROLE_COUNTER):
            raise ValidationError(
                f"marker role must be 1 (swap-in) or 2 (counter), got {self.role}"
            )
        require_pubkey(self.key, "marker key")
        require_height(self.timelock)
        if len(self.policy_hash) != 32:
            raise ValidationError("marker policy hash must be 32 bytes")

    @staticmethod
    def of(htlc: SwapInHtlc | CounterHtlc) -> MarkerV2:
        if isinstance(htlc, SwapInHtlc):
            return MarkerV2(ROLE_SWAP_IN, htlc.refund_key, htlc.timelock, htlc.policy.hash())
        return MarkerV2(ROLE_COUNTER, htlc.claim_key, htlc.timelock, htlc.policy.hash())

    def data(self) -> bytes:
        return (
            MARKER_V2_TAG
            + bytes([self.role])
            + self.key
            + struct.pack("<I", self.timelock)
            + self.policy_hash
        )

    def script_pubkey(self) -> bytes:
        return bytes(CScript([OP_RETURN, self.data()]))

    def htlc(self, hashlock: bytes, policy: KeyPolicy) -> SwapInHtlc | CounterHtlc:
        """The script this marker names, given the hashlock and a policy whose hash matches."""
        if policy.hash() != self.policy_hash:
            raise ValidationError("the policy does not match the marker's policy hash")
        if self.role == ROLE_SWAP_IN:
            return SwapInHtlc(hashlock, policy, self.key, self.timelock)
        return CounterHtlc(hashlock, self.key, policy, self.timelock)


def parse_marker_v2(script_pubkey: bytes) -> MarkerV2 | None:
    """The marker of an output, or None if it is not exactly a v2 marker."""
    data = _op_return_data(script_pubkey, MARKER_V2_LEN)
    if data is None or not data.startswith(MARKER_V2_TAG):
        return None
    try:
        (timelock,) = struct.unpack("<I", data[38:42])
        return MarkerV2(data[4], data[5:38], timelock, data[42:74])
    except ValidationError:
        return None


def withdrawal_tag(mandate_id: bytes) -> bytes:
    """``OP_RETURN PUSH36("ETMW" || mandate_id)``."""
    if len(mandate_id) != 32:
        raise ValidationError("a mandate id is 32 bytes")
    return bytes(CScript([OP_RETURN, WITHDRAWAL_TAG + mandate_id]))


def parse_withdrawal_tag(script_pubkey: bytes) -> bytes | None:
    data = _op_return_data(script_pubkey, 36)
    return data[4:] if data is not None and data.startswith(WITHDRAWAL_TAG) else None


def _op_return_data(script_pubkey: bytes, length: int) -> bytes | None:
    if len(script_pubkey) != 2 + length or script_pubkey[0] != 0x6A or script_pubkey[1] != length:
        return None
    return bytes(script_pubkey[2:])
