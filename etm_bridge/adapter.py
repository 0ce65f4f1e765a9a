"""The chain-adapter seam: :class:`ChainAdapter` and the frozen observations it returns.

A chain adapter is the whitepaper's "device driver": it turns a chain (Bitcoin, Ethereum, the
in-memory fake, a third party's) into what a swap needs and nothing more. Adapters are plugins
found through the ``etm_bridge.adapters`` entry-point group (:mod:`etm_bridge.adapters_registry`);
the core never imports one by name. Every adapter passes the same conformance suite
(:mod:`etm_bridge.testing.conformance`).

Rules every adapter follows:

- Amounts are ``int`` in the chain's smallest unit (sat, wei, token base unit).
- Hashlocks are sha256, preimages exactly 32 bytes (:mod:`etm_bridge.hashlock`).
- Timelocks are **absolute block heights**; a refund is valid in a block whose height is
  strictly greater than the timelock (``hashlock.refund_allowed``), so it can be broadcast once
  ``tip().height >= timelock_height``.
- Keys are the chain's own kind, announced by ``info().key_kind``: Bitcoin uses 33-byte
  compressed secp256k1 public keys, Ethereum 20-byte addresses. ``our_key()`` is the key the
  counterparty must put in a lock for us (claim key) and that we put in ours (refund key).
- State comes from the chain, not memory: an adapter re-created from the same config
  (:meth:`ChainAdapter.from_config`) finds its locks again with :meth:`find_locks`.
- ``claim`` / ``refund`` check the preimage / timelock locally first; ``unsafe_skip_checks=True``
  skips those local checks so tests can prove that the chain itself rejects a bad spend.
- Chain rejections raise :class:`~etm_bridge.errors.ChainError` subclasses (for RPC nodes,
  :class:`~etm_bridge.errors.RPCError` with the node's code; for contracts,
  :class:`~etm_bridge.errors.ContractRevertError`); an unknown lock raises
  :class:`~etm_bridge.errors.LockNotFoundError`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from .errors import LockMismatchError, ValidationError
from .hashlock import HASHLOCK_LEN, require_hashlock

_HEX_RE = re.compile(r"^[0-9a-f]*$")


class KeyKind(StrEnum):
    """What a chain's claim/refund keys are."""

    SECP256K1_COMPRESSED = "secp256k1-compressed-pubkey"  # 33 bytes, 0x02/0x03 prefix
    ETHEREUM_ADDRESS = "ethereum-address"  # 20 bytes
    ED25519_PUBKEY = "ed25519-pubkey"  # 32 bytes (ETM)

    @property
    def length(self) -> int:
        return {"secp256k1-compressed-pubkey": 33, "ethereum-address": 20, "ed25519-pubkey": 32}[
            self.value
        ]


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

    chain: str  # adapter/chain name, e.g. "bitcoin", "ethereum", "fake"
    network: str  # e.g. "regtest", "mainnet", "anvil"
    asset: str  # native asset symbol, e.g. "BTC", "ETH"
    base_unit: str  # e.g. "sat", "wei"
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
class HtlcLock:
    """An HTLC lock seen on chain. ``block_height`` is None while unconfirmed."""

    chain: str
    lock_id: str  # adapter-defined, stable: Bitcoin "txid:vout", Ethereum the swap hash hex
    txid: str  # the lock transaction, as the chain displays it
    terms: HtlcTerms
    block_height: int | None
    state: LockState = LockState.OPEN

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

    - ``kind == "bitcoin-merkle"``: ``header`` is the 80-byte block header, ``leaf`` the
      transaction's witness-stripped serialisation (so ``dsha256(leaf)`` is the txid in internal
      order), ``branch`` the sibling hashes in internal byte order from leaf to root, ``index``
      the tx position in the block (its bits say left/right, lowest bit first), ``tx_count``
      the number of transactions in the block (the SPV verifier checks the branch shape).
    - ``kind == "fake-merkle"`` (the in-memory fake): the same tree over the fake's own
      transaction encoding, ``dsha256(leaf)`` being the leaf hash.
    - ``kind == "ethereum-receipt"``: ``header`` is the RLP block header, ``leaf`` the
      consensus-encoded receipt, ``branch`` the receipts-trie nodes from root to leaf,
      ``index`` the transaction index (trie key ``rlp(index)``).
    """

    kind: str
    block_height: int
    header: bytes
    leaf: bytes
    branch: tuple[bytes, ...]
    index: int
    tx_count: int | None = None  # Bitcoin-style Merkle proofs: transactions in the block

    def __post_init__(self) -> None:
        _require_text("kind", self.kind)
        if self.tx_count is not None:
            _require_int("tx_count", self.tx_count, 1)
        _require_int("block_height", self.block_height)
        _require_bytes("header", self.header)
        _require_bytes("leaf", self.leaf)
        if not isinstance(self.branch, tuple) or not all(isinstance(b, bytes) for b in self.branch):
            raise ValidationError("branch must be a tuple of bytes")
        _require_int("index", self.index)
        if self.kind in ("bitcoin-merkle", "fake-merkle"):
            _require_bytes("header", self.header, 80)
            for node in self.branch:
                _require_bytes("branch hash", node, 32)


@dataclass(frozen=True)
class FeeEstimate:
    """A fee rate and where it came from (``source`` is "node" or "fallback")."""

    rate: int  # in rate_unit, e.g. sat/vB or wei/gas
    rate_unit: str
    source: str

    def __post_init__(self) -> None:
        _require_int("rate", self.rate, 1)
        _require_text("rate_unit", self.rate_unit)
        if self.source not in ("node", "fallback"):
            raise ValidationError(f"source must be 'node' or 'fallback', got {self.source!r}")


# --- the lock check (pure) ---------------------------------------------------------------------


def lock_mismatches(
    lock: HtlcLock,
    expected: HtlcTerms,
    *,
    chain: str,
    min_confirmations: int,
    now_height: int,
    min_blocks_left: int = 1,
) -> list[tuple[MismatchReason, str]]:
    """Every way ``lock`` fails ``expected``, in check order (empty list: it matches).

    Overpaying is accepted (it only costs the sender); everything else must match exactly, the
    timelock must not be earlier than agreed and must leave ``min_blocks_left`` blocks.
    """
    got, want, r = lock.terms, expected, MismatchReason
    confirmations = lock.confirmations_at(now_height)
    checks = [
        (lock.chain != chain, r.WRONG_CHAIN, f"chain {lock.chain!r}, expected {chain!r}"),
        (
            got.asset_id != want.asset_id,
            r.WRONG_ASSET,
            f"asset {_hex(got.asset_id)}, expected {_hex(want.asset_id)}",
        ),
        (
            got.hashlock != want.hashlock,
            r.WRONG_HASHLOCK,
            f"hashlock {got.hashlock.hex()}, expected {want.hashlock.hex()}",
        ),
        (
            got.amount < want.amount,
            r.WRONG_AMOUNT,
            f"amount {got.amount}, expected at least {want.amount}",
        ),
        (
            got.claim_key != want.claim_key,
            r.WRONG_CLAIM_KEY,
            f"claim key {got.claim_key.hex()}, expected {want.claim_key.hex()}",
        ),
        (
            got.refund_key != want.refund_key,
            r.WRONG_REFUND_KEY,
            f"refund key {got.refund_key.hex()}, expected {want.refund_key.hex()}",
        ),
        (
            got.timelock_height < want.timelock_height,
            r.TIMELOCK_TOO_SHORT,
            f"timelock {got.timelock_height}, expected at least {want.timelock_height}",
        ),
        (
            got.timelock_height - now_height < min_blocks_left,
            r.TIMELOCK_TOO_CLOSE,
            f"timelock {got.timelock_height} is < {min_blocks_left} blocks after {now_height}",
        ),
        (lock.state is not LockState.OPEN, r.ALREADY_SPENT, f"lock is {lock.state.value}"),
        (
            confirmations < min_confirmations,
            r.NOT_CONFIRMED,
            f"{confirmations} confirmations, need {min_confirmations}",
        ),
    ]
    return [(reason, f"lock {lock.lock_id}: {detail}") for bad, reason, detail in checks if bad]


def check_lock_terms(
    lock: HtlcLock,
    expected: HtlcTerms,
    *,
    chain: str,
    min_confirmations: int,
    now_height: int,
    min_blocks_left: int = 1,
) -> None:
    """Raise :class:`LockMismatchError` with the first reason of :func:`lock_mismatches`."""
    problems = lock_mismatches(
        lock,
        expected,
        chain=chain,
        min_confirmations=min_confirmations,
        now_height=now_height,
        min_blocks_left=min_blocks_left,
    )
    if problems:
        reason, detail = problems[0]
        raise LockMismatchError(reason.value, detail)


def _hex(value: bytes | None) -> str:
    return "native" if value is None else value.hex()


# --- the seam ----------------------------------------------------------------------------------


class ChainAdapter(ABC):
    """Base class of every chain adapter. Subclasses implement the abstract methods.

    ``name`` is the entry-point name the adapter is registered under.
    """

    name: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def from_config(cls, config: Mapping[str, Any]) -> ChainAdapter:
        """Build the adapter (node URL, keys, data dir, ...) from a plain mapping. Building it
        twice from the same config must give an adapter that sees the same locks."""

    # chain identity and headers
    @abstractmethod
    def info(self) -> ChainInfo: ...

    @abstractmethod
    def tip(self) -> Tip: ...

    @abstractmethod
    def headers(self, start_height: int, count: int) -> list[bytes]:
        """Raw headers of blocks ``start_height .. start_height + count - 1`` (fewer at tip)."""

    # our own keys and funds
    @abstractmethod
    def our_key(self) -> bytes:
        """Our public claim/refund key, of kind ``info().key_kind``."""

    @abstractmethod
    def balance(self, asset_id: bytes | None = None) -> int:
        """Spendable balance of our keys in the smallest unit (confirmed funds)."""

    @abstractmethod
    def fee_estimate(self) -> FeeEstimate:
        """The node's estimate, or the adapter's documented fallback (``source="fallback"``)."""

    # locks
    @abstractmethod
    def lock(self, terms: HtlcTerms) -> HtlcLock:
        """Build, sign and broadcast a lock from our funds. Returns it unconfirmed or mined."""

    @abstractmethod
    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        """Every lock on chain (and in the mempool) with this hashlock, oldest first."""

    @abstractmethod
    def get_lock(self, lock_id: str) -> HtlcLock:
        """The lock with ``lock_id`` as it stands now; :class:`LockNotFoundError` if unknown."""

    @abstractmethod
    def confirmations(self, lock_id: str) -> int:
        """Confirmations of the lock transaction (0 in the mempool)."""

    @abstractmethod
    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        """Proof that the (mined) lock transaction is in its block."""

    # spends
    @abstractmethod
    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        """Claim ``lock`` with ``preimage`` to our key (broadcast; not waited for)."""

    @abstractmethod
    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        """Refund ``lock`` to our key once its timelock allows (broadcast; not waited for)."""

    @abstractmethod
    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        """The claim or refund of ``lock`` seen on chain or in the mempool, else None."""

    def find_preimage(self, lock: HtlcLock) -> bytes | None:
        """The preimage revealed by a claim of ``lock``, or None if not claimed (yet)."""
        spend = self.find_spend(lock)
        return spend.preimage if spend is not None else None

    def check_lock(
        self,
        lock: HtlcLock,
        expected: HtlcTerms,
        min_confirmations: int,
        now_height: int,
        *,
        min_blocks_left: int = 1,
    ) -> None:
        """Raise :class:`LockMismatchError` with a typed reason unless ``lock`` matches."""
        check_lock_terms(
            lock,
            expected,
            chain=self.info().chain,
            min_confirmations=min_confirmations,
            now_height=now_height,
            min_blocks_left=min_blocks_left,
        )

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release sockets/files. Optional."""
