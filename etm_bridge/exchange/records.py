"""Exchange records in ETM state: table names, keys, and a JSON codec for the frozen records.

Records (:class:`~.pool.Pool`, :class:`~.htlc.Htlc`, :class:`~.binding.Binding`,
:class:`~.obligations.Obligation`, :class:`PoolSwap`) are stored with the state's canonical
JSON: bytes as lowercase hex, enums as their value, nested dataclasses as objects, ints as
ints. :func:`encode` / :func:`decode` are driven by the dataclass field types, so a field added
to a record is stored without touching this module.

All the ETM the exchange holds sits in one escrow, :data:`ESCROW`; the invariant is
``escrow(ESCROW) == sum(pool.etm_reserve) + sum(amount of locked user-funded HTLCs)``.
A pool is the sender of its swap-in HTLCs and the recipient of swap-out HTLCs under the
pseudo-address :func:`pool_account` (its ETM never leaves the escrow for it).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import Enum
from typing import Any, TypeVar

from .pool import PoolDirection, Quote

T = TypeVar("T")

ESCROW = "xchg"
POOLS = "xchg_pools"  # asset (utf-8) -> Pool
SHARES = "xchg_shares"  # asset || 0x00 || address20 -> u64 shares
HTLCS = "xchg_htlcs"  # htlc id (32 B) -> Htlc
SWAPS = "xchg_swaps"  # htlc id (32 B) -> PoolSwap
BINDINGS = "xchg_bindings"  # address20 || chain -> Binding
KEY_OWNERS = "xchg_key_owners"  # chain || 0x00 || key -> address20
NONCES = "xchg_binding_nonces"  # address20 || chain -> u64 last nonce
ENTRY = "xchg_lp_entry"  # asset || 0x00 || address20 -> u64 share value at entry (ppm)
USED = "xchg_used_proofs"  # kind || 0x00 || id -> 0x01 (foreign locks, deposits, payments)
OBLIGATIONS = "xchg_obligations"  # u64 id -> Obligation; b"next" -> u64 next id
INTENTS = "xchg_swap_intents"  # address20 || hashlock -> SwapIntent
#: issue 15: asset || 0x00 || expiry height u64 BE || address20 || hashlock -> 0x01
INTENT_EXPIRY = "xchg_intent_expiry"

# --- issue 11: the hashlock registry and the read indexes (consensus state, docs/exchange.md) --
HASHLOCKS = "xchg_hashlocks"  # hashlock -> HashlockUse (permanent: never deleted)
SWAP_LOG = "xchg_swap_log"  # asset || 0x00 || seq u64 -> htlc id (every pool swap, in order)
SWAP_SEQ = "xchg_swap_seq"  # asset -> u64 next seq of SWAP_LOG
OPEN_SWAPS = "xchg_open_swaps"  # asset || 0x00 || htlc id -> 0x01 (pool swaps still locked)
INVESTOR_OBLIGATIONS = "xchg_investor_obligations"  # address20 || u64 id -> 0x01
POSITIONS = "xchg_positions"  # address20 || asset -> 0x01 (the address holds shares)
#: review a11b: asset || 0x00 || foreign block hash -> value proven from it (u256 BE)
PROVEN_VALUE = "xchg_proven_value"
INDEX_TABLES = {
    HASHLOCKS: "hashlock -> who reserved or first used it, and its HTLC (permanent)",
    SWAP_LOG: "asset || 0x00 || seq u64 -> htlc id of every pool swap, in the order opened",
    SWAP_SEQ: "asset -> next seq of xchg_swap_log",
    OPEN_SWAPS: "asset || 0x00 || htlc id -> 0x01 while the pool swap's HTLC is locked",
    INVESTOR_OBLIGATIONS: "address20 || obligation id u64 -> 0x01",
    POSITIONS: "address20 || asset -> 0x01 while the address holds shares of the pool",
}

TABLES = {
    POOLS: "asset -> pool reserves, reservations, shares total, parameters",
    SHARES: "asset || 0x00 || address20 -> LP shares (u64)",
    HTLCS: "htlc id -> native HTLC record",
    SWAPS: "htlc id -> the pool swap (quote) that HTLC settles or releases",
    BINDINGS: "address20 || chain -> bound foreign key",
    KEY_OWNERS: "chain || 0x00 || foreign key -> address20",
    NONCES: "address20 || chain -> highest binding nonce used",
    ENTRY: "asset || 0x00 || address20 -> share-weighted share value at deposit (ppm)",
    USED: "kind || 0x00 || foreign id -> 0x01 (replay protection)",
    OBLIGATIONS: "u64 id -> external withdrawal obligation; 'next' -> next id",
    INTENTS: "address20 || hashlock -> the recipient's pinned swap-in terms, quote and bond",
    INTENT_EXPIRY: "asset || 0x00 || expiry u64 || address20 || hashlock -> 0x01 (live intents)",
    PROVEN_VALUE: "asset || 0x00 || foreign block hash -> total value proven from that block",
    **INDEX_TABLES,
}


@dataclasses.dataclass(frozen=True)
class PoolSwap:
    """The pool side of a swap HTLC: which pool, the quote, the user and their foreign key.

    ``user_key`` is the user's key on the asset's chain when the swap started: the refund key
    of their lock (swap in) or the key the operator must pay (swap out), fixed even if the user
    rebinds later. ``lock_id`` is the proven foreign lock of a swap in (empty for a swap out);
    ``proof_block`` the relayed block holding it and ``proof_depth`` the depth its proof needed:
    a claim of the swap's HTLC re-checks that the block is still on the relay's best chain that
    deep (a lock reorganised out can no longer be claimed against).
    """

    asset: str
    direction: PoolDirection
    amount_in: int
    fee: int
    amount_out: int
    user: str
    user_key: bytes
    lock_id: bytes = b""
    proof_block: bytes = b""
    proof_depth: int = 0

    @property
    def quote(self) -> Quote:
        return Quote(self.direction, self.amount_in, self.fee, self.amount_out)


@dataclasses.dataclass(frozen=True)
class SwapIntent:
    """A swap-in's terms signed by its recipient, so that anyone may submit the proof later
    without choosing the slippage bound for them (``min_out`` is the recipient's).

    Issue 15 (:mod:`.intents`): the quote reserved in the pool for it (``fee``, ``amount_out``),
    the ``bond`` held in the escrow, the ``height`` it was recorded at and the last height it
    holds (``expiry_height``)."""

    asset: str
    amount_in: int
    min_out: int
    amount_out: int
    fee: int
    bond: int
    height: int
    expiry_height: int


@dataclasses.dataclass(frozen=True)
class HashlockUse:
    """A hashlock in the registry (``xchg_hashlocks``, see :mod:`.hashlocks`): ``owner`` is the
    ETM address that reserved it (swap intent) or first used it; ``htlc_id`` the HTLC that used
    it (empty while only reserved); ``height`` the ETM height of that first use or reservation."""

    owner: str
    htlc_id: bytes
    height: int


def pool_account(asset: str) -> str:
    """The pseudo-address naming a pool as an HTLC's sender or recipient."""
    return f"pool:{asset}"


def share_key(asset: str, address20: bytes) -> bytes:
    return asset.encode() + b"\x00" + address20


def used_key(kind: str, ident: bytes) -> bytes:
    return kind.encode() + b"\x00" + ident


def asset_key(asset: str, ident: bytes) -> bytes:
    """``asset || 0x00 || ident``: the keys of the per-asset indexes (swap log, open swaps)."""
    return asset.encode() + b"\x00" + ident


def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    return value


def encode(record: Any) -> dict[str, Any]:
    """A frozen record as a JSON-able dict (bytes -> hex, enums -> values)."""
    return {f.name: _encode_value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _decode_value(kind: Any, raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        return _decode_value(options[0], raw)
    if kind is bytes:
        return bytes.fromhex(raw)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return decode(kind, raw)
    return raw


def field_types(cls: Any) -> tuple[tuple[str, Any], ...]:
    """``(name, resolved type)`` of each field of dataclass ``cls``, computed once per class
    (``typing.get_type_hints`` evaluates annotation strings: it was half the cost of decoding
    a record, and every read route and tx decodes many)."""
    return _field_types(cls)


@functools.cache
def _field_types(cls: Any) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def decode(cls: type[T], raw: dict[str, Any]) -> T:
    """The record of type ``cls`` that :func:`encode` produced ``raw`` from. A field missing
    from ``raw`` (a record stored before the field was added) takes the field's default."""
    values = {}
    for name, kind in field_types(cls):
        if name in raw:
            values[name] = _decode_value(kind, raw[name])
        elif name in required_fields(cls):
            raise KeyError(name)
    return cls(**values)


def required_fields(cls: Any) -> frozenset[str]:
    """Names of the fields of dataclass ``cls`` without a default (computed once per class)."""
    return _required(cls)


@functools.cache
def _required(cls: Any) -> frozenset[str]:
    """Names of the fields of dataclass ``cls`` without a default."""
    return frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
