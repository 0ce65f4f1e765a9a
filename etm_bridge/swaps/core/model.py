"""The persisted swap record: terms, public keys, the preimage, intents and block dependencies.

Everything here is a frozen dataclass that validates itself when built; a change is a new
record (``dataclasses.replace``) with ``version`` bumped, so the store can refuse a stale write.

- :class:`LegTerms` / :class:`SwapTerms`: what both sides agreed. Amounts are ints in the leg
  chain's smallest unit; keys are public (the chain's key kind); timelocks are absolute heights.
- :class:`Intent` / :class:`IntentResult`: every transaction the engine broadcasts is written as
  an intent (with an idempotency key) *before* the broadcast and completed with a result after.
  An intent without a result after a crash is resolved from the chain (see ``policy``).
- :class:`BlockRef`: a block the current state depends on, fingerprinted by the sha256 of its
  raw header (works for every chain without knowing its hash function). If the chain's header
  at that height changes, the block was reorganised out and the matching reorg event fires.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ...adapter import HtlcTerms
from ...errors import ValidationError
from ...hashlock import check_preimage, require_hashlock
from .fsm import Role, SwapDirection, SwapState

_ID_RE = re.compile(r"^[0-9a-zA-Z_-]{1,64}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


def _int(name: str, value: object, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValidationError(f"{name} must be an int >= {minimum}, got {value!r}")


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")


class ActionKind(StrEnum):
    """What the engine can do. Every kind but WAIT broadcasts something."""

    LOCK_USER_LEG = "lock_user_leg"  # user: lock the long leg
    LOCK_COUNTER_LEG = "lock_counter_leg"  # operator (ETM->foreign): lock the short leg
    RELAY_HEADERS = "relay_headers"  # feed foreign headers to the ETM relay
    SUBMIT_PROOF = "submit_proof"  # SPV proof of the user's lock to ETM (foreign->ETM)
    CLAIM_COUNTER = "claim_counter"  # user: claim the counter lock -- reveals the secret
    CLAIM_USER_LOCK = "claim_user_lock"  # operator: claim the user's lock with the secret
    REFUND_USER_LOCK = "refund_user_lock"  # user: refund the long leg after its timelock
    REFUND_COUNTER = "refund_counter"  # operator: refund the short leg after its timelock
    CANCEL_INTENT = "cancel_intent"  # user (pool swap in): release the bonded ETM intent
    WAIT = "wait"


class Outcome(StrEnum):
    BROADCAST = "broadcast"  # the node accepted it
    FOUND_ON_CHAIN = "found_on_chain"  # recovered: the chain shows its effect
    REJECTED = "rejected"  # the node refused it (reason in detail); may be retried later


class DepKind(StrEnum):
    """Which part of a swap's state a block supports."""

    USER_LOCK = "user_lock"
    PROOF = "proof"
    COUNTER_LOCK = "counter_lock"
    CLAIM = "claim"  # the claim of the user's lock
    REFUND = "refund"


@dataclass(frozen=True)
class LegTerms:
    """One leg. For the counter leg ``amount`` is the minimum the user accepts and
    ``timelock_height`` the earliest acceptable timelock (0: set by the counter-locker, only the
    reveal guard applies)."""

    chain: str
    amount: int
    claim_key: bytes
    refund_key: bytes
    timelock_height: int
    confirmations: int = 1  # required before acting on a lock of this leg
    asset_id: bytes | None = None
    #: The one lock of this leg to follow, when it is known in advance: a pool swap in's user
    #: lock, which ETM proved (its adapter lock id). Any other lock with the same hashlock and
    #: terms (a decoy the user can refund early) is ignored.
    lock_id: str | None = None

    def __post_init__(self) -> None:
        _text("chain", self.chain)
        if self.lock_id is not None:
            _text("lock_id", self.lock_id)
        _int("amount", self.amount, 1)
        _int("timelock_height", self.timelock_height)
        _int("confirmations", self.confirmations, 1)
        for name in ("claim_key", "refund_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or not 20 <= len(value) <= 65:
                raise ValidationError(f"{name} must be 20..65 bytes of public key or address")

    def htlc_terms(self, hashlock: bytes) -> HtlcTerms:
        """The adapter-level terms a lock of this leg must satisfy."""
        return HtlcTerms(
            amount=self.amount,
            hashlock=hashlock,
            claim_key=self.claim_key,
            refund_key=self.refund_key,
            timelock_height=max(1, self.timelock_height),
            asset_id=self.asset_id,
        )


@dataclass(frozen=True)
class SwapTerms:
    """What both sides agreed when the swap was created."""

    swap_id: str
    direction: SwapDirection
    hashlock: bytes
    user_leg: LegTerms  # the long leg, locked by the user
    counter_leg: LegTerms  # the short leg, locked by the operator / the exchange contract
    created_at_s: int
    lock_deadline_s: int  # the user must lock before this (unix s), else the swap is cancelled
    reveal_margin_blocks: int  # counter-chain blocks that must remain when the secret is revealed

    def __post_init__(self) -> None:
        if not isinstance(self.swap_id, str) or not _ID_RE.match(self.swap_id):
            raise ValidationError(f"swap_id must be 1..64 of [0-9a-zA-Z_-], got {self.swap_id!r}")
        if not isinstance(self.direction, SwapDirection):
            raise ValidationError(f"direction must be a SwapDirection, got {self.direction!r}")
        require_hashlock(self.hashlock)
        _int("created_at_s", self.created_at_s)
        _int("lock_deadline_s", self.lock_deadline_s, self.created_at_s)
        _int("reveal_margin_blocks", self.reveal_margin_blocks, 1)
        if self.user_leg.chain == self.counter_leg.chain:
            raise ValidationError(f"both legs are on {self.user_leg.chain!r}: they must differ")


@dataclass(frozen=True)
class IntentResult:
    outcome: Outcome
    txid: str | None
    detail: str
    at_s: int

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, Outcome):
            raise ValidationError(f"outcome must be an Outcome, got {self.outcome!r}")
        _int("at_s", self.at_s)


@dataclass(frozen=True)
class Intent:
    """A broadcast we are about to make (written first) and, once known, its result."""

    key: str  # idempotency key: "<swap_id>:<kind>:<attempt>"
    kind: ActionKind
    chain: str
    created_at_s: int
    result: IntentResult | None = None

    def __post_init__(self) -> None:
        _text("key", self.key)
        if not isinstance(self.kind, ActionKind) or self.kind is ActionKind.WAIT:
            raise ValidationError(f"intent kind must be a broadcasting ActionKind: {self.kind!r}")
        _text("chain", self.chain)
        _int("created_at_s", self.created_at_s)


@dataclass(frozen=True)
class BlockRef:
    """A block the state depends on: (chain, height) and sha256 of its raw header."""

    kind: DepKind
    chain: str
    height: int
    header_sha256_hex: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, DepKind):
            raise ValidationError(f"kind must be a DepKind, got {self.kind!r}")
        _text("chain", self.chain)
        _int("height", self.height)
        if not _HEX64_RE.match(self.header_sha256_hex):
            raise ValidationError("header_sha256_hex must be 64 lowercase hex digits")


@dataclass(frozen=True)
class SwapRecord:
    """One swap as this engine (in ``role``) sees it. ``preimage`` is known from the start by
    the user and learned by the operator when the counter lock is claimed."""

    terms: SwapTerms
    role: Role
    state: SwapState = SwapState.CREATED
    preimage: bytes | None = None
    failure: str | None = None  # typed reason when FAILED
    intents: tuple[Intent, ...] = ()
    depends_on: tuple[BlockRef, ...] = ()
    version: int = 0
    updated_at_s: int = 0
    notes: tuple[str, ...] = field(default=())  # last policy explanation, for `swap explain`
    #: The user's own fee rate (``swap start --fee-rate``, in the user leg chain's fee unit) for
    #: our lock and refund there; None: the adapter's estimate. Bumps go above it when due.
    fee_rate: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            raise ValidationError(f"role must be a Role, got {self.role!r}")
        if not isinstance(self.state, SwapState):
            raise ValidationError(f"state must be a SwapState, got {self.state!r}")
        if self.preimage is not None:
            check_preimage(self.preimage, self.terms.hashlock)
        _int("version", self.version)
        if self.fee_rate is not None:
            _int("fee_rate", self.fee_rate, 1)
        keys = [i.key for i in self.intents]
        if len(keys) != len(set(keys)):
            raise ValidationError(f"swap {self.terms.swap_id}: duplicate intent keys")

    @property
    def swap_id(self) -> str:
        return self.terms.swap_id

    def intent(self, key: str) -> Intent | None:
        return next((i for i in self.intents if i.key == key), None)

    def intents_of(self, kind: ActionKind) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.kind is kind)

    def intents_of_chain(self, chain: str) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.chain == chain)

    def pending_intents(self) -> tuple[Intent, ...]:
        """Intents written but without a result: a crash may have happened in between."""
        return tuple(i for i in self.intents if i.result is None)

    def ref(self, kind: DepKind) -> BlockRef | None:
        return next((r for r in self.depends_on if r.kind is kind), None)

    def with_intent(self, intent: Intent) -> SwapRecord:
        if self.intent(intent.key) is not None:
            raise ValidationError(f"intent {intent.key} already recorded")
        return replace(self, intents=(*self.intents, intent), version=self.version + 1)

    def with_result(self, key: str, result: IntentResult) -> SwapRecord:
        found = self.intent(key)
        if found is None:
            raise ValidationError(f"swap {self.swap_id}: no intent {key}")
        done = replace(found, result=result)
        intents = tuple(done if i.key == key else i for i in self.intents)
        return replace(self, intents=intents, version=self.version + 1)

    def with_refs(self, refs: tuple[BlockRef, ...]) -> SwapRecord:
        return replace(self, depends_on=refs, version=self.version + 1)
