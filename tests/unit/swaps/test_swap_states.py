"""One spec per swap state (issue 12, design §7): complete, and in agreement with the table and
the policy; the engine reads the specs (no second table of ranks, terminal states, observed legs,
proof reads or per-state event functions).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from swapkit import claim_of, lock_for, record, refund_of

from etm_bridge.adapter import LockState
from etm_bridge.swaps.core import events, states
from etm_bridge.swaps.core.facts import Observed
from etm_bridge.swaps.core.fsm import TABLES, Event, Role, SwapDirection, SwapState, allowed_events
from etm_bridge.swaps.core.model import ActionKind
from etm_bridge.swaps.core.policy import decide
from etm_bridge.swaps.core.states import SPECS, TERMINAL, Leg, progress_rank
from etm_bridge.swaps.core.views import LegView, ProofStatus, ProofView, SwapView
from etm_bridge.swaps.runtime import observe

S = SwapState
ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "etm_bridge" / "swaps" / "core"

#: The ranks and terminal states as they were before the specs (fsm._RANK, fsm.TERMINAL).
RANKS_BEFORE = {
    S.CREATED: 0, S.USER_LOCKED: 1, S.ETM_LOCKED: 1, S.LOCK_CONFIRMED: 2, S.PROOF_SUBMITTED: 3,
    S.COUNTER_LOCKED: 4, S.FAILED: 5, S.EXPIRED: 6, S.SECRET_REVEALED: 7, S.CLAIMED_BOTH: 8,
    S.REFUNDED: 8, S.CANCELLED: 8, S.FORFEITED: 8,
}  # fmt: skip
TERMINAL_BEFORE = {S.CLAIMED_BOTH, S.REFUNDED, S.CANCELLED, S.FORFEITED}


def test_every_state_has_exactly_one_spec() -> None:
    assert [spec.state for spec in states._ALL].count(S.CREATED) == 1
    assert sorted(spec.state for spec in states._ALL) == sorted(SwapState)
    assert all(SPECS[state].state is state for state in SwapState)


def test_each_spec_waits_on_exactly_the_events_the_table_accepts() -> None:
    for state, spec in SPECS.items():
        table = frozenset().union(*(allowed_events(d, state) for d in SwapDirection))
        assert spec.waits_on == table, state


def test_ranks_and_terminal_states_are_unchanged() -> None:
    assert {s: progress_rank(s) for s in SwapState} == RANKS_BEFORE
    assert TERMINAL == TERMINAL_BEFORE


def test_terminal_states_wait_only_on_reorgs_and_act_on_nothing() -> None:
    """Nothing but the user's cancel of a pool swap in's bonded ETM intent (it moves no lock:
    ``swaps/core/bond.py``), and only where the swap ended without a proof."""
    for state in TERMINAL:
        spec = SPECS[state]
        assert not spec.operator_actions, state
        cancels = {ActionKind.CANCEL_INTENT} if state in (S.REFUNDED, S.CANCELLED) else set()
        assert spec.user_actions == cancels, state
        assert {e.value.endswith("_reorged") for e in spec.waits_on} <= {True}, state


def test_proofs_are_read_only_where_a_proof_event_is_awaited() -> None:
    proof_events = {Event.PROOF_ACCEPTED, Event.PROOF_REJECTED}
    for state, spec in SPECS.items():
        assert spec.reads_proof == bool(spec.waits_on & proof_events), state


def test_a_state_that_skips_the_counter_leg_awaits_no_counter_event() -> None:
    for state, spec in SPECS.items():
        if Leg.COUNTER not in spec.observes:
            assert not {e for e in spec.waits_on if "counter" in e.value}, state


# --- the policy acts only as the spec says --------------------------------------------------

USER_CHAIN, COUNTER_CHAIN = "btc", "etm"


def _views() -> st.SearchStrategy[SwapView]:

    base = record()
    user_leg, counter_leg = base.terms.user_leg, base.terms.counter_leg

    def leg(chain: str, terms, tip: int, locked: bool, spent: str | None) -> LegView:
        lock = spend = None
        if locked:
            state = {"claim": LockState.CLAIMED, "refund": LockState.REFUNDED}.get(
                spent or "", LockState.OPEN
            )
            lock = lock_for(replace(terms, chain=chain), 100, state)
            spend = {"claim": claim_of, "refund": refund_of}[spent](lock) if spent else None
        return LegView(chain, tip, 600 if chain == "btc" else 60, lock, spend)

    spends = st.sampled_from([None, "claim", "refund"])
    return st.builds(
        lambda ut, ul, us, ct, cl, cs, proof: SwapView(
            leg(USER_CHAIN, user_leg, ut, ul, us),
            leg(COUNTER_CHAIN, counter_leg, ct, cl, cs),
            proof,
        ),
        st.integers(90, 260), st.booleans(), spends,
        st.integers(90, 260), st.booleans(), spends,
        st.one_of(st.none(), st.builds(ProofView, st.integers(0, 260),
                                       st.sampled_from(list(ProofStatus)))),
    )  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    state=st.sampled_from(list(SwapState)),
    role=st.sampled_from(list(Role)),
    view=_views(),
    now=st.integers(1_700_000_000 - 10, 1_700_000_000 + 2_000),
)
def test_decide_emits_only_the_actions_of_the_state_spec(state, role, view, now) -> None:

    rec = record(state, role)  # no intents: recovery plays no part
    spec = SPECS[state]
    allowed = spec.user_actions if role is Role.USER else spec.operator_actions
    plan = decide(rec, view, now)
    assert {a.kind for a in plan.actions} <= allowed


# --- the engine reads the specs -------------------------------------------------------------


def test_next_event_dispatches_through_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:

    seen = Observed(Event.QUOTE_EXPIRED, "from the patched spec")
    patched = dict(SPECS)
    patched[S.CREATED] = replace(SPECS[S.CREATED], next_event=lambda rec, view, now: seen)
    monkeypatch.setattr(events, "SPECS", patched)
    view = SwapView(LegView("btc", 100, 600), LegView("etm", 100, 60))
    assert events.next_event(record(S.CREATED), view, 0) is seen


def test_observe_reads_the_legs_proof_and_finality_from_the_spec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    rec = record(S.CREATED)
    assert observe.skips_counter_leg(rec)
    patched = dict(SPECS)
    patched[S.CREATED] = replace(SPECS[S.CREATED], observes=frozenset(Leg), reads_finality=True)
    monkeypatch.setattr(observe, "SPECS", patched)
    assert not observe.skips_counter_leg(rec)
    assert observe.needs_finality(replace(rec, role=Role.OPERATOR, preimage=None))


def test_no_second_table_of_states_is_left_in_the_engine() -> None:
    """No module but states.py builds a collection of SwapState members (a rank map, a set of
    states that observe or prove...); fsm.py's transition tables are the other table, and the
    policy's branches choose among a state's spec actions (the test above holds them to it)."""
    offenders = []
    for path in [*CORE.glob("*.py"), *(ROOT / "etm_bridge/swaps/runtime").glob("*.py")]:
        if path.name in ("states.py", "fsm.py", "policy.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Set | ast.Dict | ast.Tuple | ast.List):
                members = [
                    n for n in ast.walk(node)
                    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                    and n.value.id in ("S", "SwapState") and n.attr.isupper()
                ]  # fmt: skip
                if len(members) >= 2:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_the_table_and_the_specs_cover_the_same_states() -> None:
    in_tables = {s for table in TABLES.values() for (s, _), t in table.items() for s in (s, t)}
    assert in_tables == set(SwapState)
