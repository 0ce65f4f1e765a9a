"""Which ETM endpoints a client may read from: a pure verdict over what each endpoint says.

A client that lists several ETM nodes (``[etm] urls``) must not believe the one that lies or
lags. :func:`assess` takes one :class:`EndpointView` per endpoint (reachable?, its height, its
finalized height, whether it is syncing, and the id of its block at the *reference height*)
and returns an :class:`Assessment`:

* the **reference height** is the highest finalized height that a strict majority of the
  answering endpoints reach (:func:`reference_height`): one endpoint claiming a higher (fake)
  finalized block cannot move it, since the others do not reach it;
* the **canonical block** is the block id a strict majority of the answering endpoints hold at
  that height; an endpoint with another block there (or none when its tip is above it) is
  ``minority_fork``. Without such a majority (a 2|2 split of what the endpoints say about a
  final block) no endpoint is trusted (``no_majority``): something is badly wrong and reading
  from either side could be reading a lie;
* the **canonical tip** is the height a strict majority of the canonical endpoints reach; an
  endpoint more than ``max_lag_blocks`` below it is ``behind`` (stale reads would make the
  engine think it has more time than it has), more than ``max_lag_blocks`` above it is
  ``ahead`` (one endpoint claiming a tip nobody else has: a lie, or a fork nobody confirms);
* ``syncing`` (the node says so: it refuses chain reads) and ``down`` (no answer) are never
  read from and take no part in the votes.

What this cannot catch: a majority of the listed endpoints lying together, and a single
trusted endpoint lying in the answer to one read (a transaction's status, an HTLC's state)
while it reports the canonical chain. docs/network.md ("The client's trust model") says what
that means for a user.

Pure: no I/O (:mod:`~etm_bridge.etm_client.endpoints` gathers the views).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ConfigError


class Verdict(StrEnum):
    TRUSTED = "trusted"
    MINORITY_FORK = "minority_fork"
    BEHIND = "behind"
    AHEAD = "ahead"
    SYNCING = "syncing"
    DOWN = "down"
    NO_MAJORITY = "no_majority"


@dataclass(frozen=True)
class CrossCheckPolicy:
    """``max_lag_blocks``: how far an endpoint's tip may be from the canonical tip and still be
    read from; ``refresh_s``: the assessment is redone at most this often (and after any read
    error)."""

    max_lag_blocks: int = 5
    refresh_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_lag_blocks < 0 or self.refresh_s < 0:
            raise ConfigError("max_lag_blocks and refresh_s must be >= 0")


@dataclass(frozen=True)
class EndpointStatus:
    """What one endpoint's ``/api/status`` said (``reachable`` False: it did not answer, and
    ``error`` says why)."""

    url: str
    reachable: bool
    height: int = 0
    finalized_height: int = 0
    syncing: bool = False
    error: str = ""

    @property
    def votes(self) -> bool:
        """Takes part in the majority votes (answers and serves chain reads)."""
        return self.reachable and not self.syncing


@dataclass(frozen=True)
class EndpointView:
    """An endpoint's status and the id of its block at the reference height (None: it has no
    block there, or the read failed)."""

    status: EndpointStatus
    ref_id: str | None = None


@dataclass(frozen=True)
class EndpointVerdict:
    url: str
    verdict: Verdict
    detail: str
    height: int | None = None
    finalized_height: int | None = None

    @property
    def trusted(self) -> bool:
        return self.verdict is Verdict.TRUSTED

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "verdict": self.verdict.value,
            "detail": self.detail,
            "height": self.height,
            "finalizedHeight": self.finalized_height,
        }


@dataclass(frozen=True)
class Assessment:
    """The verdict on every endpoint, in the order they were listed."""

    verdicts: tuple[EndpointVerdict, ...]
    reference_height: int | None = None
    reference_id: str | None = None
    canonical_tip: int | None = None

    @property
    def trusted(self) -> tuple[str, ...]:
        """URLs that may be read from, in the user's order (the first is asked first)."""
        return tuple(v.url for v in self.verdicts if v.trusted)

    def verdict_of(self, url: str) -> EndpointVerdict:
        return next(v for v in self.verdicts if v.url == url)

    def describe(self) -> str:
        """One line per endpoint: ``url: verdict (detail)``; for error messages."""
        return "; ".join(f"{v.url}: {v.verdict.value} ({v.detail})" for v in self.verdicts)


def majority(count: int) -> int:
    """The least number that is a strict majority of ``count``."""
    return count // 2 + 1


def reference_height(statuses: Sequence[EndpointStatus]) -> int | None:
    """The highest finalized height a strict majority of the voting endpoints reach (None if
    none votes)."""
    finalized = sorted((s.finalized_height for s in statuses if s.votes), reverse=True)
    if not finalized:
        return None
    return finalized[majority(len(finalized)) - 1]


def _kth_highest(values: Sequence[int], k: int) -> int:
    return sorted(values, reverse=True)[k - 1]


def assess(
    views: Sequence[EndpointView], policy: CrossCheckPolicy, ref_height: int | None
) -> Assessment:
    """The verdicts (module docstring). ``ref_height`` is :func:`reference_height` of the
    statuses, at which each view's ``ref_id`` was read."""
    voters = [v for v in views if v.status.votes]
    if not voters or ref_height is None:
        detail = "no endpoint answered"
        return Assessment(tuple(_unvoted(v) or _verdict(v, Verdict.DOWN, detail) for v in views))
    need = majority(len(voters))
    ids = Counter(v.ref_id for v in voters if v.ref_id is not None)
    top = ids.most_common(1)
    if not top or top[0][1] < need:
        split = ", ".join(f"{i[:16]}... x{n}" for i, n in ids.most_common()) or "no block"
        detail = f"no majority on the final block at height {ref_height} ({split})"
        return Assessment(
            tuple(_unvoted(v) or _verdict(v, Verdict.NO_MAJORITY, detail) for v in views),
            ref_height,
        )
    ref_id = top[0][0]
    canonical = [v for v in voters if v.ref_id == ref_id]
    tip = _kth_highest([v.status.height for v in canonical], need)
    out = []
    for view in views:
        out.append(_unvoted(view) or _judge(view, policy, ref_height, ref_id, tip))
    return Assessment(tuple(out), ref_height, ref_id, tip)


def _verdict(view: EndpointView, verdict: Verdict, detail: str) -> EndpointVerdict:
    s = view.status
    if not s.reachable:
        return EndpointVerdict(s.url, verdict, detail)
    return EndpointVerdict(s.url, verdict, detail, s.height, s.finalized_height)


def _unvoted(view: EndpointView) -> EndpointVerdict | None:
    """The verdict of an endpoint that takes no part in the votes (down, syncing)."""
    s = view.status
    if not s.reachable:
        return _verdict(view, Verdict.DOWN, s.error or "no answer")
    if s.syncing:
        return _verdict(view, Verdict.SYNCING, f"the node is syncing at height {s.height}")
    return None


def _judge(
    view: EndpointView, policy: CrossCheckPolicy, ref_height: int, ref_id: str, tip: int
) -> EndpointVerdict:
    s = view.status
    if view.ref_id is not None and view.ref_id != ref_id:
        detail = (
            f"its block at the majority's final height {ref_height} is {view.ref_id[:16]}..., "
            f"the majority's is {ref_id[:16]}..."
        )
        return _verdict(view, Verdict.MINORITY_FORK, detail)
    if s.height < tip - policy.max_lag_blocks or view.ref_id is None:
        detail = (
            f"tip {s.height}, the majority's tip is {tip} (at most {policy.max_lag_blocks} "
            f"blocks behind are read from)"
        )
        return _verdict(view, Verdict.BEHIND, detail)
    if s.height > tip + policy.max_lag_blocks:
        detail = (
            f"claims tip {s.height}, the majority's tip is {tip}: a height no majority "
            "confirms is not read from"
        )
        return _verdict(view, Verdict.AHEAD, detail)
    return _verdict(view, Verdict.TRUSTED, f"tip {s.height}, final {s.finalized_height}")
