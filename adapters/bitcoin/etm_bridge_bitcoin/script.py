"""The Bitcoin HTLC script template, its witnesses, and the lock marker (pure, no I/O).

Template (``contracts/bitcoin/htlc.md``), paid to as P2WSH::

    OP_IF
        OP_SIZE 32 OP_EQUALVERIFY OP_SHA256 <hashlock> OP_EQUALVERIFY <claim_pubkey>
    OP_ELSE
        <timelock_height> OP_CHECKLOCKTIMEVERIFY OP_DROP <refund_pubkey>
    OP_ENDIF
    OP_CHECKSIG

Witnesses: claim ``<sig> <preimage> 0x01 <script>``, refund ``<sig> <> <script>`` (the refund
transaction has ``nLockTime = timelock_height`` and a non-final input sequence).

A P2WSH output hides its script, so every lock transaction also carries one marker output
``OP_RETURN "ETM\\x01" <claim_pubkey> <refund_pubkey> <timelock_height u32 LE>`` (74 bytes,
inside the 80-byte standard limit of Bitcoin Core and bcoin). Whoever knows the hashlock can
rebuild the script from the marker and match it against the P2WSH output: that is how locks
are found on chain after a restart, by any party, without trusting a local database.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKSIG,
    OP_DROP,
    OP_DUP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_IF,
    OP_RETURN,
    OP_SHA256,
    OP_SIZE,
    CScript,
)

from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import PREIMAGE_LEN, find_preimage_in_pushes, require_hashlock

PUBKEY_LEN = 33
MARKER_TAG = b"ETM\x01"
MARKER_LEN = len(MARKER_TAG) + 2 * PUBKEY_LEN + 4
#: Largest height CLTV treats as a block height (>= 500_000_000 means a unix time).
LOCKTIME_THRESHOLD = 500_000_000
#: Selector pushes of the two branches.
CLAIM_SELECTOR = b"\x01"
REFUND_SELECTOR = b""


def require_pubkey(key: bytes, what: str) -> bytes:
    """A 33-byte compressed secp256k1 public key (0x02/0x03 prefix)."""
    if not isinstance(key, bytes) or len(key) != PUBKEY_LEN or key[0] not in (2, 3):
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise ValidationError(f"{what} must be a 33-byte compressed public key, got {got}")
    return key


def require_height(height: int) -> int:
    if not isinstance(height, int) or not 0 < height < LOCKTIME_THRESHOLD:
        raise ValidationError(
            f"timelock must be a block height in 1..{LOCKTIME_THRESHOLD - 1}, got {height!r}"
        )
    return height


@dataclass(frozen=True)
class HtlcScript:
    """The four values of an HTLC script; ``script`` / ``script_pubkey`` derive from them."""

    hashlock: bytes
    claim_pubkey: bytes
    refund_pubkey: bytes
    timelock_height: int

    def __post_init__(self) -> None:
        require_hashlock(self.hashlock)
        require_pubkey(self.claim_pubkey, "claim_pubkey")
        require_pubkey(self.refund_pubkey, "refund_pubkey")
        require_height(self.timelock_height)

    @property
    def script(self) -> bytes:
        return bytes(
            CScript(
                [
                    OP_IF,
                    OP_SIZE, PREIMAGE_LEN, OP_EQUALVERIFY,
                    OP_SHA256, self.hashlock, OP_EQUALVERIFY, self.claim_pubkey,
                    OP_ELSE,
                    self.timelock_height, OP_CHECKLOCKTIMEVERIFY, OP_DROP, self.refund_pubkey,
                    OP_ENDIF,
                    OP_CHECKSIG,
                ]
            )
        )  # fmt: skip

    @property
    def script_pubkey(self) -> bytes:
        return p2wsh_script_pubkey(self.script)


def p2wsh_script_pubkey(witness_script: bytes) -> bytes:
    """``OP_0 <sha256(witness_script)>``."""
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


def p2wpkh_script_pubkey(pubkey: bytes) -> bytes:
    """``OP_0 <hash160(pubkey)>``."""
    return b"\x00\x14" + hash160(pubkey)


def p2pkh_script_code(pubkey: bytes) -> bytes:
    """The BIP143 scriptCode of a P2WPKH input."""
    return bytes(CScript([OP_DUP, OP_HASH160, hash160(pubkey), OP_EQUALVERIFY, OP_CHECKSIG]))


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _script_num(data: bytes) -> int:
    """Decode a minimally-encoded CScriptNum push."""
    if not data:
        return 0
    value = int.from_bytes(data, "little") & ~(0x80 << (8 * (len(data) - 1)))
    return -value if data[-1] & 0x80 else value


def parse_htlc_script(script: bytes) -> HtlcScript:
    """Parse a witness script; :class:`ValidationError` unless it is exactly our template."""
    try:
        items = list(CScript(script))
    except Exception as exc:  # python-bitcoinlib raises its own CScriptInvalidError
        raise ValidationError(f"not a valid script: {exc}") from exc
    if len(items) != 15 or not all(isinstance(items[i], bytes) for i in (5, 7, 12)):
        raise ValidationError("script is not the etm-bridge HTLC template (wrong shape)")
    height = items[9]  # a push, or OP_1..OP_16 (heights 1..16)
    # python-bitcoinlib yields small numbers as ints; the canonical re-encoding check below
    # rejects anything else in that position
    value = _script_num(height) if isinstance(height, bytes) else int(height)
    parsed = HtlcScript(items[5], items[7], items[12], value)
    if parsed.script != bytes(script):
        raise ValidationError("script is not the etm-bridge HTLC template (non-canonical)")
    return parsed


# --- witnesses -----------------------------------------------------------------------------------


def claim_witness(signature: bytes, preimage: bytes, htlc: HtlcScript) -> list[bytes]:
    return [signature, preimage, CLAIM_SELECTOR, htlc.script]


def refund_witness(signature: bytes, htlc: HtlcScript) -> list[bytes]:
    return [signature, REFUND_SELECTOR, htlc.script]


def is_refund_witness(witness: list[bytes]) -> bool:
    """True for the ELSE-branch form ``<sig> <> <script>``."""
    return len(witness) == 3 and witness[1] == REFUND_SELECTOR


def preimage_from_witnesses(witnesses: Iterable[list[bytes]], hashlock: bytes) -> bytes | None:
    """Scan every push of every input's witness for the preimage of ``hashlock``."""
    return find_preimage_in_pushes((push for w in witnesses for push in w), hashlock)


# --- the lock marker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LockMarker:
    """What the OP_RETURN of a lock transaction reveals: keys and timelock, not the hashlock."""

    claim_pubkey: bytes
    refund_pubkey: bytes
    timelock_height: int

    def script_pubkey(self) -> bytes:
        data = (
            MARKER_TAG
            + self.claim_pubkey
            + self.refund_pubkey
            + struct.pack("<I", self.timelock_height)
        )
        return bytes(CScript([OP_RETURN, data]))

    def htlc(self, hashlock: bytes) -> HtlcScript:
        return HtlcScript(hashlock, self.claim_pubkey, self.refund_pubkey, self.timelock_height)


def parse_marker(script_pubkey: bytes) -> LockMarker | None:
    """The marker in an output script, or None if the output is not an etm-bridge marker."""
    try:
        items = list(CScript(script_pubkey))
    except Exception:
        return None
    if len(items) != 2 or items[0] != OP_RETURN or not isinstance(items[1], bytes):
        return None
    data = items[1]
    if len(data) != MARKER_LEN or not data.startswith(MARKER_TAG):
        return None
    body = data[len(MARKER_TAG) :]
    claim, refund = body[:PUBKEY_LEN], body[PUBKEY_LEN : 2 * PUBKEY_LEN]
    (height,) = struct.unpack("<I", body[2 * PUBKEY_LEN :])
    try:
        return LockMarker(require_pubkey(claim, "claim"), require_pubkey(refund, "refund"), height)
    except ValidationError:
        return None
