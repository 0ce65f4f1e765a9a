"""Amounts through the node: u128 payload overflow is ``bad_amount``; the deposit-quote route.

The route's numbers on a funded pool are :func:`etm_bridge.exchange.views.lp_deposit_quote`'s
(tests/unit/exchange); here, what the node adds: routing, 404 for an unknown pool, 400 naming
the parameter, and ``pool_empty`` before the first deposit.
"""

from __future__ import annotations

import pytest
from test_exchange_api import Node, _pool_create

from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.node.setup import NODE_TX_PLUGINS


@pytest.fixture
def node() -> Node:
    return Node(NODE_TX_PLUGINS)


def test_a_swap_in_past_u128_is_rejected_by_the_chain_as_bad_amount(node: Node) -> None:
    payload = pl.SwapIn("btc", "etm1x", 2**128, b"\x01" * 32, 1, b"\x02")
    with pytest.raises(TxRejectedError) as exc:
        node.send(dev_key("user-0"), tt.SWAP_IN, pl.encode_payload(payload))
    assert exc.value.reason == "bad_amount" and "u128" in str(exc.value)


def test_deposit_quote_route(node: Node) -> None:
    status, body = node.get("/api/exchange/pools/btc/deposit-quote?amount=5")
    assert status == 404 and "no pool" in body["error"]["message"]
    _pool_create(node)
    status, body = node.get("/api/exchange/pools/btc/deposit-quote?amount=5")
    assert status == 400 and "pool_empty" in body["error"]["message"]
    for bad in ("0", "1.5", str(2**128), "9" * 5000):
        status, body = node.get(f"/api/exchange/pools/btc/deposit-quote?amount={bad}")
        assert status == 400 and "amount" in body["error"]["message"], bad


def test_quote_takes_amounts_past_a_u64(node: Node) -> None:
    _pool_create(node)
    status, body = node.get(f"/api/exchange/quote?asset=btc&direction=asset_to_etm&amount={2**100}")
    assert status == 400 and "pool_empty" in body["error"]["message"]


def test_a_quote_names_the_depth_and_the_expected_wait(node: Node) -> None:
    """Issue 11, item 5: the depth a swap in's lock needs scales with its value (whitepaper 3.1;
    regtest's policy: q = 0.1, expected loss at most 10 BTC), and the quote says how long the
    confirmations take at the chain's nominal block time."""
    from etm_bridge.exchange.pool import PoolDirection
    from etm_bridge.node.exchange_api import _depth

    _pool_create(node)
    state = node.service.chain.store_view()
    small = _depth(state, "btc", PoolDirection.ASSET_TO_ETM, 100_000)
    assert small == {"chain": "btc", "confirmations": 1, "block_time_s": 600,
                     "expected_wait_s": 600, "value_scaled_confirmations": 0}  # fmt: skip
    large = _depth(state, "btc", PoolDirection.ASSET_TO_ETM, 10**11)  # 1000 BTC
    assert large["confirmations"] == large["value_scaled_confirmations"] == 4
    assert large["expected_wait_s"] == 4 * 600


def test_a_swap_outs_quote_names_the_depth_of_the_operators_lock_before_the_reveal() -> None:
    """Review a11b: the ETM -> BTC user claims the operator's lock, revealing the secret. After
    one confirmation an operator with hash power (the relay policy's q = 10 %: about 1 in 5 at
    one block) replaces the block holding its lock, double-spends it, and claims the user's
    ETM with the revealed secret. The quote now names the relay's depth for the asset output
    (mainnet: the floor of 6, 8 for 10 BTC; the pool's own value is the operator's and does
    not count), and ``swap start`` makes it the counter leg's confirmations."""
    from etm_bridge.exchange.pool import PoolDirection
    from etm_bridge.node.exchange_api import _depth

    mainnet = Node(NODE_TX_PLUGINS, dev_pools=False, btc_network="mainnet")
    _pool_create(mainnet)
    state = mainnet.service.chain.store_view()
    one = _depth(state, "btc", PoolDirection.ETM_TO_ASSET, 10**8)
    assert one["confirmations"] == 6 and one["expected_wait_s"] == 6 * 600
    assert _depth(state, "btc", PoolDirection.ETM_TO_ASSET, 10**9)["confirmations"] == 8
