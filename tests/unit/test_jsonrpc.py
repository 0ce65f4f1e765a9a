"""JSON-RPC client: error codes map to classes, transport failures name the URL.

A loopback HTTP server answers with fixed bodies the way bitcoind does (HTTP 500 + JSON error,
401 without credentials); the client against real nodes is covered in tests/integration/stack.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from etm_bridge.errors import (
    ConfigError,
    InvalidTransactionError,
    NodeUnavailableError,
    RPCDeserializationError,
    RPCError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
    RPCWarmupError,
)
from etm_bridge.jsonrpc import RPC_ERROR_CLASSES, JsonRpcClient, error_from_reply


class _Handler(BaseHTTPRequestHandler):
    """Replies ``{"result": params}`` or an error whose code is ``params[0]`` for ``fail``."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") is None:
            self._send(401, b"")
        elif body["method"] == "fail":
            code, message = body["params"]
            error = {"code": code, "message": message, "data": "0xdead"}
            self._send(500, json.dumps({"result": None, "error": error, "id": body["id"]}))
        elif body["method"] == "html":
            self._send(502, b"<html>bad gateway</html>")
        else:
            reply = {"result": [body["jsonrpc"], *body["params"]], "error": None, "id": body["id"]}
            self._send(200, json.dumps(reply))

    def _send(self, status: int, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_result_is_returned_with_the_requested_protocol_version(server_url: str) -> None:
    client = JsonRpcClient(server_url, user="u", password="p", version="2.0")
    assert client.call("echo", 1, "two") == ["2.0", 1, "two"]


@pytest.mark.parametrize(
    ("code", "cls"),
    [(-22, RPCDeserializationError), (-25, RPCMissingInputsError), (-26, RPCVerifyRejectedError)],
)
def test_node_error_codes_map_to_exception_classes(server_url: str, code: int, cls: type) -> None:
    client = JsonRpcClient(server_url, user="u", password="p")
    with pytest.raises(cls) as info:
        client.call("fail", code, "rejected")
    assert info.value.code == code
    assert info.value.data == "0xdead"
    assert isinstance(info.value, InvalidTransactionError)
    assert "fail: rejected" in str(info.value)


def test_unknown_code_is_a_plain_rpc_error(server_url: str) -> None:
    with pytest.raises(RPCError) as info:
        JsonRpcClient(server_url, user="u", password="p").call("fail", -32000, "nope")
    assert type(info.value) is RPCError
    assert info.value.code == -32000


def test_missing_credentials_are_reported_as_unavailable_naming_the_url(server_url: str) -> None:
    with pytest.raises(NodeUnavailableError, match=r"127\.0\.0\.1.*credentials"):
        JsonRpcClient(server_url).call("echo")


def test_non_json_reply_names_the_status(server_url: str) -> None:
    with pytest.raises(NodeUnavailableError, match="HTTP 502"):
        JsonRpcClient(server_url, user="u", password="p").call("html")


def test_refused_connection_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(NodeUnavailableError, match=url):
        JsonRpcClient(url, timeout_s=2).call("getblockcount")


def test_error_mapping_covers_the_codes_adapters_rely_on() -> None:
    assert {-5, -8, -22, -25, -26, -27, -28} <= set(RPC_ERROR_CLASSES)
    assert isinstance(error_from_reply({"code": -28, "message": "warming"}, "x"), RPCWarmupError)
    assert type(error_from_reply("text error", "x")) is RPCError


def test_bad_version_or_timeout_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="version"):
        JsonRpcClient("http://127.0.0.1:1", version="3.0")
    for timeout_s in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="timeout_s"):
            JsonRpcClient("http://127.0.0.1:1", timeout_s=timeout_s)
