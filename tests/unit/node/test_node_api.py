"""The node API in-process: the real Starlette app and a real chain on an in-memory store,
driven through the ASGI interface (no HTTP socket), so limits and statuses are checked fast."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from typing import Any

import pytest
from asgi_call import asgi_request

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.block import Block
from etm_bridge.chain.consensus import forging_order
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ETM_EPOCH_UNIX, ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.node.api import create_app
from etm_bridge.node.server import forger_loop
from etm_bridge.node.service import NodeService
from etm_bridge.store import ChainStore
from etm_bridge.units import ETM

TOKEN = "t" * 32
LIMIT = 4096
PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, delegates_per_round=3)


@pytest.fixture
def service() -> NodeService:
    genesis, keys = dev_genesis(PARAMS, 3, funded=2)
    return NodeService(Chain(ChainStore.memory(), genesis), keys)


def call(
    service: NodeService,
    method: str,
    path: str,
    body: bytes | list[bytes] = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One ASGI request to a fresh app over ``service``."""
    app = create_app(service, admin_token=TOKEN, max_body_bytes=LIMIT)
    return asgi_request(app, method, path, body, headers)


def transfer_hex(nonce: int = 0, amount: int = ETM) -> str:
    alice = dev_key("user-0")
    payload = TransferPayload(address_hash(dev_key("user-1").public_key), amount).encode()
    tx = Tx.create(alice, network=PARAMS.network_id, type_id=TRANSFER, nonce=nonce,
                   fee=100_000, payload=payload)  # fmt: skip
    return tx.encoded.hex()


def test_a_submitted_transfer_is_forged_in_the_owners_slot(service: NodeService) -> None:
    status, body = call(service, "POST", "/api/transactions", json.dumps(
        {"tx": transfer_hex()}).encode(), {"content-type": "application/json"})  # fmt: skip
    assert status == 200 and body["status"] == "pending"
    assert call(service, "GET", f"/api/transactions/{body['id']}")[1]["status"] == "pending"
    order = forging_order(service.chain.block_by_height(0).id, sorted(service.keys))
    block = service.forge(PARAMS.slot_time(1))
    assert block is not None and block.header.generator_public_key == order[1]
    assert service.forge(PARAMS.slot_time(1)) is None  # one block per slot
    status, tx = call(service, "GET", f"/api/transactions/{body['id']}")
    assert (status, tx["status"], tx["height"]) == (200, "confirmed", 1)
    status, got = call(service, "GET", "/api/blocks/1")
    assert got["transactionIds"] == [body["id"]] and got["generatorPublicKey"] == order[1].hex()
    assert call(service, "GET", f"/api/blocks/{got['fullId']}")[1]["height"] == 1
    bob = encode_address(address_hash(dev_key("user-1").public_key))
    assert call(service, "GET", f"/api/accounts/{bob}")[1]["balance"] == 1_000_001 * ETM


def test_text_and_octet_stream_bodies_are_accepted(service: NodeService) -> None:
    text = transfer_hex(0).encode()
    assert (
        call(service, "POST", "/api/transactions", text, {"content-type": "text/plain"})[0] == 200
    )
    raw = bytes.fromhex(transfer_hex(1))
    octets = {"content-type": "application/octet-stream"}
    assert call(service, "POST", "/api/transactions", raw, octets)[0] == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"0" * (LIMIT + 1), {"content-type": "text/plain"}, 413, "body_too_large"),
        ([b"0" * 1024] * 5, {"content-type": "text/plain"}, 413, "body_too_large"),
        (b"{", {"content-type": "application/json"}, 400, "invalid_request"),
        (b'{"tx": 5}', {"content-type": "application/json"}, 400, "invalid_request"),
        (b"zz", {"content-type": "text/plain"}, 400, "invalid_request"),
        (b"00", {"content-type": "image/png"}, 415, "http_error"),
        (b"[" * 3000, {"content-type": "application/json"}, 400, "invalid_request"),
        (b'{"tx": ' + b"{" * 40, {"content-type": "application/json"}, 400, "invalid_request"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(
    service: NodeService, body: bytes | list[bytes], headers: dict, status: int, code: str
) -> None:
    got_status, got = call(service, "POST", "/api/transactions", body, headers)
    assert (got_status, got["error"]["code"]) == (status, code)


def test_rejections_carry_the_chain_reason(service: NodeService) -> None:
    status, body = call(service, "POST", "/api/transactions", transfer_hex(nonce=3).encode(),
                        {"content-type": "text/plain"})  # fmt: skip
    assert (status, body["error"]["code"]) == (400, "wrong_nonce")


def test_a_block_is_found_by_height_display_id_and_full_id(service: NodeService) -> None:
    block = service.forge(PARAMS.slot_time(1))
    assert block is not None
    for ref in ("1", block.header.short_id, block.id.hex()):
        status, got = call(service, "GET", f"/api/blocks/{ref}")
        assert (status, got["fullId"], got["id"]) == (200, block.id.hex(), block.header.short_id)
        status, raw = call(service, "GET", f"/api/blocks/{ref}?format=hex")
        assert (status, raw["hex"]) == (200, block.encoded.hex())


@pytest.mark.parametrize(
    "path",
    [
        "/api/blocks/-1",
        "/api/blocks/0x00",
        "/api/blocks/²",  # str.isdigit() is true, int() refuses it
        "/api/blocks/" + "9" * 21,
        "/api/blocks/18446744073709551616",  # 2**64: not a 64-bit id
        "/api/blocks/1?format=xml",
        "/api/blocks?limit=%C2%B2",  # a percent-encoded "²"
    ],
)
def test_malformed_block_references_are_400_naming_the_problem(
    service: NodeService, path: str
) -> None:
    status, got = call(service, "GET", path)
    assert (status, got["error"]["code"]) == (400, "invalid_request"), got


def test_a_non_ascii_content_length_is_400(service: NodeService) -> None:
    # Header bytes are decoded as latin-1: b"\xb2" is "²", which str.isdigit() accepts.
    headers = {"content-length": "\xb2", "content-type": "text/plain"}
    status, got = call(service, "POST", "/api/transactions", [b"00"], headers)
    assert (status, got["error"]["message"]) == (400, "Content-Length is not a number")


def test_unknown_things_are_404(service: NodeService) -> None:
    assert call(service, "GET", "/api/blocks/99")[0] == 404
    assert call(service, "GET", "/api/blocks/" + "ab" * 32)[0] == 404
    assert call(service, "GET", "/api/blocks/12345678901234567890")[0] == 404
    assert call(service, "GET", "/api/transactions/" + "cd" * 32)[0] == 404
    assert call(service, "GET", "/api/nowhere")[0] == 404


def test_admin_needs_the_token_and_toggles_forging(service: NodeService) -> None:
    body = json.dumps({"enabled": False}).encode()
    assert call(service, "POST", "/api/admin/forging", body)[0] == 401
    wrong = {"authorization": "Bearer " + "x" * 32}
    assert call(service, "POST", "/api/admin/forging", body, wrong)[0] == 401
    good = {"authorization": f"Bearer {TOKEN}"}
    assert call(service, "POST", "/api/admin/forging", body, good) == (
        200,
        service.forging_status(),
    )
    assert service.forge(PARAMS.slot_time(1)) is None
    seed = bytes(range(32)).hex().encode()
    status, got = call(service, "POST", "/api/admin/forging/keys", b'{"seed": "' + seed + b'"}',
                       good)  # fmt: skip
    assert status == 200 and len(got["publicKeys"]) == 4


def test_round_and_delegates_views(service: NodeService) -> None:
    status, got = call(service, "GET", "/api/rounds/current")
    order = forging_order(service.chain.block_by_height(0).id, sorted(service.keys))
    assert status == 200 and [d["publicKey"] for d in got["order"]] == [k.hex() for k in order]
    status, got = call(service, "GET", "/api/delegates")
    assert status == 200 and len(got["delegates"]) == 3
    assert call(service, "GET", "/api/blocks?limit=0")[0] == 400
    assert len(call(service, "GET", "/api/blocks?limit=5")[1]["blocks"]) == 1


class _FlakyForger(NodeService):
    """A real NodeService whose first forging attempt hits an unexpected (non-library) error."""

    failures = 1

    def forge(self, now: int) -> Block | None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return super().forge(now)


def test_the_forger_loop_survives_an_unexpected_error_and_reports_it() -> None:
    genesis, keys = dev_genesis(PARAMS, 3, funded=2)
    service = _FlakyForger(Chain(ChainStore.memory(), genesis), keys)
    unix_now = float(ETM_EPOCH_UNIX + PARAMS.slot_time(1))

    async def run_briefly() -> None:
        task = asyncio.create_task(forger_loop(service, clock=lambda: unix_now, poll_s=0.001))
        await asyncio.sleep(0.05)
        assert not task.done(), "the forger loop ended"
        task.cancel()

    asyncio.run(run_briefly())
    assert service.chain.status()["height"] >= 1, "it never forged after the error"
    assert service.forging_status()["lastError"] is None  # cleared by the next block
