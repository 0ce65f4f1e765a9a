"""The Handshake HTLC script, its witnesses, addresses and the lock marker (pure, no I/O).

Template (the Bitcoin adapter's, with Handshake's encoding), paid to as a version-0 address of
SHA3-256(script) (Handshake's P2WSH)::

    OP_IF
        OP_SIZE 32 OP_EQUALVERIFY OP_SHA256 <hashlock> OP_EQUALVERIFY <claim_pubkey>
    OP_ELSE
        <timelock_height> OP_CHECKLOCKTIMEVERIFY OP_DROP <refund_pubkey>
    OP_ENDIF
    OP_CHECKSIG

Witnesses: claim ``<sig> <preimage> 0x01 <script>``, refund ``<sig> <> <script>`` (the refund
transaction has ``locktime = timelock_height`` and input sequence 0xfffffffe). Pushes are
minimal (hsd enforces MINIMALDATA and MINIMALIF by consensus).

The lock marker. A v0/32 output hides its script, and hsd allows one nulldata output of at most
40 bytes per transaction (Bitcoin's 74-byte marker does not fit). So the marker is
``"EB\\x01" | claim_pubkey (33) | timelock_height u32 LE`` (40 bytes), and the **refund key is
the key that signs input 0** of the lock transaction: the adapter always funds a lock from its
own pay-to-key coins, whose witness is ``[sig, pubkey]``. Whoever knows the hashlock rebuilds
the script from the marker and input 0 and matches it against the output: a lock is found from
the chain alone, and a transaction whose parts do not fit together is simply not a lock.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from bitcoin import segwit_addr

from etm_bridge.errors import AddressError, ValidationError
from etm_bridge.hashlock import PREIMAGE_LEN, find_preimage_in_pushes, require_hashlock

from .codec import NULLDATA_VERSION, Address, Tx, blake2b160, sha3_256

OP_0, OP_1 = 0x00, 0x51
OP_PUSHDATA1 = 0x4C
OP_IF, OP_ELSE, OP_ENDIF = 0x63, 0x67, 0x68
OP_DROP, OP_DUP, OP_SIZE = 0x75, 0x76, 0x82
OP_EQUALVERIFY, OP_SHA256, OP_CHECKSIG = 0x88, 0xA8, 0xAC
OP_CHECKLOCKTIMEVERIFY, OP_BLAKE160 = 0xB1, 0xC0

PUBKEY_LEN = 33
MARKER_TAG = b"EB\x01"
MARKER_LEN = len(MARKER_TAG) + PUBKEY_LEN + 4
#: Locktimes with bit 31 set are times (x 512 s) in Handshake; heights are below it.
LOCKTIME_FLAG = 1 << 31
CLAIM_SELECTOR = b"\x01"
REFUND_SELECTOR = b""
HRP = {"main": "hs", "testnet": "ts", "regtest": "rs", "simnet": "ss"}


def require_pubkey(key: bytes, what: str) -> bytes:
    """A 33-byte compressed secp256k1 public key (0x02/0x03 prefix)."""
    if not isinstance(key, bytes) or len(key) != PUBKEY_LEN or key[0] not in (2, 3):
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise ValidationError(f"{what} must be a 33-byte compressed public key, got {got}")
    return key


def require_height(height: int) -> int:
    if not isinstance(height, int) or isinstance(height, bool) or not 0 < height < LOCKTIME_FLAG:
        raise ValidationError(
            f"timelock must be a block height in 1..{LOCKTIME_FLAG - 1}, got {height!r}"
        )
    return height


def push(data: bytes) -> bytes:
    """The minimal push of ``data`` (MINIMALDATA)."""
    if len(data) == 0:
        return bytes([OP_0])
    if len(data) == 1 and 1 <= data[0] <= 16:
        return bytes([OP_1 + data[0] - 1])
    if len(data) <= 75:
        return bytes([len(data)]) + data
    if len(data) <= 255:
        return bytes([OP_PUSHDATA1, len(data)]) + data
    raise ValidationError(f"push of {len(data)} bytes is too large for this template")


def script_num(n: int) -> bytes:
    """Minimal little-endian script number (non-negative)."""
    out = bytearray()
    while n:
        out.append(n & 0xFF)
        n >>= 8
    if out and out[-1] & 0x80:
        out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class HtlcScript:
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
        return b"".join([
            bytes([OP_IF, OP_SIZE]), push(bytes([PREIMAGE_LEN])),
            bytes([OP_EQUALVERIFY, OP_SHA256]),
            push(self.hashlock), bytes([OP_EQUALVERIFY]), push(self.claim_pubkey),
            bytes([OP_ELSE]), push(script_num(self.timelock_height)),
            bytes([OP_CHECKLOCKTIMEVERIFY, OP_DROP]), push(self.refund_pubkey),
            bytes([OP_ENDIF, OP_CHECKSIG]),
        ])  # fmt: skip

    @property
    def address(self) -> Address:
        return script_address(self.script)


def script_address(witness_script: bytes) -> Address:
    """Handshake's pay-to-script address: version 0, SHA3-256 of the script."""
    return Address(0, sha3_256(witness_script))


def key_address(pubkey: bytes) -> Address:
    """Handshake's pay-to-key address: version 0, BLAKE2b-160 of the compressed key."""
    return Address(0, blake2b160(pubkey))


def p2pkh_script(pubkey: bytes) -> bytes:
    """The script a pay-to-key input is signed over: DUP BLAKE160 <h> EQUALVERIFY CHECKSIG."""
    return (
        bytes([OP_DUP, OP_BLAKE160])
        + push(blake2b160(pubkey))
        + bytes([OP_EQUALVERIFY, OP_CHECKSIG])
    )


def parse_htlc_script(script: bytes) -> HtlcScript:
    """Parse a witness script; :class:`ValidationError` unless it is exactly our template."""
    if not isinstance(script, bytes) or len(script) < 100:
        raise ValidationError("script is not the etm-bridge HTLC template (too short)")
    try:
        hashlock, claim = script[7:39], script[41:74]
        rest = script[75:]
        if rest[0] >= OP_1:
            height, tail = rest[0] - OP_1 + 1, rest[1:]
        else:
            size = rest[0]
            height, tail = int.from_bytes(rest[1 : 1 + size], "little"), rest[1 + size :]
        refund = tail[3:36]
        parsed = HtlcScript(hashlock, claim, refund, height)
    except (IndexError, ValidationError) as exc:
        raise ValidationError(f"script is not the etm-bridge HTLC template: {exc}") from None
    if parsed.script != script:
        raise ValidationError("script is not the etm-bridge HTLC template (non-canonical)")
    return parsed


def encode_address(address: Address, network: str) -> str:
    return str(segwit_addr.encode(HRP[network], address.version, address.hash))


def decode_address(text: str, network: str) -> Address:
    version, program = segwit_addr.decode(HRP[network], text)
    if version is None or program is None:
        raise AddressError(f"{text!r} is not a Handshake {network} address ({HRP[network]}1...)")
    return Address(version, bytes(program))


# --- witnesses ---------------------------------------------------------------------------------


def claim_witness(signature: bytes, preimage: bytes, htlc: HtlcScript) -> tuple[bytes, ...]:
    return (signature, preimage, CLAIM_SELECTOR, htlc.script)


def refund_witness(signature: bytes, htlc: HtlcScript) -> tuple[bytes, ...]:
    return (signature, REFUND_SELECTOR, htlc.script)


def is_refund_witness(witness: Iterable[bytes]) -> bool:
    items = list(witness)
    return len(items) == 3 and items[1] == REFUND_SELECTOR


def preimage_from_witnesses(witnesses: Iterable[Iterable[bytes]], hashlock: bytes) -> bytes | None:
    """Scan every item of every input's witness for the preimage of ``hashlock``."""
    return find_preimage_in_pushes((item for w in witnesses for item in w), hashlock)


# --- the lock marker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LockMarker:
    """A lock transaction's terms without the hashlock: marker data plus input 0's key."""

    claim_pubkey: bytes
    refund_pubkey: bytes
    timelock_height: int

    def nulldata(self) -> Address:
        data = MARKER_TAG + self.claim_pubkey + struct.pack("<I", self.timelock_height)
        return Address(NULLDATA_VERSION, data)

    def htlc(self, hashlock: bytes) -> HtlcScript:
        return HtlcScript(hashlock, self.claim_pubkey, self.refund_pubkey, self.timelock_height)


def parse_marker(tx: Tx) -> LockMarker | None:
    """The marker of a lock transaction, or None if ``tx`` is not one (no marker output, or
    input 0 not signed by a single compressed key)."""
    data = next((o.address.hash for o in tx.outputs if o.address.version == NULLDATA_VERSION), None)
    if data is None or len(data) != MARKER_LEN or not data.startswith(MARKER_TAG):
        return None
    if not tx.inputs or len(tx.inputs[0].witness) != 2:
        return None
    claim = data[len(MARKER_TAG) : len(MARKER_TAG) + PUBKEY_LEN]
    (height,) = struct.unpack("<I", data[-4:])
    try:
        refund = require_pubkey(tx.inputs[0].witness[1], "refund")
        return LockMarker(require_pubkey(claim, "claim"), refund, require_height(height))
    except ValidationError:
        return None
