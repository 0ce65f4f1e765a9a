"""The chain-adapter seam: :class:`ChainAdapter` and the frozen observations it returns.

A chain adapter is the whitepaper's "device driver": it turns a chain (an in-repository plugin, the
in-memory fake, a third party's) into what a swap needs and nothing more. Adapters are plugins
found through the ``etm_bridge.adapters`` entry-point group (:mod:`etm_bridge.adapters_registry`);
the core never imports one by name. Every adapter passes the same conformance suite
(:mod:`etm_bridge.testing.conformance`).

Rules every adapter follows:

- Amounts are ``int`` in the chain's smallest unit (its base unit, a token's base unit).
- Hashlocks are sha256, preimages exactly 32 bytes (:mod:`etm_bridge.hashlock`).
- Timelocks are **absolute block heights**; a refund is valid in a block whose height is
  strictly greater than the timelock (``hashlock.refund_allowed``), so it can be broadcast once
  ``tip().height >= timelock_height``.
- Keys are the chain's own kind, announced by ``info().key_kind``: e.g. 33-byte compressed
  secp256k1 public keys, or 20-byte account addresses. ``our_key()`` is the key the
  counterparty must put in a lock for us (claim key) and that we put in ours (refund key).
- State comes from the chain, not memory: an adapter re-created from the same config
  (:meth:`ChainAdapter.from_config`) finds its locks again with :meth:`find_locks`.
- ``claim`` / ``refund`` check the preimage / timelock locally first; ``unsafe_skip_checks=True``
  skips those local checks so tests can prove that the chain itself rejects a bad spend.
- Chain rejections raise :class:`~etm_bridge.errors.ChainError` subclasses (for RPC nodes,
  :class:`~etm_bridge.errors.RPCError` with the node's code; for contracts,
  :class:`~etm_bridge.errors.ContractRevertError`); an unknown lock raises
  :class:`~etm_bridge.errors.LockNotFoundError`.

Optional powers are **declared**, never guessed: an adapter lists them in ``CAPABILITIES``
(:class:`Capability`) and overrides their methods; the base class's defaults answer "none" (the
scanners) or raise :class:`~etm_bridge.errors.CapabilityError`. The registry refuses a class
that declares a capability without overriding its methods, or overrides them without declaring
it (:func:`capability_problems`), and the conformance suite runs one section per capability.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from .errors import CapabilityError, LockMismatchError, ValidationError
from .observations import (
    ChainInfo,
    FeeEstimate,
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    InclusionProof,
    KeyKind,
    LockState,
    MismatchReason,
    ObservedSpend,
    SpendKind,
    Tip,
)

__all__ = [
    "CAPABILITY_METHODS",
    "BumpMethod",
    "Capability",
    "ChainAdapter",
    "ChainInfo",
    "FeeEstimate",
    "HtlcLock",
    "HtlcSpend",
    "HtlcTerms",
    "InclusionProof",
    "KeyKind",
    "LockState",
    "MismatchReason",
    "ObservedSpend",
    "Payment",
    "PaymentStatus",
    "SpendFee",
    "SpendKind",
    "Tip",
    "capability_problems",
    "check_header_range",
    "check_lock_terms",
    "lock_mismatches",
]


class Capability(StrEnum):
    """An optional power of an adapter, declared in :attr:`ChainAdapter.CAPABILITIES`."""

    #: ``htlc_activity(start, end)``: the hashlocks of HTLCs made or spent in those blocks
    #: (lets the watcher examine only the swaps new blocks concern; docs/swaps.md)
    HTLC_ACTIVITY = "htlc_activity"
    #: ``watch_hashlock(h)``: told each tracked swap's hashlock (locks that hide theirs)
    WATCH_HASHLOCK = "watch_hashlock"
    #: ``inclusion_proof(lock_id)``: an SPV proof of a mined lock (what pool swaps in need)
    INCLUSION_PROOFS = "inclusion_proofs"
    #: ``pay``, ``payment_status``, ``payment_proof``: plain payments and their proofs (LP
    #: deposits)
    PAYMENTS = "payments"
    #: ``balance_of(config, key)`` (a classmethod): a key's balance without its secret
    WATCH_ONLY_BALANCE = "watch_only_balance"
    #: a trait, no method: a claim by another key is valid and pays the claim key (ETM HTLCs)
    CLAIMS_BY_ANYONE = "claims_by_anyone"
    #: ``spend_fee(lock, spend)``, ``bump_spend(lock, spend, rate, method)``: an unconfirmed
    #: claim or refund of ours re-issued at a higher fee rate (replacement or CPFP child), for
    #: chains with a fee market (the swap engine decides when: swaps/core/bumps.py)
    FEE_BUMPS = "fee_bumps"
    #: ``watch_policy(policy)``, ``custody_submit(raw)``, ``custody_status(ref)``,
    #: ``custody_outcome_proof(ref, item)``, ``custody_spends(outpoints, since_height)``:
    #: users' locks to a committee key policy and the committee's own spends (docs/custody.md)
    CUSTODY = "custody"


#: The methods an adapter declaring a capability overrides (a trait has none).
CAPABILITY_METHODS: Mapping[Capability, tuple[str, ...]] = {
    Capability.HTLC_ACTIVITY: ("htlc_activity",),
    Capability.WATCH_HASHLOCK: ("watch_hashlock",),
    Capability.INCLUSION_PROOFS: ("inclusion_proof",),
    Capability.PAYMENTS: ("pay", "payment_status", "payment_proof"),
    Capability.WATCH_ONLY_BALANCE: ("balance_of",),
    Capability.CLAIMS_BY_ANYONE: (),
    Capability.FEE_BUMPS: ("spend_fee", "bump_spend"),
    Capability.CUSTODY: (
        "watch_policy",
        "custody_submit",
        "custody_status",
        "custody_outcome_proof",
        "custody_spends",
    ),
}


class BumpMethod(StrEnum):
    """How an unconfirmed spend is re-issued at a higher fee rate."""

    #: a replacement of the spend itself (e.g. BIP125): same input, same destination,
    #: a higher fee; the old revision leaves the mempool
    REPLACE = "replace"
    #: child pays for parent: a new transaction spending the spend's own output (ours) to our
    #: key, paying enough that the package reaches the rate
    CPFP = "cpfp"


@dataclass(frozen=True)
class SpendFee:
    """What an unconfirmed spend of ours pays, and what a bump of it could do (FEE_BUMPS).

    ``rate`` is the effective rate of the live package (the spend and any CPFP children of
    ours) in the chain's fee unit, ``fee`` and ``vsize`` its totals; ``child_vsize`` the size a
    CPFP child would add; ``estimate`` the node's rate now; ``ceiling`` the highest rate the
    adapter ever pays (its configured maximum); ``methods`` the bump methods the node accepts,
    preferred first; ``value`` what the lock holds (fees are paid out of it)."""

    txid: str
    rate: int
    fee: int
    vsize: int
    child_vsize: int
    estimate: int
    ceiling: int
    value: int
    methods: tuple[BumpMethod, ...]

    def __post_init__(self) -> None:
        for name in ("rate", "fee", "vsize", "child_vsize", "estimate", "ceiling", "value"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"SpendFee.{name} must be an int >= 0, got {value!r}")
        if not all(isinstance(m, BumpMethod) for m in self.methods):
            raise ValidationError(f"SpendFee.methods must be BumpMethods, got {self.methods!r}")


@dataclass(frozen=True)
class Payment:
    """One output of a plain payment: ``destination`` in the chain's own form (an output
    script, an account address), ``amount`` in base units and ``data`` for chains whose
    payments carry some (a contract call's input)."""

    destination: bytes
    amount: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.destination, bytes) or not self.destination:
            raise ValidationError("a payment's destination must be non-empty bytes")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValidationError(f"a payment's amount must be an int >= 0, got {self.amount!r}")
        if not isinstance(self.data, bytes):
            raise ValidationError("a payment's data must be bytes")


@dataclass(frozen=True)
class PaymentStatus:
    """Where a payment is: its block on the best chain (None: not mined) and its depth."""

    block_height: int | None
    confirmations: int


# --- the lock check (pure) ---------------------------------------------------------------------


def _hex(value: bytes | None) -> str:
    return "native" if value is None else value.hex()


def _term_mismatches(got: HtlcTerms, want: HtlcTerms) -> list[tuple[MismatchReason, str]]:
    """Term-by-term differences, in the order a human would check them."""
    r = MismatchReason
    found = [
        (r.WRONG_ASSET, "asset_id", got.asset_id != want.asset_id),
        (r.WRONG_HASHLOCK, "hashlock", got.hashlock != want.hashlock),
        (r.WRONG_AMOUNT, "amount", got.amount < want.amount),  # overpaying is accepted
        (r.WRONG_CLAIM_KEY, "claim_key", got.claim_key != want.claim_key),
        (r.WRONG_REFUND_KEY, "refund_key", got.refund_key != want.refund_key),
        (r.TIMELOCK_TOO_SHORT, "timelock_height", got.timelock_height < want.timelock_height),
    ]
    result = []
    for reason, name, bad in found:
        if bad:
            have, need = getattr(got, name), getattr(want, name)
            if not isinstance(have, int):
                have, need = _hex(have), _hex(need)
            at_least = " at least" if isinstance(need, int) else ""
            result.append((reason, f"{name} {have}, expected{at_least} {need}"))
    return result


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
    r, timelock = MismatchReason, lock.terms.timelock_height
    confirmations = lock.confirmations_at(now_height)
    found = []
    if lock.chain != chain:
        found.append((r.WRONG_CHAIN, f"chain {lock.chain!r}, expected {chain!r}"))
    found += _term_mismatches(lock.terms, expected)
    if timelock - now_height < min_blocks_left:
        detail = f"timelock {timelock} is < {min_blocks_left} blocks after {now_height}"
        found.append((r.TIMELOCK_TOO_CLOSE, detail))
    if lock.state is not LockState.OPEN:
        found.append((r.ALREADY_SPENT, f"lock is {lock.state.value}"))
    if confirmations < min_confirmations:
        detail = f"{confirmations} confirmations, need {min_confirmations}"
        found.append((r.NOT_CONFIRMED, detail))
    return [(reason, f"lock {lock.lock_id}: {detail}") for reason, detail in found]


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


def check_header_range(start_height: int, count: int) -> None:
    """Raise :class:`ValidationError` unless both arguments of ``headers()`` are ints >= 0."""
    for name, value in (("start_height", start_height), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"{name} must be an int >= 0, got {value!r}")


# --- the seam ----------------------------------------------------------------------------------


class ChainAdapter(ABC):
    """Base class of every chain adapter. Subclasses implement the abstract methods.

    ``name`` is the entry-point name the adapter is registered under.
    """

    name: ClassVar[str] = ""
    #: The optional powers this adapter has (see :class:`Capability`).
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()
    #: The ``from_config`` options and their types (str, int, float, bool, pathlib.Path), which
    #: etm_bridge.config checks a ``[chains.<name>]`` table against; None: not declared, every
    #: key is passed through unchecked.
    CONFIG_KEYS: ClassVar[Mapping[str, type] | None] = None
    #: The wallet key that signs for this adapter (a keystore label) unless the chain's table
    #: says ``key = ...``, and the option its secret goes under unless ``secret_field = ...``.
    WALLET_KEY: ClassVar[str] = "etm"
    SECRET_FIELD: ClassVar[str] = "secret_hex"

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

    def finalized_height(self) -> int | None:
        """Height at or below which no block can be reorganised away, on chains with
        finality (the ETM chain's ``finalizedHeight``); None on chains with confirmations
        only (proof-of-work chains, an account chain's node without finality)."""
        return None

    def recent_block_time_s(self, blocks: int = 144) -> int | None:
        """The mean spacing of the last ``blocks`` blocks in seconds, from their header times,
        on chains whose block rate drifts (proof of work after a hash-rate drop); None where unknown
        or fixed. A pool operator sizes its timelock in blocks by the slower of this and
        ``info().block_time_s``: a lock sized at the nominal rate lasts longer when blocks
        come slowly, and can outlive the other leg's wall-clock deadline (review a11b)."""
        return None

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

    def scan_start_height(self) -> int:
        """Lowest block height whose locks and spends ``find_locks`` can see (0: all of them).
        Facts below it are invisible, which is not the same as absent from the chain."""
        return 0

    @abstractmethod
    def get_lock(self, lock_id: str) -> HtlcLock:
        """The lock with ``lock_id`` as it stands now; :class:`LockNotFoundError` if unknown."""

    @abstractmethod
    def confirmations(self, lock_id: str) -> int:
        """Confirmations of the lock transaction (0 in the mempool)."""

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

    @contextmanager
    def paying(self, rate: int | None) -> Iterator[None]:
        """Inside the block, our transactions pay the user's own fee ``rate`` (``--fee-rate``,
        in ``fee_estimate().rate_unit``) instead of the estimate; None: the estimate. An
        adapter that takes a rate overrides this and refuses one above its ceiling or below
        what its node relays; the default refuses any rate (the chain sets its own fees)."""
        if rate is not None:
            raise CapabilityError(
                f"the {self.name or type(self).__name__} adapter takes no fee rate "
                "(leave --fee-rate out for this chain)"
            )
        yield

    # --- optional capabilities (declared in CAPABILITIES) -------------------------------------

    @classmethod
    def supports(cls, capability: Capability) -> bool:
        return capability in cls.CAPABILITIES

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes] | None:
        """HTLC_ACTIVITY: the hashlocks of every HTLC made, claimed or refunded in blocks
        ``start_height..end_height`` (a superset is fine, a miss is not). None: not declared."""
        return None

    def watch_hashlock(self, hashlock: bytes) -> None:
        """WATCH_HASHLOCK: a swap with ``hashlock`` is tracked (for scanners that cannot see a
        lock's hashlock by themselves). Default: nothing to do."""
        return None

    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        """INCLUSION_PROOFS: proof that the (mined) lock transaction is in its block."""
        raise self._undeclared(Capability.INCLUSION_PROOFS)

    def pay(self, payments: Sequence[Payment]) -> str:
        """PAYMENTS: one transaction paying every payment from our funds (broadcast); its id."""
        raise self._undeclared(Capability.PAYMENTS)

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus:
        """PAYMENTS: where transaction ``txid`` is on the best chain (looked for from
        ``since_height`` up where the chain has no transaction index)."""
        raise self._undeclared(Capability.PAYMENTS)

    def payment_proof(self, txid: str, payment: Payment) -> InclusionProof:
        """PAYMENTS: proof that mined transaction ``txid`` makes ``payment`` (``item`` names
        its output or log)."""
        raise self._undeclared(Capability.PAYMENTS)

    def spend_fee(self, lock: HtlcLock, spend: HtlcSpend) -> SpendFee:
        """FEE_BUMPS: what the unconfirmed ``spend`` of ``lock`` (ours) pays now.
        :class:`~etm_bridge.errors.LockNotFoundError` if it is not pending any more."""
        raise self._undeclared(Capability.FEE_BUMPS)

    def bump_spend(
        self, lock: HtlcLock, spend: HtlcSpend, rate: int, method: BumpMethod
    ) -> HtlcSpend:
        """FEE_BUMPS: re-issue the unconfirmed ``spend`` of ``lock`` so that it pays ``rate``
        (never above ``spend_fee().ceiling``: ValidationError), every output to the same
        destination as the spend's own (our key); broadcast, not waited for. Returns the spend
        as it now stands (a replacement has a new txid; a CPFP child leaves it unchanged)."""
        raise self._undeclared(Capability.FEE_BUMPS)

    def watch_policy(self, policy: bytes) -> None:
        """CUSTODY: locks whose claim or refund side is the key ``policy`` (the chain's
        encoding of an m-of-n key policy) are found from now on."""
        raise self._undeclared(Capability.CUSTODY)

    def custody_submit(self, signed: bytes) -> str:
        """CUSTODY: send a committee spend (signed raw transaction); its id. Already in the
        mempool or the chain is success."""
        raise self._undeclared(Capability.CUSTODY)

    def custody_status(self, ref: str) -> PaymentStatus:
        """CUSTODY: where the committee spend ``ref`` is (LockNotFoundError if nowhere)."""
        raise self._undeclared(Capability.CUSTODY)

    def custody_outcome_proof(self, ref: str, item: int | None) -> InclusionProof:
        """CUSTODY: the inclusion proof of mined spend ``ref`` (``item`` e.g. an output)."""
        raise self._undeclared(Capability.CUSTODY)

    def custody_spends(self, watched: Sequence[bytes], since_height: int) -> list[ObservedSpend]:
        """CUSTODY: the transactions spending any of the ``watched`` outpoints (the chain's
        encoding), mined from ``since_height`` on or pending."""
        raise self._undeclared(Capability.CUSTODY)

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        """WATCH_ONLY_BALANCE: the confirmed balance of ``key`` (our key kind), read with
        ``config`` (``from_config``'s options without a secret)."""
        raise CapabilityError(f"the {cls.name or cls.__name__} adapter cannot read balances "
                              "without a secret")  # fmt: skip

    def _undeclared(self, capability: Capability) -> CapabilityError:
        return CapabilityError(
            f"the {self.name or type(self).__name__} adapter does not declare {capability.value}"
        )


def capability_problems(cls: type[ChainAdapter]) -> list[str]:
    """What is wrong with ``cls``'s declared capabilities: a declared capability whose methods
    are not overridden, or an overridden capability method that is not declared."""
    problems = []
    for capability, methods in CAPABILITY_METHODS.items():
        declared = capability in cls.CAPABILITIES
        overridden = [m for m in methods if _overrides(cls, m)]
        if declared and len(overridden) < len(methods):
            missing = ", ".join(m for m in methods if m not in overridden)
            problems.append(f"declares {capability.value} but does not implement {missing}")
        elif not declared and overridden:
            problems.append(
                f"implements {', '.join(overridden)} without declaring {capability.value} "
                "in CAPABILITIES"
            )
    return problems


def _overrides(cls: type[ChainAdapter], method: str) -> bool:
    """Whether a class below :class:`ChainAdapter` in ``cls``'s MRO defines ``method``."""
    owner = next((k for k in cls.__mro__ if method in vars(k)), ChainAdapter)
    return owner is not ChainAdapter
