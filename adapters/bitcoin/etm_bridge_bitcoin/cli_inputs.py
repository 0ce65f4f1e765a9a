"""Reading ``spv verify``'s inputs as bitcoind prints them: hex (or raw) transactions,
``gettxoutproof`` blobs, display-order hashes and header files, each with a one-line error
naming the option or file line that is wrong."""

from __future__ import annotations

from pathlib import Path

from etm_bridge.chains.bitcoin.spv.headers import HEADER_SIZE
from etm_bridge.errors import ValidationError


def _hex_or_raw(data: bytes) -> bytes:
    """File contents: hex text (whitespace ignored, optional 0x) if it is that, else raw bytes."""
    try:
        text = "".join(data.decode("ascii").split())
    except UnicodeDecodeError:
        return data
    text = text[2:] if text[:2].lower() == "0x" else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        return data


def bytes_arg(value: str, what: str) -> bytes:
    """Hex text, or ``@path`` to a file holding hex text or raw bytes."""
    if value.startswith("@"):
        try:
            return _hex_or_raw(Path(value[1:]).read_bytes())
        except OSError as exc:
            raise ValidationError(f"{what}: cannot read {value[1:]}: {exc.strerror}") from None
    text = "".join(value.split())
    text = text[2:] if text[:2].lower() == "0x" else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValidationError(
            f"{what} is not hex (odd length or a non-hex character); give hex or @file"
        ) from None


def hash_arg(value: str, what: str) -> bytes:
    """A 32-byte hash given in display order, returned in internal order."""
    raw = bytes_arg(value, what)
    if len(raw) != 32:
        raise ValidationError(f"{what} must be a 32-byte hash (64 hex digits), got {len(raw)}")
    return raw[::-1]


def read_headers(path: Path) -> list[bytes]:
    """Headers from a file: hex, one or more 80-byte headers per line, or raw concatenated."""
    data = path.read_bytes()
    lines = data.decode("ascii", "replace").split()
    if lines and all(len(x) % 2 == 0 and _is_hex(x) for x in lines):
        headers = []
        for number, line in enumerate(lines, 1):
            raw = bytes.fromhex(line)
            if len(raw) % HEADER_SIZE:
                raise ValidationError(
                    f"{path} line {number}: {len(raw)} bytes, not a multiple of 80-byte headers"
                )
            headers += [raw[i : i + 80] for i in range(0, len(raw), 80)]
        return headers
    if data and not any(_is_hex(x) for x in lines[:1]) and len(data) % HEADER_SIZE == 0:
        return [data[i : i + 80] for i in range(0, len(data), 80)]
    bad = next((n for n, x in enumerate(lines, 1) if not _is_hex(x) or len(x) % 2), 0)
    raise ValidationError(
        f"{path} holds no headers: expected hex 80-byte headers, one per line"
        + (f" (line {bad} is not hex)" if bad else "")
    )


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
