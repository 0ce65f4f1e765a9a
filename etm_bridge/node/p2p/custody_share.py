"""The ``custody_share`` peer message (code 10): a committee member's signatures over a mandate
revision's digests (design-14 section 10.6). Pure: no I/O.

Body (integers big-endian)::

    u8 version=1 || u8 len || ticker || mandate_id 32 || u16 revision || u8 len || key
    || u16 count (1..256) || count x (u16 input || u8 len || signature) || u32 len || context

Inputs strictly ascending (one signature per input, a canonical encoding: two encodings of one
share never exist, so the seen-set of frame hashes dedupes). ``context`` is empty for a mandate
share (an unsolicited share carrying a fraud body is design-14 section 6's and is dropped by
this version's pool). The same bytes are the body of ``POST /api/custody/shares`` (hex).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chain.codec import Reader
from ...errors import ValidationError

VERSION = 1
MAX_INPUTS = 256
MAX_SIGNATURE_BYTES = 80
MAX_KEY_BYTES = 65
MAX_TICKER_BYTES = 16
MAX_CONTEXT_BYTES = 64 * 1024
#: The body cap of the message (``custody.records.SHARE_MESSAGE_MAX_BYTES``).
MAX_BYTES = 160 * 1024


@dataclass(frozen=True)
class CustodyShare:
    ticker: str
    mandate_id: bytes
    revision: int
    key: bytes
    signatures: tuple[tuple[int, bytes], ...]  # (input index, signature), ascending
    context: bytes = b""

    def __post_init__(self) -> None:
        if not 1 <= len(self.ticker) <= MAX_TICKER_BYTES or not self.ticker.isascii():
            raise ValidationError(f"custody share ticker {self.ticker[:20]!r} is not 1..16 ASCII")
        if len(self.mandate_id) != 32:
            raise ValidationError("custody share mandate id must be 32 bytes")
        if not 0 <= self.revision < 2**16:
            raise ValidationError("custody share revision must fit u16")
        if not 1 <= len(self.key) <= MAX_KEY_BYTES:
            raise ValidationError(f"custody share key must be 1..{MAX_KEY_BYTES} bytes")
        if not 1 <= len(self.signatures) <= MAX_INPUTS:
            raise ValidationError(f"a custody share holds 1..{MAX_INPUTS} signatures")
        indexes = [i for i, _ in self.signatures]
        if indexes != sorted(set(indexes)) or indexes[0] < 0 or indexes[-1] >= 2**16:
            raise ValidationError("custody share inputs must be strictly ascending u16")
        if any(not 1 <= len(s) <= MAX_SIGNATURE_BYTES for _, s in self.signatures):
            raise ValidationError(f"a signature must be 1..{MAX_SIGNATURE_BYTES} bytes")
        if len(self.context) > MAX_CONTEXT_BYTES:
            raise ValidationError(f"custody share context over {MAX_CONTEXT_BYTES} bytes")


def _short(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def encode_share(share: CustodyShare) -> bytes:
    out = bytearray([VERSION])
    out += _short(share.ticker.encode()) + share.mandate_id + share.revision.to_bytes(2, "big")
    out += _short(share.key) + len(share.signatures).to_bytes(2, "big")
    for index, sig in share.signatures:
        out += index.to_bytes(2, "big") + _short(sig)
    out += len(share.context).to_bytes(4, "big") + share.context
    return bytes(out)


def decode_share(body: bytes) -> CustodyShare:
    """Raises ValidationError (or ValueError/struct.error, which ``decode_frame`` maps)."""
    if len(body) > MAX_BYTES:
        raise ValidationError(f"custody share of {len(body)} bytes exceeds {MAX_BYTES}")
    r = Reader(body, "custody share")
    version = r.u8("version")
    if version != VERSION:
        raise ValidationError(f"custody share version {version}, this node reads {VERSION}")
    raw_ticker = r.take(r.u8("ticker length"), "ticker")
    if not raw_ticker.isascii():
        raise ValidationError("custody share ticker is not ASCII")
    ticker = raw_ticker.decode("ascii")
    mandate_id = r.take(32, "mandate id")
    revision = r.u16("revision")
    key = r.take(r.u8("key length"), "key")
    count = r.u16("count")
    if not 1 <= count <= MAX_INPUTS:
        raise ValidationError(f"custody share count {count} outside 1..{MAX_INPUTS}")
    sigs = []
    for _ in range(count):
        index = r.u16("input")
        sigs.append((index, r.take(r.u8("signature length"), "signature")))
    context = r.take(r.u32("context length"), "context")
    r.done()
    return CustodyShare(ticker, mandate_id, revision, key, tuple(sigs), context)
