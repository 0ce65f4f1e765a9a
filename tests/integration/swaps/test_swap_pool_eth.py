"""ETH -> ETM and ETM -> ETH through the ETM pool on real nodes: anvil and an ETM node whose
genesis names the Ethereum relay (checkpoint at anvil's head, a trusted relayer), the
EtherSwapHTLC and the operator's PoolVault (``node init --eth-rpc`` / ``relay_genesis_from_node``).

The investor deposits ETH through the PoolVault (the Deposited log proven by a receipt proof)
plus ETM; the user locks ETH in the HTLC to the pool's claim key (the operator's address); the
user's engine relays the anvil headers and submits ``xchg_swap_in``; the exchange locks pool ETM
to the user; the user claims it; the operator's engine claims the ETH with the revealed secret.
Then ETM -> ETH: the user's ``xchg_swap_out``, the operator's ETH lock to the user's bound
address, the user's claim on anvil, the operator's ETM claim. Both engines end
``claimed_both`` each time and the pool's share value rises by the fees.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import isqrt
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address
from etm_bridge_ethereum import deploy_contract
from etm_bridge_ethereum.vault import VAULT
from etm_bridge_regtest.demo.engines import PoolSwaps
from etm_bridge_regtest.demo.parties import BitcoinRpc, EthSetup, Party, World
from etm_bridge_regtest.etm_process import etm_node_in

from etm_bridge.adapter import LockState
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.ethereum.node_init import relay_genesis_from_node
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.units import ETM

ETH = 10**18
DEPOSIT_WEI, DEPOSIT_ETM, SWAP_WEI = ETH, 100 * ETM, ETH // 100


def share_value(pool: dict[str, Any]) -> int:
    x, y = int(pool["effective_asset"]), int(pool["effective_etm"])
    return isqrt(x * y) * 1_000_000 // int(pool["total_shares"])


@pytest.fixture
def eth_world(anvil_node: Any, bitcoin_node: Any, tmp_path: Path) -> Iterator[tuple]:
    operator, investor, user = (Party.new(n, tmp_path) for n in ("operator", "investor", "user"))
    for party in (operator, investor, user):
        address = to_checksum_address("0x" + party.eth_address20.hex())
        anvil_node.rpc.call("anvil_setBalance", address, hex(100 * ETH))
    op_key = "0x" + operator.eth_secret.hex()
    htlc = deploy_contract(anvil_node.rpc_url, op_key, tmp_path / "deploy")
    vault = deploy_contract(
        anvil_node.rpc_url, op_key, tmp_path / "deploy", VAULT,
        (to_checksum_address("0x" + operator.eth_address20.hex()),),
    )  # fmt: skip
    relayer = dev_key("user-0")
    eth = relay_genesis_from_node(
        anvil_node.rpc_url,
        relayers=(relayer.public_key,),
        htlc_contract=bytes.fromhex(htlc.address[2:]),
        pool_vaults=((operator.eth_address20, bytes.fromhex(vault.address[2:])),),
    )
    spv = SpvSection({"eth": eth})
    init = {"delegates": 3, "block_time_s": 1, "funded_accounts": 1, "spv": spv}
    with etm_node_in(tmp_path / "etm", **init) as node:
        assert node.client is not None
        rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
        world = World(rpc, node.client.url, bitcoin_node.height())
        world.eth = EthSetup(anvil_node.rpc_url, htlc.address, htlc.block_number, vault.address,
                             relayer)  # fmt: skip
        yield world, operator, investor, user


def test_eth_to_etm_and_back_through_the_pool(
    eth_world, anvil_node, bitcoin_node, tmp_path
) -> None:
    world, operator, investor, user = eth_world
    client = world.client
    for party in (operator, investor, user):
        world.fund_etm(party, 1_000 * ETM)
    world.create_pool(operator, "eth", 3_000, 1)
    world.bind_eth(investor)
    world.bind_eth(user)

    def mine_eth(n: int) -> None:
        anvil_node.rpc.call("anvil_mine", hex(n))

    world.deposit_eth(investor, DEPOSIT_WEI, DEPOSIT_ETM, mine_eth)
    before = client.pool("eth")
    assert (before["asset_reserve"], before["etm_reserve"]) == (DEPOSIT_WEI, DEPOSIT_ETM)

    swaps = PoolSwaps(world, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    try:
        quote = client.quote("eth", "asset_to_etm", SWAP_WEI)
        terms = swaps.start_swap_in(SWAP_WEI, "eth")
        both = (Role.USER, Role.OPERATOR)
        swaps.run_until(terms.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [eth_lock] = swaps.op_ad["ethereum"].find_locks(terms.hashlock)
        spend = swaps.op_ad["ethereum"].find_spend(eth_lock)
        assert spend is not None and spend.kind.value == "claim"
        [etm_lock] = swaps.user_ad["etm"].find_locks(terms.hashlock)
        assert etm_lock.state is LockState.CLAIMED
        assert etm_lock.terms.amount == quote["amount_out"]
        after = client.pool("eth")
        assert after["asset_reserve"] == DEPOSIT_WEI + SWAP_WEI
        assert after["fees_asset"] == quote["fee"] > 0
        assert share_value(after) > share_value(before)

        quote_out = client.quote("eth", "etm_to_asset", 5 * ETM)
        out = swaps.start_swap_out(5 * ETM, "eth")
        swaps.run_until(out.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [eth_out] = swaps.user_ad["ethereum"].find_locks(out.hashlock)
        assert eth_out.terms.amount == quote_out["amount_out"]
        assert eth_out.terms.claim_key == user.eth_address20
        assert swaps.user_ad["ethereum"].find_spend(eth_out).kind.value == "claim"
        [etm_out] = swaps.op_ad["etm"].find_locks(out.hashlock)
        assert etm_out.state is LockState.CLAIMED and etm_out.terms.amount == 5 * ETM
        final = client.pool("eth")
        assert final["etm_reserve"] == after["etm_reserve"] + 5 * ETM
        assert final["asset_reserve"] == after["asset_reserve"] - quote_out["amount_out"]
        assert (final["asset_reserved"], final["etm_reserved"]) == (0, 0)
        assert share_value(final) > share_value(after)
    finally:
        print("\n".join(swaps.log))
        swaps.close()
