"""The pool swap log's cursor is checked against the swaps a node returned
(``etm_bridge.etm_client.exchange.checked_log_cursor``).

Attack (review x5): the operator saves the cursor a node answers and never reads below it
again. A node (broken, or lying) that answered a cursor past the swaps it returned made the
operator skip every pool swap up to it for ever (it never claimed the users' coins nor locked
its counter legs), even after the node was replaced. The log is numbered 0, 1, ... with no
gaps, so the cursor ``count`` rows after ``after`` is known: any other answer is refused and
the saved cursor stays where it was. The lying node is this test's; the follower, the store and
the exchange client are the real ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etm_bridge.chain.codec import U64
from etm_bridge.chain.keys import SigningKey
from etm_bridge.errors import ChainError
from etm_bridge.etm_client.exchange import NodeExchange, checked_log_cursor
from etm_bridge.etm_client.submit import Submitter
from etm_bridge.exchange.records import asset_key
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.pool_terms import LegChain, PoolInfo
from etm_bridge.swaps.runtime.operator import PoolFollower, cursor_name
from etm_bridge.swaps.runtime.store import SwapStore


def _cursor(seq: int, asset: str = "btc") -> str:
    return asset_key(asset, U64.pack(seq)).hex()


class LyingNode(NodeClient):
    """An ETM endpoint whose swap-history pages say no swap but a cursor far ahead."""

    def __init__(self, answer: str) -> None:
        super().__init__("http://127.0.0.1:9")
        self.answer = answer

    def page(self, path: str, name: str, params: Any = None, *, after: Any = None,
             limit: Any = None) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
        assert path == "/api/exchange/swap-history"
        return [], self.answer

    def status(self) -> dict[str, Any]:
        return {"height": 50, "finalizedHeight": 50}


@pytest.mark.parametrize("answer", [_cursor(2**64 - 1), _cursor(7), "ff" * 40, "btc"])
def test_a_cursor_past_the_swaps_returned_is_refused_and_the_saved_one_stays(
    tmp_path: Path, answer: str
) -> None:
    store = SwapStore(tmp_path / "swaps.db")
    store.set_follow_cursor(cursor_name("btc"), _cursor(3))
    node = LyingNode(answer)
    exchange = NodeExchange(Submitter(node, SigningKey(bytes(32))), None, {}, {})  # type: ignore[arg-type]
    follower = PoolFollower(store, exchange)
    pools = {"btc": (PoolInfo("btc", b"\x02" + b"\x11" * 32, 1), LegChain("bitcoin", 500, 600))}
    with pytest.raises(ChainError, match="broken or lying endpoint"):
        follower.follow(pools, LegChain("etm", 1_000, 1), 0)
    assert store.follow_cursor(cursor_name("btc")) == _cursor(3)


def test_the_cursor_after_count_swaps_is_the_only_one_accepted() -> None:
    assert checked_log_cursor("btc", None, 0, None) is None
    assert checked_log_cursor("btc", None, 3, _cursor(2)) == _cursor(2)
    assert checked_log_cursor("btc", _cursor(2), 0, _cursor(2)) == _cursor(2)
    assert checked_log_cursor("btc", _cursor(2), 5, _cursor(7)) == _cursor(7)
    for after, count, cursor in [
        (None, 3, _cursor(3)),  # one past what was returned
        (_cursor(2), 1, _cursor(2)),  # not moved over the row returned
        (_cursor(2), 1, _cursor(3, "eth")),  # another pool's log
        (None, 0, _cursor(0)),  # moved over nothing
    ]:
        with pytest.raises(ChainError):
            checked_log_cursor("btc", after, count, cursor)
