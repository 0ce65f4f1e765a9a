"""What the watcher tells a person, in their words (pure): one line per swap state change, per
broadcast, per refusal and per node outage; never an internal name (``lock_user_leg``,
``foreign_to_etm``).

``show(chain, amount)`` renders an amount of a leg (the caller's units: ``0.5 <SYMBOL>``). Each
``*_words`` function returns the sentence without the swap id; :func:`line` prefixes it.
:class:`Narrator` turns each tick's report into the lines to say, each once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..swaps.core.fsm import SwapDirection, SwapState
from ..swaps.core.model import ActionKind, SwapRecord
from ..swaps.core.states import TERMINAL
from ..swaps.runtime.watcher import TickReport

Show = Callable[[str, int], str]

S = SwapState

#: what each broadcast does, in words ({user}/{counter}: the legs' amounts and chains)
_ACTIONS: dict[ActionKind, str] = {
    ActionKind.LOCK_USER_LEG: "locking {user}",
    ActionKind.LOCK_COUNTER_LEG: "locking {counter} for the user",
    ActionKind.RELAY_HEADERS: "sending block headers to ETM",
    ActionKind.SUBMIT_PROOF: "proving the {user_chain} lock to ETM",
    ActionKind.CLAIM_COUNTER: "claiming {counter} (this reveals the secret)",
    ActionKind.CLAIM_USER_LOCK: "claiming {user}",
    ActionKind.REFUND_USER_LOCK: "refunding {user}",
    ActionKind.REFUND_COUNTER: "refunding {counter}",
    ActionKind.CANCEL_INTENT: "cancelling the swap intent on ETM (its bond back, less the charge)",
    ActionKind.WAIT: "waiting",
}


def _legs(rec: SwapRecord, show: Show) -> dict[str, str]:
    u, c = rec.terms.user_leg, rec.terms.counter_leg
    return {
        "user": f"{show(u.chain, u.amount)} on {u.chain}",
        "counter": f"{show(c.chain, c.amount)} on {c.chain}",
        "user_chain": u.chain,
        "counter_chain": c.chain,
        "user_conf": _confirmations(u.confirmations),
        "counter_conf": _confirmations(c.confirmations),
    }


def _confirmations(n: int) -> str:
    return "1 confirmation" if n == 1 else f"{n} confirmations"


def _ours(rec: SwapRecord) -> bool:
    """True when we made the user's lock (we are the user)."""
    return rec.role.value == "user"


def state_words(rec: SwapRecord, show: Show) -> str:
    """Where ``rec`` now is, for its owner (user or operator)."""
    w = _legs(rec, show)
    mine = _ours(rec)
    proving = rec.terms.direction is SwapDirection.FOREIGN_TO_ETM
    said = {
        S.CREATED: "agreed; waiting for {user} to be locked",
        S.USER_LOCKED: ("{user} locked" if mine else "the user locked {user}")
        + ", waiting for {user_conf}",
        S.ETM_LOCKED: ("{user} locked" if mine else "the user locked {user}")
        + ", waiting for {user_conf} and for {counter}",
        S.LOCK_CONFIRMED: "the {user} lock is confirmed; "
        + ("proving it to ETM" if proving else "waiting for {counter}"),
        S.PROOF_SUBMITTED: "ETM accepted the proof of the {user_chain} lock; waiting for {counter}",
        S.COUNTER_LOCKED: (
            "{counter} is locked for you; claiming it" if mine
            else "{counter} locked for the user; waiting for the user to claim it"
        ),
        S.SECRET_REVEALED: (
            "you claimed {counter}; the secret is public, {user} goes to the counterparty" if mine
            else "the user claimed {counter}; claiming {user} with the secret"
        ),
        S.CLAIMED_BOTH: "complete: both locks claimed",
        S.FAILED: "cannot complete ({failure}); waiting for the timelocks to refund",
        S.EXPIRED: "a lock timed out unclaimed; refunding",
        S.REFUNDED: "refunded: every lock we made came back",
        S.CANCELLED: "cancelled: nothing was locked before the deadline",
        S.FORFEITED: "forfeited: a deadline was missed and one side took both locks",
    }[rec.state]  # fmt: skip
    return said.format(**w, failure=rec.failure or "see `etm-bridge swap explain`")


def action_words(rec: SwapRecord, kind: ActionKind, outcome: str, show: Show) -> str:
    """A broadcast we made (``outcome`` broadcast / rejected, with the reason when rejected)."""
    what = _ACTIONS[kind].format(**_legs(rec, show))
    if outcome == "broadcast":
        return f"{what}: sent"
    reason = next(
        (i.result.detail for i in reversed(rec.intents) if i.kind is kind and i.result), ""
    )
    return f"{what}: {outcome}" + (f" ({reason}); will retry" if reason else "; will retry")


def outage_words(kind: str, endpoint: str, retry_s: float) -> str:
    """``<kind> node at http://... unreachable, retrying in 8 s``."""
    return f"{kind} node at {endpoint} unreachable, retrying in {retry_s:.0f} s"


def back_words(kind: str, endpoint: str) -> str:
    return f"{kind} node at {endpoint} back"


def line(swap_id: str, sentence: str) -> str:
    return f"swap {swap_id}: {sentence}"


def is_open(rec: SwapRecord) -> bool:
    return rec.state not in TERMINAL


@dataclass(frozen=True)
class Said:
    """One line for people: about ``swap_id`` (None: a node), and the notify ``event`` it is
    (``action_needed``) or None."""

    swap_id: str | None
    text: str
    event: str | None = None
    key: tuple[str, ...] = ()


class Narrator:
    """Turns tick reports into lines, each said once: a state change, a broadcast, a refusal
    (again only when its reason changes), a swap error (again only when it changes), a node
    going down and coming back. ``endpoint(chain)`` is (node kind, where)."""

    def __init__(self, show: Show, endpoint: Callable[[str], tuple[str, str]]) -> None:
        self.show, self.endpoint = show, endpoint
        self._last: dict[tuple[str, str], str] = {}  # (swap id, what) -> last thing said

    def _once(self, swap_id: str, what: str, text: str) -> bool:
        if self._last.get((swap_id, what)) == text:
            return False
        self._last[(swap_id, what)] = text
        return True

    def tick(self, report: TickReport, records: Mapping[str, SwapRecord]) -> list[Said]:
        said: list[Said] = []
        for chain, retry_s in sorted(report.went_down.items()):
            said.append(Said(None, outage_words(*self.endpoint(chain), retry_s)))
        for chain in report.came_back:
            said.append(Said(None, back_words(*self.endpoint(chain))))
        for t in report.transitions:
            rec = records.get(t.swap_id)
            if rec is not None:
                now = replace(rec, state=t.to_state)
                said.append(Said(t.swap_id, line(t.swap_id, state_words(now, self.show))))
        for swap_id, kind, outcome in report.actions:
            rec = records.get(swap_id)
            if rec is None or kind is ActionKind.RELAY_HEADERS:
                continue
            text = action_words(rec, kind, outcome, self.show)
            if outcome == "broadcast":
                said.append(Said(swap_id, line(swap_id, text)))
                self._last.pop((swap_id, kind.value), None)
            elif self._once(swap_id, kind.value, text):
                said.append(Said(swap_id, line(swap_id, text), "action_needed", (kind.value,
                                 text)))  # fmt: skip
        for swap_id, error in sorted(report.errors.items()):
            if self._once(swap_id, "error", error):
                text = line(swap_id, f"{error}; will retry")
                said.append(Said(swap_id, text, "action_needed", ("error", error)))
        return said
