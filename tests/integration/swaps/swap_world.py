"""Two parties swapping on REAL nodes through the watcher: the session's bcoin/bitcoind regtest
node and anvil, with the project's Bitcoin and Ethereum adapter plugins.

The swap engine is chain-agnostic: a swap is a long leg (the user's lock) and a short leg (the
operator's counter lock). Until the ETM node exposes its native HTLC through a ChainAdapter, the
long leg is played here by Bitcoin and the short leg by Ethereum, in the ``etm_to_foreign``
shape (the user locks first, the operator counter-locks, no SPV proof step). Every lock, claim
and refund below is a real transaction validated by a real node.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from eth_account import Account
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_ethereum import Deployment, EthereumAdapter, deploy_contract

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.preimages import new_preimage

BTC_SAT = 1_000_000
ETH_WEI = 10**16
#: Short legs of real regtest/anvil blocks (minutes, not hours), so short margins: the reveal
#: margin (10 anvil blocks of 12 s, the terms' margin) and the shortest counter lock accepted.
CONFIG = WatcherConfig(
    policy=PolicyConfig(
        leg_margin_s=3600, retry_after_s=0, reveal_margin_s=120, min_counter_lock_s=120
    )
)


def fresh_eth_key(anvil_node: Any) -> str:
    key = "0x" + secrets.token_hex(32)
    address = Account.from_key(key).address
    anvil_node.rpc.call("anvil_setBalance", address, hex(10**20))
    return key


class SwapWorld:
    def __init__(self, bitcoin_node: Any, anvil_node: Any, tmp: Path) -> None:
        self.btc_node, self.anvil, self.tmp = bitcoin_node, anvil_node, tmp
        if bitcoin_node.height() < 101:
            bitcoin_node.mine(101 - bitcoin_node.height())
        deployer = fresh_eth_key(anvil_node)
        self.htlc: Deployment = deploy_contract(anvil_node.rpc_url, deployer, tmp / "deployer")
        self.configs: dict[Role, dict[str, dict[str, Any]]] = {}
        for role in Role:
            self.configs[role] = {
                "bitcoin": self._btc_config(role),
                "ethereum": self._eth_config(role),
            }
        user_btc = BitcoinAdapter.from_config(self.configs[Role.USER]["bitcoin"])
        bitcoin_node.fund(user_btc.address(), 5 * BTC_SAT, confirm=False)
        bitcoin_node.mine(1)
        user_btc.close()
        self.preimage = new_preimage()

    def _btc_config(self, role: Role) -> dict[str, Any]:
        return {
            "rpc_url": self.btc_node.rpc_url,
            "rpc_user": self.btc_node.rpc_user,
            "rpc_password": self.btc_node.rpc_password,
            "secret_hex": secrets.token_hex(32),
            "data_dir": str(self.tmp / f"btc-{role.value}"),
            "network": "regtest",
            "birth_height": self.btc_node.height(),
        }

    def _eth_config(self, role: Role) -> dict[str, Any]:
        return {
            "rpc_url": self.anvil.rpc_url,
            "private_key": fresh_eth_key(self.anvil),
            "htlc_address": self.htlc.address,
            "data_dir": str(self.tmp / f"eth-{role.value}"),
            "from_block": self.htlc.block_number,
            "receipt_timeout_s": 30,
        }

    def adapters(self, role: Role) -> dict[str, Any]:
        c = self.configs[role]
        return {
            "bitcoin": BitcoinAdapter.from_config(c["bitcoin"]),
            "ethereum": EthereumAdapter.from_config(c["ethereum"]),
        }

    def db(self, role: Role) -> Path:
        return self.tmp / f"{role.value}.db"

    def terms(
        self,
        user_blocks: int = 40,
        counter_blocks: int = 60,
        counter_confirmations: int = 1,
        user_confirmations: int = 1,
    ) -> SwapTerms:
        user_ad, op_ad = self.adapters(Role.USER), self.adapters(Role.OPERATOR)
        try:
            btc_tip = user_ad["bitcoin"].tip().height
            eth_tip = user_ad["ethereum"].tip().height
            user = LegTerms(
                "bitcoin",
                BTC_SAT,
                op_ad["bitcoin"].our_key(),
                user_ad["bitcoin"].our_key(),
                btc_tip + user_blocks,
                user_confirmations,
            )
            counter = LegTerms(
                "ethereum",
                ETH_WEI,
                user_ad["ethereum"].our_key(),
                op_ad["ethereum"].our_key(),
                eth_tip + counter_blocks,
                counter_confirmations,
            )
        finally:
            for a in (*user_ad.values(), *op_ad.values()):
                a.close()
        now = 1_700_000_000
        return SwapTerms(
            "real1",
            SwapDirection.ETM_TO_FOREIGN,
            sha256(self.preimage),
            user,
            counter,
            now,
            now + 10**9,
            10,
        )

    def create(self, terms: SwapTerms) -> None:
        for role in Role:
            store = SwapStore(self.db(role))
            preimage = self.preimage if role is Role.USER else None
            store.create(SwapRecord(terms, role, preimage=preimage))
            store.close()

    def watcher(self, role: Role) -> Watcher:
        w = Watcher(SwapStore(self.db(role)), self.adapters(role), owner=role.value, config=CONFIG)
        w.start()
        return w

    def mine(self, blocks: int = 1) -> None:
        self.btc_node.mine(blocks)
        self.anvil.rpc.call("anvil_mine", hex(blocks))

    def state(self, role: Role) -> SwapState:
        store = SwapStore(self.db(role))
        try:
            return store.get("real1").state
        finally:
            store.close()
