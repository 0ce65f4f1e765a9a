"""Mandate ids, windows and the transition table (design-14 sections 4.1-4.3): every
(status, event, kind, model) combination is either the table's row or refused, and the
diagram in docs/custody.md is the table's."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from custody_world import PARAMS

from etm_bridge.custody import mandates as md
from etm_bridge.custody.records import MandateKind, MandateStatus, Reason
from etm_bridge.custody.spec import CustodyModel
from etm_bridge.errors import CustodyError

pytestmark = pytest.mark.unit

E, S, K = md.MandateEvent, MandateStatus, MandateKind
UTXO, ACCOUNT = CustodyModel.UTXO, CustodyModel.ACCOUNT
DOCS = Path(__file__).resolve().parents[3] / "docs" / "custody.md"


def refused(src: S | None, event: md.MandateEvent, kind: K, model: CustodyModel) -> None:
    with pytest.raises(CustodyError) as exc:
        md.transition(src, event, kind, model)
    assert exc.value.reason == Reason.BAD_TRANSITION


def test_ids_are_one_per_purpose() -> None:
    src = b"\x01" * 32
    ids = {md.mandate_id(k, t, s) for k in K for t in ("x", "xy") for s in (src, src[:31])}
    assert len(ids) == len(K) * 2 * 2
    assert md.mandate_id(K.LP_WITHDRAW, "x", src) == md.mandate_id(K.LP_WITHDRAW, "x", src)
    assert md.mandate_id(K.ROTATION_SWEEP, "x", md.sweep_source(1, 2)) != md.mandate_id(
        K.ROTATION_SWEEP, "x", md.sweep_source(2, 1))  # fmt: skip


def test_every_combination_is_the_table_or_refused() -> None:
    statuses: list[S | None] = [None, *S]
    for src, event, kind, model in itertools.product(statuses, E, K, CustodyModel):
        row = next((t for t in md.TABLE if (t.src, t.event) == (src, event)), None)
        if row is not None and kind in row.kinds and model in row.models:
            assert md.transition(src, event, kind, model) is row.dst
        else:
            refused(src, event, kind, model)


def test_attack_a_transition_that_skips_a_state_is_refused() -> None:
    """A proof for a mandate still queued (never funded, so no revision was ever signable)
    must not close it; terminal statuses never reopen."""
    refused(S.QUEUED, E.PROVEN, K.LP_WITHDRAW, UTXO)
    refused(None, E.PROVEN, K.LP_WITHDRAW, UTXO)  # a proof creates no mandate
    refused(None, E.FUNDED, K.COUNTER_LOCK, UTXO)
    for terminal in (S.PROVEN, S.VOID):
        for event in E:
            refused(terminal, event, K.LP_WITHDRAW, UTXO)
    refused(S.CANCELLED, E.FUNDED, K.COUNTER_LOCK, UTXO)
    refused(S.CANCELLED, E.REISSUE_REQUESTED, K.COUNTER_LOCK, UTXO)


def test_kind_and_model_rules() -> None:
    # a counter lock is re-issued only on request (the leg must still allow it), others by hook
    refused(S.EXPIRED, E.REISSUED, K.COUNTER_LOCK, UTXO)
    assert md.transition(S.EXPIRED, E.REISSUE_REQUESTED, K.COUNTER_LOCK, UTXO) is S.OPEN
    assert md.transition(S.EXPIRED, E.REISSUED, K.LP_WITHDRAW, ACCOUNT) is S.OPEN
    refused(S.EXPIRED, E.REISSUE_REQUESTED, K.LP_WITHDRAW, UTXO)
    # fee bumps and queues are UTXO things, rotations of open mandates account things
    refused(S.OPEN, E.BUMPED, K.LP_WITHDRAW, ACCOUNT)
    refused(None, E.CREATED_UNFUNDED, K.LP_WITHDRAW, ACCOUNT)
    refused(S.OPEN, E.ROTATED, K.LP_WITHDRAW, UTXO)
    # only a counter lock is cancelled by its swap's ETM refund
    refused(S.OPEN, E.HTLC_REFUNDED, K.LP_WITHDRAW, UTXO)
    assert md.transition(S.OPEN, E.HTLC_REFUNDED, K.COUNTER_LOCK, UTXO) is S.CANCELLED
    # a pool creation is agreed, never signed
    assert md.transition(None, E.AGREED, K.POOL_CREATE, UTXO) is S.PROVEN
    refused(None, E.CREATED, K.POOL_CREATE, UTXO)
    refused(None, E.AGREED, K.LP_WITHDRAW, UTXO)


def test_late_proofs_still_count() -> None:
    assert md.transition(S.EXPIRED, E.PROVEN, K.COUNTER_LOCK, UTXO) is S.PROVEN
    assert md.transition(S.CANCELLED, E.PROVEN, K.COUNTER_LOCK, UTXO) is S.PROVEN


def test_windows() -> None:
    now = 10_000
    assert md.sign_until(K.LP_WITHDRAW, now, PARAMS) == now + PARAMS.sign_window_s
    far = now + 48 * 3600
    assert md.sign_until(K.COUNTER_LOCK, now, PARAMS, etm_deadline_s=far) == now + 3600
    near = now + 2 * md.MARGIN_S + 100
    assert md.sign_until(K.COUNTER_LOCK, now, PARAMS, etm_deadline_s=near) == now + 100
    assert md.sign_until(K.CLAIM_SWAP_IN, now, PARAMS, claim_deadline_s=now + 7) == now + 7
    assert md.sign_until(K.VAULT_ROTATION, now, PARAMS) is None
    with pytest.raises(ValueError):
        md.sign_until(K.COUNTER_LOCK, now, PARAMS)
    assert md.may_reissue_counter_lock(now + md.MARGIN_S + md.MIN_ETM_LEG_S, now)
    assert not md.may_reissue_counter_lock(now + md.MARGIN_S + md.MIN_ETM_LEG_S - 1, now)


def test_the_docs_show_the_tables_diagram() -> None:
    assert f"```mermaid\n{md.diagram()}\n```" in DOCS.read_text()
