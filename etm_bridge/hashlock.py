"""Cross-chain hashlock and timelock rules: the one place every leg of a swap takes them from.

- Every leg (a script, a contract, the ETM native HTLC) locks with **sha256**, so one
  preimage unlocks all of them.
- A preimage is **exactly 32 bytes**. Scripts enforce it with ``OP_SIZE 32`` (Decred added that
  after a real exploit: a longer preimage valid on one chain could be unusable on the other).
- Secret extraction scans **every** push of a witness / every input / every offset of call data,
  never just "the second witness item", so an unusual but valid claim cannot hide the secret.
- The leg that the secret holder locks (the *long* leg) must expire later than the counterparty's
  (*short*) leg by at least :data:`LEG_MARGIN_S` seconds, converted to each chain's blocks with
  :func:`blocks_for_seconds`.
- A refund is valid in a block whose height is **strictly greater** than the timelock height
  (:func:`refund_allowed`): a transaction whose lock time is the timelock is final in block
  ``timelock + 1``, and every contract and the ETM HTLC use the same rule.

Pure: no I/O. Errors are :class:`~etm_bridge.errors.HashlockError` and
:class:`~etm_bridge.errors.TimelockError`, naming what was wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .errors import HashlockError, TimelockError

#: Length of every preimage and every hashlock, in bytes.
PREIMAGE_LEN = 32
HASHLOCK_LEN = 32

#: How much later (in seconds) the long leg must expire than the short leg. It covers: seeing
#: the claim of the short leg, waiting for its confirmations, getting our own claim of the long
#: leg confirmed, and block-time variance. Six hours, the whitepaper's ETM lock period.
LEG_MARGIN_S = 6 * 3600


def sha256(data: bytes) -> bytes:
    """Single sha256, the hash of every leg."""
    return hashlib.sha256(data).digest()


def require_hashlock(hashlock: object, what: str = "hashlock") -> bytes:
    """Return ``hashlock`` if it is 32 bytes, else raise :class:`HashlockError`."""
    if not isinstance(hashlock, bytes | bytearray):
        raise HashlockError(f"{what} must be bytes, got {type(hashlock).__name__}")
    if len(hashlock) != HASHLOCK_LEN:
        raise HashlockError(f"{what} must be {HASHLOCK_LEN} bytes, got {len(hashlock)}")
    return bytes(hashlock)


def require_preimage(preimage: object) -> bytes:
    """Return ``preimage`` if it is exactly 32 bytes, else raise :class:`HashlockError`."""
    if not isinstance(preimage, bytes | bytearray):
        raise HashlockError(f"preimage must be bytes, got {type(preimage).__name__}")
    if len(preimage) != PREIMAGE_LEN:
        raise HashlockError(f"preimage must be exactly {PREIMAGE_LEN} bytes, got {len(preimage)}")
    return bytes(preimage)


def hashlock_of(preimage: bytes) -> bytes:
    """sha256 of a 32-byte preimage (raises :class:`HashlockError` on any other length)."""
    return sha256(require_preimage(preimage))


def check_preimage(preimage: bytes, hashlock: bytes) -> None:
    """Raise :class:`HashlockError` unless ``preimage`` is 32 bytes and hashes to ``hashlock``."""
    require_hashlock(hashlock)
    if hashlock_of(preimage) != hashlock:
        raise HashlockError(
            f"preimage does not match hashlock {hashlock.hex()} "
            f"(sha256(preimage) = {hashlock_of(preimage).hex()})"
        )


def preimage_matches(candidate: bytes, hashlock: bytes) -> bool:
    """True if ``candidate`` is a valid 32-byte preimage of ``hashlock``; never raises."""
    return len(candidate) == PREIMAGE_LEN and sha256(candidate) == hashlock


def find_preimage_in_pushes(pushes: Iterable[bytes], hashlock: bytes) -> bytes | None:
    """Scan every data push (witness items, script pushes, inputs) for the preimage."""
    require_hashlock(hashlock)
    for push in pushes:
        if preimage_matches(bytes(push), hashlock):
            return bytes(push)
    return None


def find_preimage_in_bytes(data: bytes, hashlock: bytes) -> bytes | None:
    """Scan every byte offset of ``data`` (e.g. contract call data, an event) for the preimage."""
    require_hashlock(hashlock)
    for offset in range(len(data) - PREIMAGE_LEN + 1):
        candidate = data[offset : offset + PREIMAGE_LEN]
        if sha256(candidate) == hashlock:
            return bytes(candidate)
    return None


# --- timelocks ---------------------------------------------------------------------------------


def refund_allowed(timelock_height: int, next_block_height: int) -> bool:
    """True if a refund may be included in the block at ``next_block_height``."""
    return next_block_height > timelock_height


def check_refund_allowed(what: str, timelock_height: int, next_block_height: int) -> None:
    """Raise :class:`TimelockError` naming ``what`` (e.g. ``"lock <id>"``) unless a refund may
    be included in the block at ``next_block_height`` (:func:`refund_allowed`)."""
    if not refund_allowed(timelock_height, next_block_height):
        raise TimelockError(
            f"{what} can be refunded from block {timelock_height + 1}; "
            f"the next block is {next_block_height}"
        )


def blocks_for_seconds(seconds: int, block_time_s: int) -> int:
    """Blocks needed to cover ``seconds`` at ``block_time_s`` per block (rounded up)."""
    if block_time_s <= 0:
        raise TimelockError(f"block time must be positive, got {block_time_s} s")
    if seconds < 0:
        raise TimelockError(f"duration must be non-negative, got {seconds} s")
    return -(-seconds // block_time_s)


def seconds_left(timelock_height: int, tip_height: int, block_time_s: int) -> int:
    """Expected seconds until a refund of a ``timelock_height`` lock becomes valid."""
    return max(0, timelock_height - tip_height) * block_time_s


def check_leg_margin(long_leg_s: int, short_leg_s: int, margin_s: int = LEG_MARGIN_S) -> None:
    """Raise :class:`TimelockError` unless the long leg outlives the short one by ``margin_s``.

    Both arguments are expected seconds until each leg's refund becomes valid (use
    :func:`seconds_left` with each chain's block time).
    """
    if long_leg_s - short_leg_s < margin_s:
        raise TimelockError(
            f"long leg expires {long_leg_s - short_leg_s} s after the short leg; "
            f"the margin must be at least {margin_s} s"
        )
