"""The harness the adapter conformance suite runs on, and its helpers (importable by third-party
suites): see :mod:`etm_bridge.testing.conformance`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etm_bridge.adapter import ChainAdapter, HtlcLock, HtlcTerms, InclusionProof, Payment
from etm_bridge.testing.proofs import verify_inclusion_proof


@dataclass
class CustodyKit:
    """A chain's test committee for the CUSTODY section: ``policy`` (the chain's key-policy
    encoding) of ``m`` of the members' ``secrets``; ``claim(lock, preimage, secrets)`` assembles
    the committee's claim of a swap-in lock to it from those members' signatures (the chain
    folder's assembler: raw bytes for ``custody_submit``); ``outpoint(lock)`` names the lock as
    ``custody_spends`` watches it."""

    policy: bytes
    m: int
    secrets: Sequence[bytes]
    claim: Callable[[HtlcLock, bytes, Sequence[bytes]], bytes]
    outpoint: Callable[[HtlcLock], bytes]


@dataclass
class ConformanceHarness:
    """What a chain gives the suite. ``amount`` must comfortably exceed fees.

    ``payment(counterparty)``: a payment to that adapter's own key that its ``balance()``
    shows once confirmed (for adapters with PAYMENTS); ``watch_config``: ``from_config``
    options without a secret, for ``balance_of`` (WATCH_ONLY_BALANCE)."""

    adapter: ChainAdapter
    counterparty: ChainAdapter
    mine: Callable[[int], None]
    reopen: Callable[[], ChainAdapter]
    amount: int
    unknown_lock_id: str
    asset_id: bytes | None = None
    timelock_blocks: int = 10
    verify_proof: Callable[[InclusionProof], None] = field(default=verify_inclusion_proof)
    payment: Callable[[ChainAdapter], Payment] | None = None
    watch_config: Mapping[str, Any] | None = None
    custody: CustodyKit | None = None


def terms_for(h: ConformanceHarness, locker: ChainAdapter, claimer: ChainAdapter,
              hashlock: bytes) -> HtlcTerms:  # fmt: skip
    """Terms of a lock by ``locker`` that ``claimer`` can claim, expiring in timelock_blocks."""
    return HtlcTerms(
        amount=h.amount,
        hashlock=hashlock,
        claim_key=claimer.our_key(),
        refund_key=locker.our_key(),
        timelock_height=locker.tip().height + h.timelock_blocks,
        asset_id=h.asset_id,
    )


def lock_and_mine(h: ConformanceHarness, locker: ChainAdapter, terms: HtlcTerms) -> HtlcLock:
    """Lock with ``locker``, mine one block, return the lock as the chain now shows it."""
    lock = locker.lock(terms)
    h.mine(1)
    return locker.get_lock(lock.lock_id)


def mine_to(h: ConformanceHarness, height: int, via: ChainAdapter | None = None) -> None:
    """Mine until the tip is at ``height`` (no-op if already there or above); ``via`` is the
    adapter that reads the tip (default ``h.adapter``; pass the reopened one after a restart)."""
    missing = height - (via or h.adapter).tip().height
    if missing > 0:
        h.mine(missing)
