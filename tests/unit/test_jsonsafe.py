"""Bounded-nesting JSON (``etm_bridge.jsonsafe``): the depth scan agrees with the real nesting,
ignores brackets inside strings, and a deeply nested reply from a loopback server is refused by
the JSON-RPC client and the node client before ``json.loads`` sees it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.errors import NodeUnavailableError, ValidationError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.jsonsafe import MAX_JSON_DEPTH, json_depth, loads_bounded
from etm_bridge.node.client import NodeClient

#: Deep enough to be refused, shallow enough that ``json.loads`` would not crash the test run if
#: the guard were missing (it would parse or raise RecursionError, and the test would fail).
DEEP = 5_000

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\u00e9'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(_values)
def test_the_scan_measures_the_real_nesting(value: Any) -> None:
    text = json.dumps(value)
    assert json_depth(text) == _depth(value)
    assert json_depth(json.dumps(value, ensure_ascii=False)) == _depth(value)


def test_brackets_in_strings_do_not_count_and_deep_json_is_refused() -> None:
    shallow = json.dumps({"a": "[[[[{{{{" * 100, "b": ['"\\]]]', "\\\\"]})
    assert json_depth(shallow) == 2
    assert loads_bounded(shallow.encode(), max_depth=2) == json.loads(shallow)
    deep = "[" * DEEP + "]" * DEEP
    with pytest.raises(ValidationError, match=f"nested more than {MAX_JSON_DEPTH} arrays/objects"):
        loads_bounded(deep)
    assert json_depth("[" * 1_000_000, stop_above=5) == 6  # stops early: no second-long scan
    with pytest.raises(ValidationError, match="at most 3"):
        loads_bounded(b'{"a": [[[1]]]}', max_depth=3)
    assert loads_bounded(json.dumps([[1]]).encode("utf-16")) == [[1]]  # json.loads' encodings


class _Deep(BaseHTTPRequestHandler):
    """Answers every request with 200 and a body nested DEEP arrays deep."""

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = ('{"result": ' + "[" * DEEP + "]" * DEEP + ', "id": 1}').encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def deep_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_deeply_nested_json_rpc_reply_is_an_error_not_a_crash(deep_server: str) -> None:
    client = JsonRpcClient(deep_server, user="u", password="p")
    try:
        with pytest.raises(NodeUnavailableError, match=f"unusable JSON.*at most {MAX_JSON_DEPTH}"):
            client.call("getblockcount")
    finally:
        client.close()


def test_a_deeply_nested_node_reply_is_an_error_not_a_crash(deep_server: str) -> None:
    with pytest.raises(NodeUnavailableError, match=f"unusable JSON.*at most {MAX_JSON_DEPTH}"):
        NodeClient(deep_server).status()
