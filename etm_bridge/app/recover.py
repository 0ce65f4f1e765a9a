"""Rebuilding the user's swaps from the wallet's seed and the chains alone (``swap recover``).

Every swap secret is the seed's swap number ``i`` (:func:`etm_bridge.wallet.derive.swap_secret`),
so with the database lost the secrets are not: this walks ``i = 0, 1, ...`` until ``gap``
indexes in a row show nothing on any chain (a crash between taking an index and recording its
swap, or a refused intent, leaves a gap), and for each hashlock asks

- ETM (the node API): the native HTLC with that hashlock (``GET /api/exchange/htlcs``) and the
  open pool swap that owns it (``GET /api/exchange/swaps?hashlock=``: direction, asset, the
  quote's ``amount_out``);
- every configured foreign chain: its locks with that hashlock (the adapter's
  ``find_locks``, each chain's own way: an index of its scripts from the adapter's start
  height, or a contract's events).

and rebuilds the user's record the watcher needs, terms as the chains state them:

- **swap in** (foreign -> ETM): our foreign lock (refunded to our key, claimed by the pool's
  claim key; the largest such, on the chain of the pool ETM names if it names one: anyone may
  add decoy locks with a public hashlock, :func:`our_pool_lock`) gives the long leg exactly;
  the counter leg is the pool's ETM HTLC to our address, its amount the open swap's
  ``amount_out`` (else the HTLC's, else 1: before the proof, the intent recorded on ETM still
  pins the minimum the exchange pays); our locks on several chains with ETM naming none are
  reported, not guessed;
- **swap out** (ETM -> foreign): our open ETM HTLC and its pool swap give both legs; the depth
  asked of the operator's lock is the node's quote of the same amount now.

An index where ETM shows only our live bonded intent (a pool swap in lost before its lock)
is not rebuilt: the intent is cancelled, its bond back less the charge for the blocks held
(``intent_cancelled``).

A rebuilt record starts in ``created`` with its lock deadline already past, so the watcher
never locks anew: it observes the locks that exist and goes on (proof, claim, refund) from the
chains' state. A swap already in the database is left alone. The swap index is raised past
every index found, so no new swap reuses a secret. A swap out that ended on ETM (claimed or
refunded) needs nothing and is reported. A hashlock that is no pool swap of ours goes to
:mod:`.recover_direct` (direct swaps: refund only until the secret is out) with every
configured chain's locks, ETM's included; without ETM configured only direct swaps exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..adapter import ChainAdapter
from ..chain.address import decode_address
from ..errors import ConfigError, EtmBridgeError, SwapError, SwapNotFoundError, TxRejectedError
from ..hashlock import blocks_for_seconds, sha256
from ..observations import HtlcLock
from ..swaps.core.fsm import Role, SwapDirection
from ..swaps.core.ids import user_swap_id
from ..swaps.core.model import LegTerms, SwapRecord, SwapTerms
from ..swaps.core.policy import ETM_REVEAL_MARGIN_S, REVEAL_MARGIN_S
from ..swaps.core.pool_terms import PoolInfo, pool_leg_key
from .context import AppContext
from .recover_direct import REVEAL_MARGIN_BLOCKS, lock_rank, plan_direct

#: Indexes in a row with nothing on any chain before the scan stops.
DEFAULT_GAP = 20


@dataclass(frozen=True)
class Found:
    """One swap index with something on a chain: what was done about it."""

    index: int
    swap_id: str
    direction: str  # "foreign_to_etm", "etm_to_foreign" or "unknown"
    outcome: str  # "rebuilt", "in_database", "ended", "not_rebuilt" or "intent_cancelled"
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "swap_id": self.swap_id, "direction": self.direction,
                "outcome": self.outcome, "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class Recovery:
    """What ``swap recover`` found: each index with evidence, how far it looked, the index
    new swaps start from."""

    found: tuple[Found, ...]
    scanned: int
    next_index: int

    def to_json(self) -> dict[str, Any]:
        return {"found": [f.to_json() for f in self.found], "scanned": self.scanned,
                "next_index": self.next_index}  # fmt: skip


@dataclass(frozen=True)
class _Evidence:
    htlc: Mapping[str, Any] | None  # the ETM HTLC with the hashlock, if any
    open_swap: Mapping[str, Any] | None  # its open pool swap, if any
    locks: Mapping[str, list[Any]]  # foreign leg name -> its locks with the hashlock
    intent: Mapping[str, Any] | None = None  # our bonded intent, asked only if nothing else

    @property
    def any(self) -> bool:
        return self.htlc is not None or any(self.locks.values()) or self.intent is not None


class _Scan:
    """One recovery: the context, the foreign pooled legs, the pools (read once each)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.etm_name = ctx.etm_name_or_none()  # None: direct swaps only (no ETM, no pools)
        self.legs = {n: ctx.foreign(n).ticker for n in ctx.chains() if self._pooled(n)}
        others = [n for n in ctx.chains() if n != self.etm_name]
        self.adapters: dict[str, ChainAdapter] = ctx.adapters(others)  # pooled or not
        self._pools: dict[str, PoolInfo] = {}
        self.now = ctx.now()
        if self.etm_name is not None:
            self.node = ctx.node()
            self.etm = ctx.etm_leg()
            self.our_etm20 = self.etm.our_key()

    def _pooled(self, name: str) -> bool:
        if self.etm_name is None or name == self.etm_name:
            return False
        try:
            self.ctx.foreign(name)
        except ConfigError:
            return False
        return True

    def pool(self, asset: str) -> PoolInfo:
        if asset not in self._pools:
            self._pools[asset] = self.ctx.exchange().pool_info(asset)
        return self._pools[asset]

    def evidence(self, hashlock: bytes) -> _Evidence:
        locks = {name: a.find_locks(hashlock) for name, a in self.adapters.items()}
        if self.etm_name is None:
            return _Evidence(None, None, locks)
        htlcs = self.node.htlcs(hashlock)
        htlc = htlcs[0] if htlcs else None
        opened = self.node.open_swaps(hashlock=hashlock) if htlc is not None else []
        intent = None
        if htlc is None and not any(locks.values()):  # a swap in lost before its lock?
            intent = self.ctx.exchange().swap_intent(hashlock)
        return _Evidence(htlc, opened[0] if opened else None, locks, intent)

    def rebuild(
        self, index: int, preimage: bytes, seen: _Evidence
    ) -> tuple[Found, SwapRecord | None] | list[tuple[Found, SwapRecord | None]]:
        hashlock = sha256(preimage)
        swap_id = user_swap_id(hashlock)
        opened = seen.open_swap
        if seen.intent is not None:  # only our intent: nothing of ours was locked
            return self._intent_only(index, swap_id, hashlock, seen.intent)
        ours = {name: [lk for lk in locks if lk.terms.refund_key == self.adapters[name].our_key()]
                for name, locks in seen.locks.items()}  # fmt: skip
        if opened is not None and opened.get("direction") == "etm_to_asset":
            return self._swap_out(index, swap_id, preimage, opened)
        pooled = {name: lock for name, locks in ours.items()
                  if (lock := our_pool_lock(locks, self._claim_key(name))) is not None}  # fmt: skip
        if opened is not None:  # ETM proved a lock of this asset: the swap is on its chain
            pooled = {n: lk for n, lk in pooled.items() if self.legs[n] == opened.get("asset")}
        if len(pooled) > 1:
            where = ", ".join(f"{n} lock {lk.lock_id}" for n, lk in sorted(pooled.items()))
            return Found(index, swap_id, "foreign_to_etm", "not_rebuilt",
                         f"locks of ours with this hashlock on several chains ({where}) and ETM "
                         "names none: refund them after their timelocks"), None  # fmt: skip
        if pooled:
            [(chain, lock)] = pooled.items()
            return self._swap_in(index, swap_id, preimage, chain, lock, seen)
        direct = self._direct(index, swap_id, preimage, seen)
        if direct:
            return direct
        if seen.htlc is not None and seen.htlc.get("sender") == self.etm.address():
            status = seen.htlc.get("status")
            return Found(index, swap_id, "etm_to_foreign", "ended",
                         f"our ETM lock is {status}: nothing left to do"), None  # fmt: skip
        where = ", ".join(n for n, locks in seen.locks.items() if locks) or "ETM"
        return Found(index, swap_id, "unknown", "not_rebuilt",
                     f"a lock with this hashlock on {where} is not ours (no key of ours refunds "
                     "it): nothing to recover"), None  # fmt: skip

    def _intent_only(self, index: int, swap_id: str, hashlock: bytes,
                     intent: Mapping[str, Any]) -> tuple[Found, None]:  # fmt: skip
        """A pool swap in lost after its bonded intent, before its lock (review x6b): cancel
        the intent, so its bond comes back less the charge for the blocks held instead of
        going to the LPs at expiry. Left alone if the swap is in the database (``watch``
        locks it) or the intent expired (its bond is the LPs')."""
        what = f"our bonded intent for {intent.get('asset')} (bond {intent.get('bond')})"
        try:
            self.ctx.store().get(swap_id)
            return Found(index, swap_id, "foreign_to_etm", "in_database", what), None
        except SwapNotFoundError:
            pass
        if int(intent.get("expiry_height", 0)) <= self.etm.tip().height:
            return Found(index, swap_id, "foreign_to_etm", "ended",
                         f"{what} expired: its bond is the pool's LPs'"), None  # fmt: skip
        try:
            self.ctx.exchange().cancel_intent(hashlock)
        except TxRejectedError as exc:
            return Found(index, swap_id, "foreign_to_etm", "not_rebuilt",
                         f"{what}: ETM refused to cancel it ({exc.reason}: {exc.detail}); "
                         "run swap recover again"), None  # fmt: skip
        return Found(index, swap_id, "foreign_to_etm", "intent_cancelled",
                     f"{what}, nothing locked: cancelled, its bond back less the charge for "
                     "the blocks held"), None  # fmt: skip

    def _direct(self, index: int, swap_id: str, preimage: bytes,
                seen: _Evidence) -> list[tuple[Found, SwapRecord | None]]:  # fmt: skip
        """The direct swap(s) of ours with this hashlock (:mod:`.recover_direct`): one per chain
        holding a lock of ours; empty when none does."""
        locks: dict[str, Sequence[HtlcLock]] = dict(seen.locks)
        keys = {name: a.our_key() for name, a in self.adapters.items()}
        if self.etm_name is not None:
            keys[self.etm_name] = self.our_etm20
            locks[self.etm_name] = self.etm.find_locks(sha256(preimage)) if seen.htlc else []
        out: list[tuple[Found, SwapRecord | None]] = []
        for n, plan in enumerate(plan_direct(locks, keys)):
            sid = swap_id if n == 0 else f"{swap_id}-{re.sub(r'[^0-9A-Za-z_-]', '_', plan.tag)}"
            if plan.legs is None:
                out.append((Found(index, sid, "etm_to_foreign", plan.outcome, plan.detail), None))
                continue
            user, counter = plan.legs
            terms = self._terms(sid, sha256(preimage), SwapDirection.ETM_TO_FOREIGN, user,
                                counter, REVEAL_MARGIN_BLOCKS)  # fmt: skip
            out.append(self._record(index, terms, preimage, plan.detail))
        return out

    def _claim_key(self, leg: str) -> bytes | None:
        """The claim key of the pool of ``leg``'s asset (None: no such pool)."""
        if leg not in self.legs:
            return None
        try:
            return self.pool(self.legs[leg]).claim_key
        except SwapError:
            return None

    def _terms(self, swap_id: str, hashlock: bytes, direction: SwapDirection, user: LegTerms,
               counter: LegTerms, margin: int) -> SwapTerms:  # fmt: skip
        # the lock deadline is already past: the watcher never makes a new lock for it
        then = self.now - 1
        return SwapTerms(swap_id, direction, hashlock, user, counter, then, then, margin)

    def _swap_in(self, index: int, swap_id: str, preimage: bytes, leg: str, lock: Any,
                 seen: _Evidence) -> tuple[Found, SwapRecord | None]:  # fmt: skip
        asset = self.legs[leg]
        pool = self.pool(asset)
        t = lock.terms
        if t.claim_key != pool.claim_key:
            why = (f"our {leg} lock {lock.lock_id} pays {t.claim_key.hex()}, not the {asset} "
                   "pool: a direct swap, which recover does not rebuild")  # fmt: skip
            return Found(index, swap_id, "foreign_to_etm", "not_rebuilt", why), None
        if seen.open_swap is not None:
            min_out = int(seen.open_swap["amount_out"])
        elif seen.htlc is not None:
            min_out = int(seen.htlc["amount"])
        else:
            min_out = 1  # before the proof: the intent on ETM pins the minimum
        user = LegTerms(leg, t.amount, t.claim_key, t.refund_key, t.timelock_height,
                        max(1, pool.min_confirmations), t.asset_id)  # fmt: skip
        counter = LegTerms(self.ctx.etm_name(), min_out, self.our_etm20, pool_leg_key(asset), 0, 1)
        margin = blocks_for_seconds(ETM_REVEAL_MARGIN_S, self.etm.info().block_time_s)
        terms = self._terms(swap_id, sha256(preimage), SwapDirection.FOREIGN_TO_ETM, user,
                            counter, margin)  # fmt: skip
        detail = f"our {leg} lock {lock.lock_id} ({lock.state.value})"
        if seen.htlc is not None:
            detail += f"; ETM HTLC {seen.htlc['htlc_id']} ({seen.htlc['status']})"
        return self._record(index, terms, preimage, detail)

    def _swap_out(self, index: int, swap_id: str, preimage: bytes,
                  opened: Mapping[str, Any]) -> tuple[Found, SwapRecord | None]:  # fmt: skip
        asset = str(opened["asset"])
        leg = next((n for n, a in self.legs.items() if a == asset), None)
        if leg is None or decode_address(str(opened["user"])) != self.our_etm20:
            return Found(index, swap_id, "etm_to_foreign", "not_rebuilt",
                         f"the {asset} pool swap with this hashlock is not ours, or no "
                         f"configured chain carries {asset}"), None  # fmt: skip
        pool = self.pool(asset)
        amount_in, amount_out = int(opened["amount_in"]), int(opened["amount_out"])
        try:
            quote = self.ctx.exchange().quote(asset, "etm_to_asset", amount_in)
            depth = int(quote["depth"]["confirmations"])
        except (EtmBridgeError, KeyError, TypeError):
            depth = max(1, pool.min_confirmations)
        adapter = self.adapters[leg]
        user = LegTerms(self.ctx.etm_name(), amount_in, pool_leg_key(asset), self.our_etm20,
                        int(opened["expiry_height"]), 1)  # fmt: skip
        counter = LegTerms(leg, amount_out, adapter.our_key(), pool.claim_key, 0, max(1, depth))
        margin = blocks_for_seconds(REVEAL_MARGIN_S, adapter.info().block_time_s)
        terms = self._terms(swap_id, sha256(preimage), SwapDirection.ETM_TO_FOREIGN, user,
                            counter, margin)  # fmt: skip
        return self._record(index, terms, preimage, f"our ETM lock {opened['htlc_id']} (open)")

    def _record(self, index: int, terms: SwapTerms, preimage: bytes,
                detail: str) -> tuple[Found, SwapRecord | None]:  # fmt: skip
        direction = terms.direction.value
        try:
            self.ctx.store().get(terms.swap_id)
            return Found(index, terms.swap_id, direction, "in_database", detail), None
        except SwapNotFoundError:
            pass
        record = SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=self.now)
        return Found(index, terms.swap_id, direction, "rebuilt", detail), record


def our_pool_lock(locks: Sequence[HtlcLock], claim_key: bytes | None) -> HtlcLock | None:
    """Of our locks with a swap's hashlock on one chain (refunded to our key), the one to
    rebuild the swap in from: claimed by the chain's pool (``claim_key``), the largest.

    Anyone may lock coins with a hashlock once it is public, refunded to our (public) key: only
    the first lock used to be read, so a decoy put first (a dust lock claimed by another key,
    or a smaller one claimed by the pool) made recover skip the swap ("a direct swap") or
    follow the decoy, and the watcher never refunded our real lock (review x5). A decoy larger
    than ours in the chain's own coin is the attacker's gift: following it loses us nothing.
    Amounts of different assets do not compare: a lock of a worthless token the attacker made
    (``asset_id``) with a huge amount was "the largest" and hid our real lock (review x6a), so
    locks of the chain's own coin come first, :func:`lock_rank`."""
    mine = [lock for lock in locks if claim_key is not None and lock.terms.claim_key == claim_key]
    return max(mine, key=lock_rank, default=None)


def recover_swaps(ctx: AppContext, *, gap: int = DEFAULT_GAP) -> Recovery:
    """Find the wallet's pool swaps on the chains and write the open ones back to the swap
    database (see the module docstring); ``watch`` then finishes them."""
    if gap < 1:
        raise ConfigError(f"--gap must be at least 1, got {gap}")
    derive = getattr(ctx.wallet(), "unsafe_swap_secret", None)
    if derive is None:
        raise ConfigError("swap recover needs a wallet keystore (its seed makes the secrets)")
    scan = _Scan(ctx)
    store = ctx.store()
    found: list[Found] = []
    index, misses = 0, 0
    while misses < gap:
        preimage = derive(index)
        seen = scan.evidence(sha256(preimage))
        if seen.any:
            misses = 0
            rebuilt = scan.rebuild(index, preimage, seen)
            for item, record in rebuilt if isinstance(rebuilt, list) else [rebuilt]:
                if record is not None:
                    store.create(record)
                found.append(item)
        else:
            misses += 1
        index += 1
    if found:
        store.raise_swap_index(found[-1].index + 1)
    return Recovery(tuple(found), index, store.next_swap_index())
