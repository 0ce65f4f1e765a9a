"""The exchange and SPV read routes in-process: a real chain with the ``node init`` plug-ins
(:data:`~etm_bridge.node.setup.NODE_TX_PLUGINS`), transactions forged into blocks, and the
Starlette app driven through ASGI (``asgi_call.asgi_request``, shared with test_node_api)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from asgi_call import asgi_request

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.bitcoin.etm.relay_types import BTC_RELAY_HEADERS
from etm_bridge.chains.bitcoin.spv.header_relay import Checkpoint
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.node import spv_plugin
from etm_bridge.node.api import create_app
from etm_bridge.node.exchange_api import exchange_routes
from etm_bridge.node.service import NodeService
from etm_bridge.node.setup import NODE_TX_PLUGINS, relays_from_options
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.store import ChainStore

PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, delegates_per_round=3)
CLAIM_KEY = btc_pubkey_of(b"\x09" * 32)
FEE = 200_000


class Node:
    """A chain with the given plug-ins behind a NodeService; ``send`` forges the tx in."""

    def __init__(
        self, plugins: tuple[str, ...], dev_pools: bool = True, btc_network: str | None = None
    ) -> None:
        self.params = replace(PARAMS, tx_plugins=plugins)
        genesis, keys = dev_genesis(self.params, 3, funded=2)
        if (dev_pools or btc_network) and spv_plugin.__name__ in plugins:
            relays = relays_from_options({"btc_network": btc_network})  # node init's
            spv = SpvSection(relays, allow_dev_pools=dev_pools).to_json()
            genesis = genesis.with_plugin_section(spv_plugin.SECTION, spv)
        self.service = NodeService(Chain(ChainStore.memory(), genesis), keys)
        self.nonce = 0
        self.slot = 0

    def get(self, path: str) -> tuple[int, dict]:
        chain = self.service.chain
        routes = exchange_routes(chain.store_view, chain.registry.table_names)
        app = create_app(self.service, admin_token="t" * 32, max_body_bytes=4096,
                         extra_routes=routes)  # fmt: skip
        return asgi_request(app, "GET", path)

    def send(self, key: SigningKey, type_id: int, payload: bytes) -> None:
        tx = Tx.create(key, network=self.params.network_id, type_id=type_id, nonce=self.nonce,
                       fee=FEE, payload=payload)  # fmt: skip
        self.service.chain.submit_tx(tx)
        self.nonce += 1
        for _ in range(20):
            self.slot += 1
            if self.service.forge(self.params.slot_time(self.slot)) is not None:
                return
        raise AssertionError("no block forged")


@pytest.fixture
def node() -> Node:
    return Node(NODE_TX_PLUGINS)


def _pool_create(node: Node) -> None:
    payload = pl.PoolCreate("btc", CLAIM_KEY, 3_000, 100, 1)
    node.send(dev_key("user-0"), tt.POOL_CREATE, pl.encode_payload(payload))


def test_a_created_pool_is_listed_and_shown(node: Node) -> None:
    assert node.get("/api/exchange/pools") == (200, {"pools": [], "next": None})
    _pool_create(node)
    status, body = node.get("/api/exchange/pools")
    assert status == 200 and [p["asset"] for p in body["pools"]] == ["btc"]
    status, pool = node.get("/api/exchange/pools/BTC")
    assert status == 200 and pool["claim_key"] == CLAIM_KEY.hex()
    assert pool["min_confirmations"] == 1 and pool["total_shares"] == 0
    assert pool["min_withdrawal"] == 10_000  # the chain's floor for BTC (above dust + fee)
    assert pool["operator"] == encode_address(address_hash(dev_key("user-0").public_key))


def test_a_pool_on_the_regtest_relay_needs_the_genesis_development_flag() -> None:
    """Issue 11, item 13: a regtest header costs about two hashes, so anyone could forge the
    proof of a lock that never existed. Without ``allow_dev_pools`` the chain refuses pools."""
    strict = Node(NODE_TX_PLUGINS, dev_pools=False)
    with pytest.raises(TxRejectedError) as exc:
        _pool_create(strict)
    assert exc.value.reason == "dev_network_pool" and "--dev-pools" in str(exc.value)
    assert strict.get("/api/exchange/pools")[1]["pools"] == []


@pytest.mark.parametrize("network", ["testnet4", "regtest"])
def test_a_pool_on_a_testnet4_relay_needs_the_development_flag_too(network: str) -> None:
    """Review a11b: testnet4's 20-minute rule makes a header cost ~2^32 hashes, and six of them
    stamped up to 2 h ahead prove a lock that never existed to a pool (performed through the
    real relay and verifier in ``tests/unit/exchange/test_min_difficulty_forgery.py``). A
    ``node init --btc-network testnet4`` chain refuses pools unless ``--dev-pools``."""
    strict = Node(NODE_TX_PLUGINS, dev_pools=False, btc_network=network)
    assert strict.get("/api/spv/btc")[1]["network"] == network
    with pytest.raises(TxRejectedError) as exc:
        _pool_create(strict)
    assert exc.value.reason == "dev_network_pool" and network in str(exc.value)
    flagged = Node(NODE_TX_PLUGINS, dev_pools=True, btc_network=network)
    _pool_create(flagged)
    assert [p["asset"] for p in flagged.get("/api/exchange/pools")[1]["pools"]] == ["btc"]


def test_a_pool_on_the_mainnet_relay_needs_no_flag() -> None:
    node = Node(NODE_TX_PLUGINS, dev_pools=False, btc_network="mainnet")
    _pool_create(node)
    assert [p["asset"] for p in node.get("/api/exchange/pools")[1]["pools"]] == ["btc"]


def test_unknown_pool_and_quote_on_it_are_404(node: Node) -> None:
    assert node.get("/api/exchange/pools/eth")[0] == 404
    status, body = node.get("/api/exchange/quote?asset=eth&direction=asset_to_etm&amount=5")
    assert status == 404 and "no pool" in body["error"]["message"]


@pytest.mark.parametrize(
    "query, needle",
    [
        ("asset=btc&direction=sideways&amount=5", "direction"),
        ("asset=btc&direction=asset_to_etm&amount=0", "amount"),
        ("asset=btc&direction=asset_to_etm&amount=1.5", "amount"),
        ("asset=btc&direction=asset_to_etm", "amount"),
    ],
)
def test_bad_quote_queries_are_400_naming_the_parameter(
    node: Node, query: str, needle: str
) -> None:
    status, body = node.get(f"/api/exchange/quote?{query}")
    assert status == 400 and needle in body["error"]["message"]


def test_positions_obligations_swaps_and_bindings_of_a_fresh_investor(node: Node) -> None:
    alice = dev_key("user-1")
    me = encode_address(address_hash(alice.public_key))
    empty = {"address": me, "positions": [], "next": None}
    assert node.get(f"/api/exchange/positions/{me}") == (200, empty)
    assert node.get("/api/exchange/obligations") == (200, {"obligations": [], "next": None})
    assert node.get(f"/api/exchange/obligations?investor={me}")[1]["obligations"] == []
    assert node.get("/api/exchange/swaps?asset=btc") == (200, {"swaps": [], "next": None})
    assert node.get("/api/exchange/swaps?hashlock=zz")[0] == 400
    for bad in ("limit=0", "limit=101", "limit=x", "after=zz", "after=" + "00" * 200):
        status, body = node.get(f"/api/exchange/obligations?{bad}")
        assert status == 400 and ("limit" in body["error"]["message"] or "after" in str(body))
    unbound = dict.fromkeys(p.ticker for p in chain_registry())  # every installed chain
    assert node.get(f"/api/exchange/bindings/{me}")[1]["bindings"] == unbound
    assert node.get("/api/exchange/positions/etm1notanaddress")[0] == 400
    no_intents = {"address": me, "intents": [], "next": None}  # issue 15: bonded intents
    assert node.get(f"/api/exchange/intents/{me}") == (200, no_intents)
    assert node.get(f"/api/exchange/intents/{me}?hashlock={'ab' * 32}") == (200, no_intents)
    assert node.get(f"/api/exchange/intents/{me}?hashlock=zz")[0] == 400


def test_a_binding_in_a_block_is_visible(node: Node) -> None:
    alice = dev_key("user-0")
    me = encode_address(address_hash(alice.public_key))
    secret = b"\x05" * 32
    message = bd.binding_message(f"{node.params.network_id:#010x}", me, "btc", 1, 100)
    bind = pl.Bind("btc", btc_pubkey_of(secret), 1, 100, sign_btc(message, secret), False)
    node.send(alice, tt.BIND, pl.encode_payload(bind))
    bound = node.get(f"/api/exchange/bindings/{me}")[1]["bindings"]
    assert bound["btc"]["key"] == btc_pubkey_of(secret).hex() and bound["eth"] is None


def _regtest_child(parent: bytes) -> bytes:
    """A valid regtest header on ``parent`` (regtest's powLimit: about 2 tries)."""
    time = struct.unpack_from("<I", parent, 68)[0] + 600
    for nonce in range(10_000):
        header = struct.pack("<I", 0x20000000) + dsha256(parent) + b"\x11" * 32
        header += struct.pack("<III", time, 0x207FFFFF, nonce)
        if int.from_bytes(dsha256(header), "little") <= 0x7FFFFF << (8 * (0x20 - 3)):
            return header
    raise AssertionError("no nonce found")


def test_spv_relay_appears_after_the_first_header_batch(node: Node) -> None:
    assert node.get("/api/spv") == (200, {})
    assert node.get("/api/spv/btc")[0] == 404
    assert node.get("/api/spv/eth")[0] == 404
    assert node.get("/api/spv/eth/best/0")[0] == 404
    genesis = Checkpoint.genesis(params_for("regtest")).header
    first = _regtest_child(genesis)
    second = _regtest_child(first)
    node.send(dev_key("user-0"), BTC_RELAY_HEADERS, first + second)
    status, btc = node.get("/api/spv/btc")
    assert status == 200 and btc["network"] == "regtest"
    assert btc["tip"] == {**btc["tip"], "height": 2, "hash": dsha256(second)[::-1].hex()}
    assert node.get("/api/spv/btc/best/1")[1]["hash"] == dsha256(first)[::-1].hex()
    assert node.get("/api/spv/btc/best/0")[1]["hash"] == dsha256(genesis)[::-1].hex()
    assert node.get("/api/spv/btc/best/3")[0] == 404
    assert node.get("/api/spv/btc/best/x1")[0] == 400
    assert "bitcoin" in node.get("/api/spv")[1]


def test_a_core_only_chain_answers_404_for_exchange_and_spv() -> None:
    core = Node(())
    status, body = core.get("/api/exchange/pools")
    assert status == 404 and "not enabled" in body["error"]["message"]
    assert core.get("/api/spv")[0] == 404
