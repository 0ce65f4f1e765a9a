"""The transition table: every pair in it, every pair not in it, and its safety properties."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.errors import InvalidTransitionError
from etm_bridge.swaps import diagram
from etm_bridge.swaps.core.fsm import (
    POINT_OF_NO_RETURN,
    REORG_EVENTS,
    TABLES,
    Event,
    SwapDirection,
    SwapState,
    allowed_events,
    states_of,
    transition,
)
from etm_bridge.swaps.core.states import SAFE_TERMINAL, TERMINAL, progress_rank

ROOT = Path(__file__).resolve().parents[3]
ALL_PAIRS = [(d, s, e) for d in SwapDirection for s in SwapState for e in Event]
TABLE_ROWS = [(d, s, e, t) for d in SwapDirection for (s, e), t in TABLES[d].items()]
MISSING = [(d, s, e) for d, s, e in ALL_PAIRS if (s, e) not in TABLES[d]]


def _reachable(
    direction: SwapDirection, start: SwapState, *, reorgs: bool = False
) -> set[SwapState]:
    seen, todo = {start}, deque([start])
    while todo:
        state = todo.popleft()
        for (s, e), t in TABLES[direction].items():
            if s is state and (reorgs or e not in REORG_EVENTS) and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


@pytest.mark.parametrize(("direction", "state", "event", "target"), TABLE_ROWS)
def test_every_table_row_is_a_transition(direction, state, event, target) -> None:
    assert transition(direction, state, event) is target


@pytest.mark.parametrize(("direction", "state", "event"), MISSING)
def test_every_pair_missing_from_the_table_raises(direction, state, event) -> None:
    with pytest.raises(InvalidTransitionError, match=f"not allowed in state '{state.value}'"):
        transition(direction, state, event)


@pytest.mark.parametrize("direction", list(SwapDirection))
def test_every_state_of_a_direction_is_reachable_from_created(direction) -> None:
    assert _reachable(direction, SwapState.CREATED) == states_of(direction)


@pytest.mark.parametrize("direction", list(SwapDirection))
def test_every_open_state_can_still_end_claimed_or_refunded(direction) -> None:
    """Funds safety: whatever happened so far, a path to a safe end exists without reorgs."""
    for state in states_of(direction) - TERMINAL:
        reachable = _reachable(direction, state)
        assert reachable & SAFE_TERMINAL, f"{direction}: {state} cannot reach a safe end"


@pytest.mark.parametrize("direction", list(SwapDirection))
def test_terminal_states_are_left_only_by_reorgs(direction) -> None:
    for state in TERMINAL & states_of(direction):
        assert allowed_events(direction, state) <= REORG_EVENTS


@pytest.mark.parametrize(("direction", "state", "event", "target"), TABLE_ROWS)
def test_status_goes_backwards_only_on_reorg_events(direction, state, event, target) -> None:
    if event not in REORG_EVENTS:
        assert progress_rank(target) > progress_rank(state)
    elif progress_rank(target) < progress_rank(state):
        assert event in REORG_EVENTS


@pytest.mark.parametrize("direction", list(SwapDirection))
def test_after_the_point_of_no_return_no_refund_end_is_reachable(direction) -> None:
    """Once the secret is out the swap ends claimed (or forfeited by a missed deadline)."""
    after = _reachable(direction, POINT_OF_NO_RETURN)
    assert SwapState.REFUNDED not in after
    assert SwapState.CLAIMED_BOTH in after


def test_the_two_directions_use_their_own_lock_states() -> None:
    assert SwapState.ETM_LOCKED not in states_of(SwapDirection.FOREIGN_TO_ETM)
    assert SwapState.PROOF_SUBMITTED not in states_of(SwapDirection.ETM_TO_FOREIGN)


@given(st.sampled_from(list(SwapDirection)), st.lists(st.integers(0, 10_000), max_size=40))
def test_random_walks_without_reorgs_never_go_backwards(direction, choices) -> None:
    state = SwapState.CREATED
    for choice in choices:
        events = sorted(allowed_events(direction, state) - REORG_EVENTS)
        if not events:
            assert state in TERMINAL
            break
        nxt = transition(direction, state, events[choice % len(events)])
        assert progress_rank(nxt) > progress_rank(state)
        state = nxt


@given(st.sampled_from(list(SwapDirection)), st.lists(st.integers(0, 10_000), max_size=60))
def test_random_walks_with_reorgs_stay_in_the_table_and_can_always_finish(direction, choices):
    state = SwapState.CREATED
    for choice in choices:
        events = sorted(allowed_events(direction, state))
        if not events:
            break
        state = transition(direction, state, events[choice % len(events)])
        assert state in states_of(direction)
        assert _reachable(direction, state) & (SAFE_TERMINAL | {SwapState.FORFEITED})


@given(st.sampled_from(ALL_PAIRS))
def test_any_pair_is_either_in_the_table_or_an_error(pair) -> None:
    direction, state, event = pair
    if (state, event) in TABLES[direction]:
        assert transition(direction, state, event) in states_of(direction)
    else:
        with pytest.raises(InvalidTransitionError):
            transition(direction, state, event)


def test_the_committed_state_diagrams_are_generated_from_the_table() -> None:
    doc = (ROOT / "docs" / "swaps.md").read_text()
    assert diagram.splice(doc) == doc, (
        "docs/swaps.md is stale: run .venv/bin/python -m etm_bridge.swaps.diagram docs/swaps.md"
    )


def test_every_table_row_appears_in_the_diagram() -> None:
    for direction in SwapDirection:
        rendered = diagram.render_mermaid(direction)
        for (state, event), target in TABLES[direction].items():
            assert f"{state.value} --> {target.value}: {event.value}" in rendered


@pytest.mark.parametrize("direction", list(SwapDirection))
def test_a_swap_is_cancelled_by_its_party_only_before_anything_is_locked(direction) -> None:
    assert transition(direction, SwapState.CREATED, Event.USER_CANCELLED) is SwapState.CANCELLED
    assert SwapState.CANCELLED in TERMINAL
    for state in states_of(direction) - {SwapState.CREATED}:
        with pytest.raises(InvalidTransitionError):
            transition(direction, state, Event.USER_CANCELLED)
