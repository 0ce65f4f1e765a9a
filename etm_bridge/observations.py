"""Frozen observation types of the chain-adapter seam, validated when built.

What :class:`~etm_bridge.adapter.ChainAdapter` methods return and take: chain identity
(:class:`ChainInfo`), the tip, HTLC terms, locks and their spends, inclusion proofs, fee
estimates, key kinds, and the enums naming lock states and lock-check reasons. Each class
raises :class:`~etm_bridge.errors.ValidationError` naming the field when a value has the wrong
type, length or range. Import them from :mod:`etm_bridge.adapter`, which re-exports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from .errors import ValidationError
from .hashlock import HASHLOCK_LEN, require_hashlock

_HEX_RE = re.compile(r"^[0-9a-f]*$")


@dataclass(frozen=True)
class KeyKind:
    """What a chain's claim/refund keys are: a name and a length in bytes (an open set: each
    chain folder defines its own kind, e.g. a 20-byte address; the core's kinds are the class
    constants below)."""

    value: str
    length: int

    SECP256K1_COMPRESSED: ClassVar[KeyKind]  # 33 bytes, 0x02/0x03 prefix
    ED25519_PUBKEY: ClassVar[KeyKind]  # 32 bytes (ETM)
    ETM_ADDRESS: ClassVar[KeyKind]  # 20 bytes: what a native ETM HTLC names (hash of the key)

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value:
            raise ValidationError(f"a key kind needs a name, got {self.value!r}")
        if not isinstance(self.length, int) or not 1 <= self.length <= 65:
            raise ValidationError(f"key kind {self.value}: length must be 1..65 bytes")

    def __str__(self) -> str:
        return self.value


KeyKind.SECP256K1_COMPRESSED = KeyKind("secp256k1-compressed-pubkey", 33)
KeyKind.ED25519_PUBKEY = KeyKind("ed25519-pubkey", 32)
KeyKind.ETM_ADDRESS = KeyKind("etm-address", 20)


class LockState(StrEnum):
    """Where an HTLC output/record stands on chain."""

    OPEN = "open"  # funded, neither claimed nor refunded
    CLAIMED = "claimed"
    REFUNDED = "refunded"


class SpendKind(StrEnum):
    CLAIM = "claim"
    REFUND = "refund"


class MismatchReason(StrEnum):
    """Typed reasons of :class:`~etm_bridge.errors.LockMismatchError` (``exc.reason``)."""

    WRONG_CHAIN = "wrong_chain"
    WRONG_ASSET = "wrong_asset"
    WRONG_AMOUNT = "wrong_amount"
    WRONG_HASHLOCK = "wrong_hashlock"
    WRONG_CLAIM_KEY = "wrong_claim_key"
    WRONG_REFUND_KEY = "wrong_refund_key"
    TIMELOCK_TOO_SHORT = "timelock_too_short"  # earlier than agreed
    TIMELOCK_TOO_CLOSE = "timelock_too_close"  # too few blocks left before refund is valid
    NOT_CONFIRMED = "not_confirmed"  # fewer confirmations than required
    ALREADY_SPENT = "already_spent"


# --- validation helpers ------------------------------------------------------------------------


def _require_int(name: str, value: object, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {value}")


def _require_bytes(name: str, value: object, length: int | None = None) -> None:
    if not isinstance(value, bytes):
        raise ValidationError(f"{name} must be bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise ValidationError(f"{name} must be {length} bytes, got {len(value)}")


def _require_hex(name: str, value: object, length: int | None = None) -> None:
    if not isinstance(value, str) or not _HEX_RE.match(value):
        raise ValidationError(f"{name} must be a lowercase hex string, got {value!r}")
    if length is not None and len(value) != length:
        raise ValidationError(f"{name} must be {length} hex digits, got {len(value)}")


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")


# --- observations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainInfo:
    """A chain's identity and the parameters a swap plans with."""

    chain: str  # adapter/chain name (the chain profile's name), e.g. "fake"
    network: str  # e.g. "regtest", "mainnet"
    asset: str  # native asset symbol, upper case (the profile's unit symbol)
    base_unit: str  # the smallest unit's name (the profile's unit)
    decimals: int
    block_time_s: int  # expected seconds per block
    default_confirmations: int
    key_kind: KeyKind

    def __post_init__(self) -> None:
        for name in ("chain", "network", "asset", "base_unit"):
            _require_text(name, getattr(self, name))
        _require_int("decimals", self.decimals)
        _require_int("block_time_s", self.block_time_s, 1)
        _require_int("default_confirmations", self.default_confirmations, 1)
        if not isinstance(self.key_kind, KeyKind):
            raise ValidationError(f"key_kind must be a KeyKind, got {self.key_kind!r}")


@dataclass(frozen=True)
class Tip:
    """The best block: height and hash as the chain's RPC displays it (lowercase hex)."""

    height: int
    block_hash_hex: str

    def __post_init__(self) -> None:
        _require_int("height", self.height)
        _require_hex("block_hash_hex", self.block_hash_hex, 64)


@dataclass(frozen=True)
class HtlcTerms:
    """What a lock must say. ``asset_id`` is None for the native asset (else e.g. a token
    contract address); keys are ``info().key_kind`` bytes."""

    amount: int  # smallest unit of the asset
    hashlock: bytes  # sha256 of the 32-byte preimage
    claim_key: bytes
    refund_key: bytes
    timelock_height: int  # absolute block height
    asset_id: bytes | None = None

    def __post_init__(self) -> None:
        _require_int("amount", self.amount, 1)
        require_hashlock(self.hashlock)
        _require_bytes("claim_key", self.claim_key)
        _require_bytes("refund_key", self.refund_key)
        if not self.claim_key or not self.refund_key:
            raise ValidationError("claim_key and refund_key must not be empty")
        _require_int("timelock_height", self.timelock_height, 1)
        if self.asset_id is not None:
            _require_bytes("asset_id", self.asset_id)

    def check_key_kind(self, key_kind: KeyKind) -> None:
        """Raise :class:`ValidationError` unless both keys have ``key_kind``'s length."""
        for name in ("claim_key", "refund_key"):
            key = getattr(self, name)
            if len(key) != key_kind.length:
                raise ValidationError(
                    f"{name} must be a {key_kind.value} of {key_kind.length} bytes, "
                    f"got {len(key)} bytes"
                )


@dataclass(frozen=True)
class ObservedSpend:
    """A transaction spending watched outpoints (CUSTODY): its id, the block height it was
    mined at (None while pending), the raw transaction, and which watched outpoints it spends."""

    txid: str
    block_height: int | None
    raw: bytes
    spent: tuple[bytes, ...]


@dataclass(frozen=True)
class HtlcLock:
    """An HTLC lock seen on chain. ``block_height`` is None while unconfirmed.

    ``deadline_s`` (unix seconds): a wall-clock deadline the chain enforces besides the
    timelock height, whichever comes first (ETM's native HTLCs: a claim in a block stamped after
    it is refused and a refund becomes valid); None on chains whose locks end by height only."""

    chain: str
    lock_id: str  # adapter-defined, stable: e.g. "txid:vout", or a contract's swap id hex
    txid: str  # the lock transaction, as the chain displays it
    terms: HtlcTerms
    block_height: int | None
    state: LockState = LockState.OPEN
    deadline_s: int | None = None

    def __post_init__(self) -> None:
        _require_text("chain", self.chain)
        _require_text("lock_id", self.lock_id)
        _require_text("txid", self.txid)
        if not isinstance(self.terms, HtlcTerms):
            raise ValidationError("terms must be HtlcTerms")
        if self.block_height is not None:
            _require_int("block_height", self.block_height)
        if not isinstance(self.state, LockState):
            raise ValidationError(f"state must be a LockState, got {self.state!r}")
        if self.deadline_s is not None:
            _require_int("deadline_s", self.deadline_s)

    def confirmations_at(self, tip_height: int) -> int:
        """Confirmations of the lock when the tip is ``tip_height`` (0 while unconfirmed)."""
        if self.block_height is None or tip_height < self.block_height:
            return 0
        return tip_height - self.block_height + 1


@dataclass(frozen=True)
class HtlcSpend:
    """A claim or refund of a lock. ``preimage`` is set for claims."""

    lock_id: str
    txid: str
    kind: SpendKind
    preimage: bytes | None
    block_height: int | None

    def __post_init__(self) -> None:
        _require_text("lock_id", self.lock_id)
        _require_text("txid", self.txid)
        if not isinstance(self.kind, SpendKind):
            raise ValidationError(f"kind must be a SpendKind, got {self.kind!r}")
        if self.kind is SpendKind.CLAIM:
            _require_bytes("preimage", self.preimage, HASHLOCK_LEN)
        elif self.preimage is not None:
            raise ValidationError("a refund carries no preimage")
        if self.block_height is not None:
            _require_int("block_height", self.block_height)


@dataclass(frozen=True)
class InclusionProof:
    """Proof that a lock's transaction is in a block, as raw bytes for the SPV relays.

    The ``kind`` is one a chain profile declares (``ChainProfile.proof_kinds``, e.g. a Merkle
    branch of a block's transactions, or a receipts-trie path); the profile's chain folder
    documents its fields, and its ``ProofKind`` gives the exact header and branch-node lengths
    checked here (a kind no installed profile declares is not checked here):

    - a Merkle kind: ``header`` is the block header, ``leaf`` the transaction's serialisation
      the tree commits to, ``branch`` the sibling hashes from leaf to root, ``index`` the tx
      position in the block (its bits say left/right, lowest bit first), ``tx_count`` the
      number of transactions in the block (the SPV verifier checks the branch shape).
    - ``kind == "fake-merkle"`` (the in-memory fake): a double-SHA-256 tree over the fake's own
      transaction encoding, an 80-byte header and 32-byte hashes.
    - a trie kind: ``header`` is the block header, ``leaf`` the encoded receipt, ``branch``
      the trie nodes from root to leaf, ``index`` the transaction index (the trie key).

    A payment's proof (:meth:`~etm_bridge.adapter.ChainAdapter.payment_proof`) also names the
    part of the transaction that pays (``item``: the output index, the receipt's log index) and
    may carry more proof nodes (``aux``: e.g. the transaction's nodes in the transactions trie).
    ``context``: further bytes a chain's exchange verifier needs beside the proven transaction,
    each one bound by what the transaction commits to (the chain profile's kind says what they
    are; e.g. the transaction whose output the proven one's first input spends, bound by that
    input's prev txid). Empty for kinds that need none.
    """

    kind: str
    block_height: int
    header: bytes
    leaf: bytes
    branch: tuple[bytes, ...]
    index: int
    tx_count: int | None = None  # Merkle proofs: transactions in the block
    item: int | None = None  # payment proofs: the output / log that pays
    aux: tuple[bytes, ...] = ()  # payment proofs: more nodes (e.g. the transactions trie)
    context: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _require_text("kind", self.kind)
        if not isinstance(self.context, tuple) or not all(
            isinstance(c, bytes) for c in self.context
        ):
            raise ValidationError("context must be a tuple of bytes")
        if self.tx_count is not None:
            _require_int("tx_count", self.tx_count, 1)
        _require_int("block_height", self.block_height)
        _require_bytes("header", self.header)
        _require_bytes("leaf", self.leaf)
        if not isinstance(self.branch, tuple) or not all(isinstance(b, bytes) for b in self.branch):
            raise ValidationError("branch must be a tuple of bytes")
        _require_int("index", self.index)
        if self.item is not None:
            _require_int("item", self.item)
        if not isinstance(self.aux, tuple) or not all(isinstance(b, bytes) for b in self.aux):
            raise ValidationError("aux must be a tuple of bytes")
        header_len, node_len = _shape_of(self.kind)
        if header_len is not None:
            _require_bytes("header", self.header, header_len)
        if node_len is not None:
            for node in self.branch:
                _require_bytes("branch hash", node, node_len)


#: The in-memory fake chain's proof kind (``etm_bridge.testing.fakechain``): no profile's.
FAKE_MERKLE = "fake-merkle"


def _shape_of(kind: str) -> tuple[int | None, int | None]:
    """(header length, branch node length) of a proof kind: its chain profile's ``ProofKind``;
    (None, None) for a kind no installed profile declares (not checked here)."""
    if kind == FAKE_MERKLE:
        return 80, 32
    from .chains.registry import chain_registry  # the profiles import this module

    shape = chain_registry().proof_kind(kind)
    return (None, None) if shape is None else (shape.header_len, shape.node_len)


@dataclass(frozen=True)
class FeeEstimate:
    """A fee rate and where it came from (``source``: "node", "fallback" or "user", a rate the
    user set, e.g. ``--fee-rate``)."""

    rate: int  # in rate_unit, e.g. base units per vbyte or per gas
    rate_unit: str
    source: str

    def __post_init__(self) -> None:
        _require_int("rate", self.rate, 1)
        _require_text("rate_unit", self.rate_unit)
        if self.source not in ("node", "fallback", "user"):
            raise ValidationError(f"source must be node, fallback or user, got {self.source!r}")
