"""``etm-bridge status`` (use case): the open swaps, the next deadline, what needs the user, and
the health of every node endpoint, in one look.

- Open swaps come from the swap database; each gets its state in words
  (:func:`.watch_say.state_words`) and its next deadline (:func:`.watch_alerts.next_deadline`:
  height on its chain, blocks left and about how long at the chain's nominal block time).
- Node health: one row per endpoint (the ETM leg's every ``[etm] urls`` entry, each foreign
  chain's node): its tip height, or why it did not answer. A node that is down is a row, never
  the command's error.
- What needs the user: swaps open with no watcher holding the database (nothing acts on them),
  a deadline we must meet while a node it needs is down, a lock we made that can be refunded,
  an action of ours the chain refused (its reason), and any warning the policy left on a swap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config import ETM
from ..errors import EtmBridgeError
from ..node.client import NodeClient
from ..swaps.core.model import Outcome, SwapRecord
from ..swaps.runtime.watcher import NODE_DOWN
from .context import AppContext
from .durations import duration_text
from .watch_alerts import Deadline, endpoint_of, next_deadline
from .watch_say import Show, state_words

#: what a node that does not answer, or answers nonsense, raises
_FAILS: tuple[type[BaseException], ...] = (*NODE_DOWN, EtmBridgeError)
_PROBE_FAILS: tuple[type[BaseException], ...] = (*_FAILS, KeyError, ValueError)


@dataclass(frozen=True)
class NodeHealth:
    chain: str
    kind: str  # the leg's adapter entry point
    endpoint: str
    ok: bool
    height: int | None
    error: str | None
    block_time_s: int | None = None


def _probe_etm(chain: str, url: str) -> NodeHealth:
    try:
        answer = NodeClient(url).status()
        height, block_time = int(answer["height"]), int(answer.get("blockTimeS") or 0)
    except _PROBE_FAILS as exc:
        return NodeHealth(chain, ETM, url, False, None, str(exc) or type(exc).__name__)
    return NodeHealth(chain, ETM, url, True, height, None, block_time or None)


def node_health(ctx: AppContext) -> list[NodeHealth]:
    """One row per endpoint of every configured leg (module docstring)."""
    rows = []
    for chain in ctx.chains():
        kind, endpoint = endpoint_of(ctx, chain)
        if kind == ETM and ctx.config is not None and chain not in ctx.given:
            urls = ctx.config.chain_options(chain)[1]
            for url in urls.get("urls") or [urls["url"]]:
                rows.append(_probe_etm(chain, str(url)))
            continue
        try:
            adapter = ctx.adapter(chain)
            height, block_time = adapter.tip().height, adapter.info().block_time_s
        except _FAILS as exc:
            rows.append(NodeHealth(chain, kind, endpoint, False, None, str(exc)))
            continue
        rows.append(NodeHealth(chain, kind, endpoint, True, height, None, block_time))
    return rows


def watcher_running(ctx: AppContext) -> bool:
    """True when a watcher holds the swap database's lease now."""
    store = ctx.store()
    rows = list(store.db.query("SELECT lease_until_s FROM watcher_lease WHERE id = 1"))
    return bool(rows) and int(rows[0]["lease_until_s"]) > ctx.now()


def _deadline_json(d: Deadline | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {**asdict(d), "about": f"about {duration_text(d.in_s)}"}


def _needs(rec: SwapRecord, d: Deadline | None, down: set[str], watching: bool) -> list[str]:
    needs = []
    if not watching:
        needs.append("no watcher is running: start `etm-bridge watch` (nothing acts on this swap)")
    if d is not None and d.needs_us and d.chain in down:
        needs.append(f"the {d.chain} node is down and {d.what} ({d.chain} height {d.height})")
    for intent in rec.intents:
        result = intent.result
        if result is not None and result.outcome is Outcome.REJECTED and intent is rec.intents[-1]:
            needs.append(f"our last {intent.chain} transaction was refused: {result.detail}")
    needs += [note for note in rec.notes if "WARNING" in note]
    return needs


def status(ctx: AppContext, show: Show) -> dict[str, Any]:
    """The whole picture (module docstring), JSON-ready; amounts through ``show``."""
    nodes = node_health(ctx)
    tips = {n.chain: n.height for n in nodes if n.ok and n.height is not None}
    block_time = {n.chain: n.block_time_s for n in nodes if n.block_time_s}
    down = {n.chain for n in nodes if not n.ok}
    watching = watcher_running(ctx)
    swaps: list[dict[str, Any]] = []
    needs_you: list[dict[str, str]] = []
    soonest: tuple[str, Deadline] | None = None
    for rec in ctx.store().list_swaps(open_only=True):
        d = next_deadline(rec, tips, block_time)
        needs = _needs(rec, d, down, watching)
        u, c = rec.terms.user_leg, rec.terms.counter_leg
        swaps.append({
            "swap_id": rec.swap_id, "role": rec.role.value, "state": rec.state.value,
            "says": state_words(rec, show),
            "gives": f"{show(u.chain, u.amount)} on {u.chain}",
            "gets": f"{show(c.chain, c.amount)} on {c.chain}",
            "next_deadline": _deadline_json(d), "needs_you": needs,
        })  # fmt: skip
        needs_you += [{"swap_id": rec.swap_id, "what": n} for n in needs]
        if d is not None and (soonest is None or d.in_s < soonest[1].in_s):
            soonest = (rec.swap_id, d)
    return {
        "open_swaps": swaps,
        "next_deadline": None if soonest is None
        else {"swap_id": soonest[0], **(_deadline_json(soonest[1]) or {})},
        "needs_you": needs_you,
        "watcher_running": watching,
        "nodes": [asdict(n) for n in nodes],
    }  # fmt: skip
