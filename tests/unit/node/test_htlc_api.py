"""The native HTLC read routes in-process (``node.htlc_api``): a real chain with the
``node init`` plug-ins, HTLC transactions forged into blocks, the app driven through ASGI."""

from __future__ import annotations

from dataclasses import replace

import pytest
from asgi_call import asgi_request

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange import views
from etm_bridge.exchange.htlc import Htlc, HtlcStatus
from etm_bridge.exchange.pool import PoolDirection
from etm_bridge.hashlock import sha256
from etm_bridge.node.api import create_app
from etm_bridge.node.htlc_api import htlc_routes
from etm_bridge.node.service import NodeService
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.store import ChainStore

PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, delegates_per_round=3)
FEE = 200_000
SECRET = b"\x07" * 32
HASHLOCK = sha256(SECRET)


class Node:
    def __init__(self, plugins: tuple[str, ...]) -> None:
        self.params = replace(PARAMS, tx_plugins=plugins)
        genesis, keys = dev_genesis(self.params, 3, funded=2)
        self.service = NodeService(Chain(ChainStore.memory(), genesis), keys)
        self.nonce, self.slot = 0, 0

    def get(self, path: str) -> tuple[int, dict]:
        chain = self.service.chain
        routes = htlc_routes(chain.store_view, chain.registry.table_names)
        app = create_app(self.service, admin_token="t" * 32, max_body_bytes=4096,
                         extra_routes=routes)  # fmt: skip
        return asgi_request(app, "GET", path)

    def send(self, key: SigningKey, type_id: int, payload: object) -> str:
        tx = Tx.create(key, network=self.params.network_id, type_id=type_id, nonce=self.nonce,
                       fee=FEE, payload=pl.encode_payload(payload))  # fmt: skip
        self.service.chain.submit_tx(tx)
        self.nonce += 1
        for _ in range(20):
            self.slot += 1
            if self.service.forge(self.params.slot_time(self.slot)) is not None:
                return tx.id.hex()
        raise AssertionError("no block forged")


@pytest.fixture
def node() -> Node:
    return Node(NODE_TX_PLUGINS)


SENDER = dev_key("user-0")
RECIPIENT = encode_address(address_hash(dev_key("user-1").public_key))


def _lock(node: Node, amount: int = 5_000) -> str:
    return node.send(SENDER, tt.HTLC_LOCK, pl.HtlcLockPayload(RECIPIENT, amount, HASHLOCK, 500))


def test_a_lock_is_found_by_hashlock_and_id_then_its_claim_shows_the_preimage(
    node: Node,
) -> None:
    assert node.get(f"/api/exchange/htlcs?hashlock={HASHLOCK.hex()}") == (
        200,
        {"hashlock": HASHLOCK.hex(), "htlcs": [], "reserved_by": None},
    )
    htlc_id = _lock(node)
    status, body = node.get(f"/api/exchange/htlcs?hashlock={HASHLOCK.hex().upper()}")
    assert status == 200 and [h["htlc_id"] for h in body["htlcs"]] == [htlc_id]
    status, one = node.get(f"/api/exchange/htlcs/{htlc_id}")
    assert status == 200 and one == body["htlcs"][0]
    sender = encode_address(address_hash(SENDER.public_key))
    assert (one["sender"], one["recipient"], one["amount"]) == (sender, RECIPIENT, 5_000)
    assert (one["status"], one["preimage"], one["expiry_height"]) == ("locked", None, 500)
    assert rc.decode(Htlc, one).hashlock == HASHLOCK
    node.send(SENDER, tt.HTLC_CLAIM, pl.HtlcClaim(bytes.fromhex(htlc_id), SECRET))
    status, claimed = node.get(f"/api/exchange/htlcs/{htlc_id}")
    assert status == 200 and (claimed["status"], claimed["preimage"]) == ("claimed", SECRET.hex())


def test_a_hashlock_serves_one_lock_ever_and_is_found_in_one_lookup(node: Node) -> None:
    first = _lock(node, 1_000)
    other = node.send(SENDER, tt.HTLC_LOCK, pl.HtlcLockPayload(RECIPIENT, 3, b"\x01" * 32, 500))
    with pytest.raises(TxRejectedError) as refused:  # issue 11: never a second HTLC
        _lock(node, 2_000)
    assert refused.value.reason == "hashlock_used"
    node.send(SENDER, tt.HTLC_CLAIM, pl.HtlcClaim(bytes.fromhex(first), SECRET))
    with pytest.raises(TxRejectedError) as again:  # ended, its preimage public: still used
        _lock(node, 2_000)
    assert again.value.reason == "hashlock_used"
    status, body = node.get(f"/api/exchange/htlcs?hashlock={HASHLOCK.hex()}")
    assert status == 200 and [h["htlc_id"] for h in body["htlcs"]] == [first]
    assert other not in {h["htlc_id"] for h in body["htlcs"]}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/exchange/htlcs", 400, "hashlock"),
        ("/api/exchange/htlcs?hashlock=zz", 400, "hashlock"),
        ("/api/exchange/htlcs?hashlock=abcd", 400, "32 bytes"),
        ("/api/exchange/htlcs/abcd", 400, "htlc id"),
        (f"/api/exchange/htlcs/{'ab' * 32}", 404, "ab" * 32),
    ],
)
def test_bad_or_unknown_htlc_queries(node: Node, path: str, status: int, says: str) -> None:
    got, body = node.get(path)
    assert got == status and says in body["error"]["message"]


def test_swap_history_is_empty_without_pool_swaps(node: Node) -> None:
    _lock(node)  # a plain HTLC is not a pool swap
    assert node.get("/api/exchange/swap-history") == (200, {"swaps": [], "next": None})


def test_a_core_only_chain_answers_404() -> None:
    core = Node(())
    for path in (f"/api/exchange/htlcs?hashlock={HASHLOCK.hex()}", "/api/exchange/swap-history"):
        status, body = core.get(path)
        assert status == 404 and "tx_plugins" in body["error"]["message"]


def test_swap_history_lists_open_and_ended_swaps_with_their_htlc() -> None:
    state = State(EmptyBackend(), [rc.HTLCS, rc.SWAPS, rc.SWAP_LOG])
    for n, status in ((1, HtlcStatus.LOCKED), (2, HtlcStatus.REFUNDED)):
        htlc = Htlc(bytes([n]) * 32, RECIPIENT, "pool:btc", 10 * n, HASHLOCK, 99, status)
        swap = rc.PoolSwap("btc", PoolDirection.ETM_TO_ASSET, 10 * n, 1, 5 * n, RECIPIENT, b"k")
        state.put_json(rc.HTLCS, htlc.htlc_id, rc.encode(htlc))
        state.put_json(rc.SWAPS, htlc.htlc_id, rc.encode(swap))
        # the swap log as swap_plans._open_swap writes it: per asset, in the order opened
        state.put(rc.SWAP_LOG, rc.asset_key("btc", n.to_bytes(8, "big")), htlc.htlc_id)
    rows = views.swap_history(state)
    assert [(r["htlc"]["status"], r["swap"]["amount_out"]) for r in rows] == [
        ("locked", 5),
        ("refunded", 10),
    ]
    assert all(r["htlc_id"] == r["htlc"]["htlc_id"] for r in rows)
    assert views.swap_history(state, "eth") == []
