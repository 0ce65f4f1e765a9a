"""Two node API additions for tests and clients (issue 12): forge exactly N blocks, then pause
(``POST /api/admin/forging {"enabled": true, "blocks": n}``, what a regtest chain's ``mine(n)``
does), and the mempool's transactions (``GET /api/transactions?status=pending[&sender=...]``,
which lets a restarted client find the claim it sent before the restart)."""

from __future__ import annotations

import json

import pytest
from test_node_api import PARAMS, TOKEN, call, transfer_hex

from etm_bridge.chain.address import address_of
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.node.service import NodeService
from etm_bridge.store import ChainStore

ADMIN = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def service() -> NodeService:
    genesis, keys = dev_genesis(PARAMS, 3, funded=2)
    return NodeService(Chain(ChainStore.memory(), genesis), keys)


def _submit(service: NodeService, nonce: int = 0) -> str:
    body = json.dumps({"tx": transfer_hex(nonce)}).encode()
    status, got = call(service, "POST", "/api/transactions", body,
                       {"content-type": "application/json"})  # fmt: skip
    assert status == 200
    return str(got["id"])


def test_forging_n_blocks_forges_exactly_n_then_pauses(service: NodeService) -> None:
    body = json.dumps({"enabled": True, "blocks": 2}).encode()
    status, got = call(service, "POST", "/api/admin/forging", body, ADMIN)
    assert status == 200 and got["enabled"] and got["blocksLeft"] == 2
    forged = [service.forge(PARAMS.slot_time(slot)) for slot in (1, 2, 3, 4)]
    assert [b is not None for b in forged] == [True, True, False, False]
    assert service.chain.status()["height"] == 2
    status, got = call(service, "GET", "/api/admin/forging", b"", ADMIN)
    assert not got["enabled"] and got["blocksLeft"] is None
    again = json.dumps({"enabled": True}).encode()  # no limit any more
    assert call(service, "POST", "/api/admin/forging", again, ADMIN)[1]["blocksLeft"] is None
    assert all(service.forge(PARAMS.slot_time(slot)) for slot in (5, 6, 7))


@pytest.mark.parametrize("blocks", [0, -1, 10_001, "2", 1.5, True])
def test_a_bad_block_count_is_refused(service: NodeService, blocks: object) -> None:
    body = json.dumps({"enabled": True, "blocks": blocks}).encode()
    status, got = call(service, "POST", "/api/admin/forging", body, ADMIN)
    assert (status, got["error"]["code"]) == (400, "invalid_request")
    assert call(service, "POST", "/api/admin/forging", body)[0] == 401  # admin only, first


def test_pending_transactions_are_listed_until_forged(service: NodeService) -> None:
    first, second = _submit(service, 0), _submit(service, 1)
    status, got = call(service, "GET", "/api/transactions?status=pending")
    assert status == 200
    assert [(t["id"], t["status"], t["typeName"]) for t in got["transactions"]] == [
        (first, "pending", "transfer"),
        (second, "pending", "transfer"),
    ]
    alice, bob = (address_of(dev_key(n).public_key) for n in ("user-0", "user-1"))
    mine = call(service, "GET", f"/api/transactions?status=pending&sender={alice}")[1]
    assert [t["id"] for t in mine["transactions"]] == [first, second]
    theirs = call(service, "GET", f"/api/transactions?status=pending&sender={bob}")[1]
    assert theirs["transactions"] == []
    assert service.forge(PARAMS.slot_time(1)) is not None
    assert call(service, "GET", "/api/transactions?status=pending")[1]["transactions"] == []


@pytest.mark.parametrize("query", ["", "?status=confirmed", "?status=pending&sender=etm1nope"])
def test_a_bad_listing_query_is_refused(service: NodeService, query: str) -> None:
    status, got = call(service, "GET", f"/api/transactions{query}")
    assert status == 400 and got["error"]["code"] in ("invalid_request", "AddressError")
