"""``State.scan_page``: bounded pages that, walked from the start, give exactly ``scan``.

The store answers a page with one range query (``ChainStore.scan_page``); the state merges its
uncommitted writes and deletions. Checked against the full scan for random committed records,
overlay writes/deletes, prefixes and page sizes (hypothesis), on the real SQLite store and on a
backend without ``scan_page``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.store import ChainStore

TABLE = "t"
keys = st.binary(min_size=1, max_size=3)


def _walk(state: State, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    after: bytes | None = None
    while True:
        page = state.scan_page(TABLE, prefix, after, limit)
        assert len(page) <= limit
        out += page
        if len(page) < limit:
            return out
        after = page[-1][0]


@settings(max_examples=150, deadline=None)
@given(
    committed=st.dictionaries(keys, st.binary(min_size=1, max_size=2), max_size=40),
    writes=st.dictionaries(keys, st.none() | st.binary(min_size=1, max_size=2), max_size=20),
    prefix=st.binary(max_size=1),
    limit=st.integers(1, 7),
    stored=st.booleans(),
)
def test_pages_walked_from_the_start_equal_the_full_scan(
    committed: dict[bytes, bytes],
    writes: dict[bytes, bytes | None],
    prefix: bytes,
    limit: int,
    stored: bool,
) -> None:
    if stored:
        store = ChainStore.memory()
        store._write_changes({(TABLE, k): v for k, v in committed.items()})
        state = State(store, [TABLE])
    else:  # a backend without scan_page is scanned in full, with the same result
        state = State(EmptyBackend(), [TABLE])
        for k, v in committed.items():
            state.put(TABLE, k, v)
    for k, v in writes.items():
        state.put(TABLE, k, v)
    assert _walk(state, prefix, limit) == state.scan(TABLE, prefix)


def test_a_page_after_a_key_outside_the_prefix_is_bounded_and_correct() -> None:
    store = ChainStore.memory()
    store._write_changes({(TABLE, bytes([p, i])): b"v" for p in (1, 2, 3) for i in range(5)})
    state = State(store, [TABLE])
    first = state.scan_page(TABLE, b"\x02", b"\x01\xff", 2)
    assert [k for k, _ in first] == [b"\x02\x00", b"\x02\x01"]
    assert state.scan_page(TABLE, b"\x02", b"\x03", 2) == []
    assert [k for k, _ in state.scan_page(TABLE, b"", b"\x02\x03", 3)] == [
        b"\x02\x04", b"\x03\x00", b"\x03\x01",
    ]  # fmt: skip
    assert state.scan_page(TABLE, b"", None, 0) == []
