"""Fuzz the node API's request handling (issue 11 item 3): bodies, content types, declared
lengths, paths and query strings, through the real Starlette app over a real chain (ASGI, no
socket). Every request is answered with a JSON error or a result, never a 500 or a crash.

Derandomized: CI sends the same requests every run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from asgi_call import asgi_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.node.api import create_app
from etm_bridge.node.exchange_api import exchange_routes
from etm_bridge.node.htlc_api import htlc_routes
from etm_bridge.node.service import NodeService
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.store import ChainStore
from etm_bridge.testing.hostile import nested_json

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKEN = "t" * 32
LIMIT = 64 * 1024
ANSWERS = {200, 400, 401, 404, 405, 413, 415}
PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, delegates_per_round=3,
                 tx_plugins=NODE_TX_PLUGINS)  # fmt: skip


def _app() -> Any:
    genesis, keys = dev_genesis(PARAMS, 3, funded=2)
    service = NodeService(Chain(ChainStore.memory(), genesis), keys)
    view_of, tables = service.chain.store_view, service.chain.registry.table_names
    routes = exchange_routes(view_of, tables) + htlc_routes(view_of, tables)
    return create_app(service, admin_token=TOKEN, max_body_bytes=LIMIT, extra_routes=routes)


def _tx_hex(nonce: int) -> str:
    payload = TransferPayload(address_hash(dev_key("user-1").public_key), 5).encode()
    return Tx.create(dev_key("user-0"), network=PARAMS.network_id, type_id=TRANSFER,
                     nonce=nonce, fee=100_000, payload=payload).encoded.hex()  # fmt: skip


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
              st.floats(allow_nan=False)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c,
                                                                 max_size=4)),
    max_leaves=12,
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["tx", "enabled", "seed", "x"]), json_values, max_size=3).map(
        lambda d: json.dumps(d).encode()
    ),
    st.integers(4_000, 6_000).map(lambda n: b'{"tx": ' + b"1" * n + b"}"),  # int() digit limit
    st.integers(0, 3).map(lambda n: json.dumps({"tx": _tx_hex(n)}).encode()),
    st.integers(0, 3).map(lambda n: _tx_hex(n).encode()),
    st.sampled_from([nested_json(40_000), b"{" * 33, b'{"tx": "' + b"0" * 70_000 + b'"}']),
)
content_types = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/octet-stream",
    "text/plain", "", "text/html", "application/x-www-form-urlencoded", "multipart/form-data",
])  # fmt: skip
declared = st.one_of(st.none(), st.sampled_from(["-1", "abc", "1" * 5_000, "0" * 300 + "5",
                                                 "²", "99999999999999999999"]))  # fmt: skip
posts = st.sampled_from(["/api/transactions", "/api/admin/forging", "/api/admin/forging/keys"])
gets = st.sampled_from([
    "/api/blocks?limit={}", "/api/blocks/{}", "/api/transactions/{}", "/api/accounts/{}",
    "/api/exchange/pools/{}", "/api/exchange/quote?asset=btc&direction={}&amount={}",
    "/api/exchange/htlcs?hashlock={}", "/api/exchange/htlcs/{}", "/api/spv/btc/best/{}",
    "/api/exchange/positions/{}", "/api/exchange/pools/{}/deposit-quote?amount={}",
])  # fmt: skip
path_texts = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"), max_size=40),
    st.integers(-5, 2**70).map(str),
    st.sampled_from(["1" * 5_000, "0", "00" * 32, "ff" * 33, "²", "-1"]),
)


def _answered(status: int, raw: bytes) -> None:
    """A result or a JSON error; Starlette's own redirect of a trailing slash has no body."""
    if status == 307 and not raw:
        return
    assert status in ANSWERS, (status, raw[:300])
    body = json.loads(raw)
    if status >= 400:
        assert body["error"]["code"] and isinstance(body["error"]["message"], str)


def test_any_post_body_is_answered_with_json() -> None:
    app = _app()

    @FUZZ
    @given(posts, bodies, content_types, declared, st.booleans(), st.booleans())
    def run(
        path: str, body: bytes, kind: str, length: str | None, admin: bool, chunked: bool
    ) -> None:
        headers = {"content-type": kind} if kind else {}
        if admin:
            headers["authorization"] = f"Bearer {TOKEN}"
        if length is not None:
            headers["content-length"] = length
        sent: bytes | list[bytes] = [body[:100], body[100:]] if chunked or length else body
        _answered(*asgi_request(app, "POST", path, sent, headers, parse=False))

    run()


def test_any_path_and_query_is_answered_with_json() -> None:
    app = _app()

    @FUZZ
    @given(gets, path_texts, path_texts)
    def run(template: str, first: str, second: str) -> None:
        path = template.format(first, second)
        _answered(*asgi_request(app, "GET", path, parse=False))

    run()
