"""A direct swap the pool operator accepts must not collide with its pools (review a11a).

``swap accept`` took any terms that pay us. Three collisions with the operator's pools cost it
money: a lock claimed with a pool's claim key can also be proven to the pool as a swap in (the
user then claims our counter lock and the pool's ETM, we claim the one lock once); a swap id of
the form of a pool record (an ETM HTLC id, computable before the swap in exists) made the pool
follower take that record for the pool swap's and skip it; a hashlock we already hold lets one
revealed secret open two swaps. ``refuse_colliding_direct_swap`` refuses all three; here the
rule, and ``swap accept`` refusing through the CLI on fake chains (no ETM node, so no pools).
The claim key case runs on real nodes in ``tests/integration/swaps/test_swap_pool_cli.py``.
"""

from __future__ import annotations

import json

import pytest
from test_swap_cli import _ok, _run, _start_args, parties, swap  # noqa: F401

from etm_bridge.app.swaps import refuse_colliding_direct_swap
from etm_bridge.errors import SwapError
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import SwapDirection
from etm_bridge.swaps.core.model import LegTerms, SwapTerms
from etm_bridge.swaps.core.pool_terms import PoolInfo

OURS, OTHER = b"\x02" + b"\x11" * 32, b"\x03" + b"\x22" * 32
H = sha256(b"s" * 32)


def _terms(claim: bytes = OTHER, swap_id: str = "a1b2c3d4e5f60718") -> SwapTerms:
    return SwapTerms(
        swap_id, SwapDirection.ETM_TO_FOREIGN, H,
        LegTerms("bitcoin", 5_000, claim, OTHER, 900),
        LegTerms("ethereum", 7_000, b"\x33" * 20, b"\x44" * 20, 500), 0, 1, 2,
    )  # fmt: skip


def test_each_collision_is_refused_and_a_clean_swap_is_not() -> None:
    pools = [PoolInfo("btc", OURS, 1)]
    refuse_colliding_direct_swap(_terms(), pools, [sha256(b"x" * 32)])
    cases = {
        "claim key of the ETM btc pool": (_terms(claim=OURS), []),
        "form of a pool swap's record": (_terms(swap_id="ab" * 32), []),
        "already have a swap with hashlock": (_terms(), [H]),
    }
    for text, (terms, known) in cases.items():
        with pytest.raises(SwapError, match=text):
            refuse_colliding_direct_swap(terms, pools, known)


def test_swap_accept_refuses_a_pool_record_id_and_a_second_swap_with_one_hashlock(
    parties,  # noqa: F811 (the fixture)
    tmp_path,
) -> None:
    user_home, _, op_home, op_keys, _ = parties
    started = json.loads(
        _ok(swap, _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex(),
                              "--json"))
    )  # fmt: skip
    as_pool_id = json.loads(json.dumps(started))
    as_pool_id["terms"]["swap_id"] = "cd" * 32
    twin = json.loads(json.dumps(started))
    twin["terms"]["swap_id"] = "twin"
    files = {}
    for name, data in (("pool_id", as_pool_id), ("first", started), ("twin", twin)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    refused = _run(swap, ["accept", files["pool_id"], "--home", op_home])
    assert "form of a pool swap's record" in str(refused.exception)
    _ok(swap, ["accept", files["first"], "--home", op_home])
    refused = _run(swap, ["accept", files["twin"], "--home", op_home])
    assert "already have a swap with hashlock" in str(refused.exception)
    rows = json.loads(_ok(swap, ["list", "--home", op_home, "--json"]))
    assert [r["swap_id"] for r in rows] == [started["swap_id"]]
