"""Chaotic shuffling of a round's forging order (whitepaper 3.4), in exact integer arithmetic.

The whitepaper's Hénon-type 3-D map

    x' = a x + b y^2,   y' = c x + d y + d x z,   z' = x^2 + e y x

diverges over the reals for almost every start, and floats would round differently across
machines, so we iterate it over the prime field ``GF(P)``, ``P = 2**255 - 19``. Every node then
computes bit-identical states. A prime modulus (not ``2**256``) matters: modulo a power of two the
low ``k`` bits of the state form a closed sub-system of period at most ``2**(3k)``, so residues
modulo small numbers would cycle quickly.

Derivation from the 32-byte seed ``I`` (the id of the last block of the previous round), following
3.4 step by step (``docs/consensus.md`` lists the deviations):

1. ``N1 = 3 + int(I) mod 11`` (in [3, 13]; Matlab's ``randi`` is replaced by the seed so every
   node agrees). Run the map ``N1`` times with fixed public parameters from the seed-derived
   initial value.
2. ``s = x + y + z``; ``idxo = s mod 3 + 1`` picks the output dimension (1=x, 2=y, 3=z).
3. The two other dimensions give ``seg1, seg2 = 1 + (u mod 11), 1 + (v mod 11)`` and
   ``seg3 = 32 - seg1 - seg2`` (byte counts of ``I`` seen as 32 8-bit blocks).
4. ``I1, I2, I3`` = the three slices of ``I``; they give the parameter scaling value
   ``val_par``, the iteration count ``N2 = 3 + val_N mod 11`` and the initial-value scaling
   value ``val_init``.
5. The scaled system runs ``N2`` warm-up steps, then emits its ``idxo`` coordinate once per step.
6. The order is a Fisher-Yates shuffle ("exchange operation") of the delegates sorted by public
   key, each swap index drawn from the stream by rejection sampling (no modulo bias).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ...errors import ValidationError

#: The field modulus: the prime 2**255 - 19.
P = 2**255 - 19

SEED_BYTES = 32
_MASK256 = 2**256 - 1


def _constant(label: str) -> int:
    """A nothing-up-my-sleeve nonzero field element: sha256 of a public label."""
    value = int.from_bytes(hashlib.sha256(b"etm-henon/" + label.encode()).digest(), "big") % P
    assert value != 0
    return value


#: Base parameters (a, b, c, d, e) of the bootstrap run; the main run scales them by ``val_par``.
BASE_PARAMS: tuple[int, ...] = tuple(_constant(name) for name in "abcde")

State = tuple[int, int, int]


@dataclass(frozen=True)
class ShuffleSchedule:
    """Everything 3.4 derives from a seed before the output stream starts."""

    n1: int
    idxo: int
    seg1: int
    seg2: int
    seg3: int
    params: tuple[int, int, int, int, int]
    n2: int
    start: State


def henon_step(state: State, params: Sequence[int]) -> State:
    """One step of the 3-D map over GF(P). A fixed point (e.g. the origin) is nudged off."""
    x, y, z = state
    a, b, c, d, e = params
    nxt = (
        (a * x + b * y * y) % P,
        (c * x + d * y + d * x * z) % P,
        (x * x + e * y * x) % P,
    )
    if nxt == state:
        return ((x + 1) % P, (y + 2) % P, (z + 3) % P)
    return nxt


def _iterate(state: State, params: Sequence[int], steps: int) -> State:
    for _ in range(steps):
        state = henon_step(state, params)
    return state


def _rotl256(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (256 - bits))) & _MASK256


def _check_seed(seed: bytes) -> int:
    if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_BYTES:
        raise ValidationError(f"shuffle seed must be {SEED_BYTES} bytes (a block id)")
    return int.from_bytes(seed, "big")


def derive_schedule(seed: bytes) -> ShuffleSchedule:
    """Steps 1-4 of 3.4: iteration counts, output dimension, segments, parameters, start."""
    value = _check_seed(seed)
    n1 = 3 + value % 11
    start = tuple(1 + _rotl256(value, r) % (P - 1) for r in (0, 85, 170))
    x, y, z = _iterate((start[0], start[1], start[2]), BASE_PARAMS, n1)
    idxo = (x + y + z) % P % 3 + 1
    u, v = [c for i, c in enumerate((x, y, z)) if i != idxo - 1]
    seg1, seg2 = 1 + u % 11, 1 + v % 11
    seg3 = SEED_BYTES - seg1 - seg2
    i1, i2, i3 = seed[:seg1], seed[seg1 : seg1 + seg2], seed[seg1 + seg2 :]
    val_par, val_n, val_init = (int.from_bytes(part, "big") for part in (i1, i2, i3))
    params = tuple(base * (val_par + k + 1) % P for k, base in enumerate(BASE_PARAMS))
    scaled = tuple(c * (val_init + k + 1) % P for k, c in enumerate((x, y, z)))
    return ShuffleSchedule(
        n1=n1,
        idxo=idxo,
        seg1=seg1,
        seg2=seg2,
        seg3=seg3,
        params=(params[0], params[1], params[2], params[3], params[4]),
        n2=3 + val_n % 11,
        start=(scaled[0], scaled[1], scaled[2]),
    )


def chaotic_stream(seed: bytes) -> Iterator[int]:
    """Step 5: after ``N2`` warm-up steps, the ``idxo`` coordinate of each further step."""
    schedule = derive_schedule(seed)
    state = _iterate(schedule.start, schedule.params, schedule.n2)
    while True:
        state = henon_step(state, schedule.params)
        yield state[schedule.idxo - 1]


def draw_below(stream: Iterator[int], bound: int) -> int:
    """A uniform integer in ``[0, bound)`` from field elements, rejecting the biased tail."""
    if bound < 1:
        raise ValidationError(f"bound must be >= 1, got {bound}")
    limit = P - P % bound
    while True:
        value = next(stream)
        if value < limit:
            return value % bound


def forging_order(seed: bytes, delegates: Sequence[bytes]) -> list[bytes]:
    """The round's forging order: a chaotic Fisher-Yates shuffle of ``delegates``.

    The input order does not matter (delegates are sorted by public key first); duplicates are
    refused. Returns a new list; slot ``k`` of the round belongs to ``order[k % len(order)]``.
    """
    _check_seed(seed)
    order = sorted(bytes(d) for d in delegates)
    if any(not d for d in order):
        raise ValidationError("delegate public keys must be non-empty bytes")
    if len(set(order)) != len(order):
        raise ValidationError("delegate list contains duplicates")
    if len(order) < 2:
        return order
    stream = chaotic_stream(bytes(seed))
    for i in range(len(order) - 1, 0, -1):
        j = draw_below(stream, i + 1)
        order[i], order[j] = order[j], order[i]
    return order
