"""An HNS pool on a real ETM node, driven by the same use cases and engines as the BTC pool.

:class:`HnsParty` is a :class:`~etm_bridge.app.context.KeySource` with an ETM and a Handshake key
(the wallet label ``hns`` comes from the chain profile); :class:`HnsWorld` makes each party's
adapters and contexts over the session's hsd node and an ETM node whose genesis starts the
Handshake relay at regtest's genesis block; :class:`HnsPoolSwaps` is the demo's
:class:`~etm_bridge_regtest.demo.engines.PoolSwaps` (the user's and the operator's watchers, the
operator's pool follower, ``start_pool_swap``) with the Handshake leg in place of Bitcoin's.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_regtest.demo.engines import CONFIG, PoolSwaps
from etm_bridge_regtest.hsd import HsdNode
from hns_support import adapter_config

from etm_bridge.adapter import ChainAdapter
from etm_bridge.app import binding, liquidity
from etm_bridge.app.context import AppContext
from etm_bridge.app.swaps import start_pool_swap
from etm_bridge.chain.address import address_hash, address_of
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.handshake.binding import hns_pubkey_of
from etm_bridge.chains.handshake.wallet import HnsPublic
from etm_bridge.errors import ChainError, ValidationError
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.model import SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.wallet import WalletPublic
from etm_bridge.wallet.derive import EtmPublic

ETM_FEE = 100_000  # above the size-based minimum of every transaction here
LEG = "handshake"


@dataclass(frozen=True)
class HnsParty:
    name: str
    etm_seed: bytes
    hns_secret: bytes
    home: Path

    @classmethod
    def new(cls, name: str, root: Path) -> HnsParty:
        return cls(name, secrets.token_bytes(32), secrets.token_bytes(32), root / name)

    @property
    def etm_key(self) -> SigningKey:
        return SigningKey(self.etm_seed)

    @property
    def etm_address20(self) -> bytes:
        return address_hash(self.etm_key.public_key)

    @property
    def hns_pubkey(self) -> bytes:
        return hns_pubkey_of(self.hns_secret)

    def etm_signing_key(self) -> SigningKey:
        return self.etm_key

    def unsafe_export_chain_secret(self, label: str) -> bytes:
        by_label = {"etm": self.etm_seed, "hns": self.hns_secret}
        if label not in by_label:
            raise ValidationError(f"{self.name} has no {label!r} key")
        return by_label[label]

    def public(self) -> WalletPublic:
        pub = self.etm_key.public_key
        return WalletPublic(EtmPublic(pub, address_of(pub)), {"hns": HnsPublic(self.hns_pubkey)})


class HnsWorld:
    """The ETM node (API) and the session's hsd node, and what parties do on them."""

    def __init__(self, hsd: HsdNode, etm_url: str, birth_height: int) -> None:
        self.hsd, self.birth_height = hsd, birth_height
        self.client = NodeClient(etm_url)
        self.eth = None  # PoolSwaps asks for a trusted Ethereum relayer: none here

    def hns_adapter(self, party: HnsParty) -> HandshakeAdapter:
        config = adapter_config(
            self.hsd, party.home / "handshake", party.hns_secret.hex(), self.birth_height
        )
        return HandshakeAdapter.from_config(config)

    def etm_adapter(self, party: HnsParty) -> EtmAdapter:
        return EtmAdapter(self.client, party.etm_seed)

    def context(
        self,
        party: HnsParty,
        adapters: Mapping[str, ChainAdapter] | None = None,
        policy: PolicyConfig | None = None,
        relay_key: SigningKey | None = None,
    ) -> AppContext:
        if adapters is None:
            adapters = {LEG: self.hns_adapter(party), "etm": self.etm_adapter(party)}
        return AppContext(keys=party, given=adapters, swaps_db=party.home / "swaps.db",
                          policy_config=policy, relay_key=relay_key)  # fmt: skip

    def fund_etm(self, party: HnsParty, amount: int) -> None:
        payload = TransferPayload(party.etm_address20, amount).encode()
        sign_and_submit(self.client, dev_key("user-0"), TRANSFER, payload, fee=ETM_FEE)

    def fund_hns(self, party: HnsParty, amount: int) -> None:
        adapter = self.hns_adapter(party)
        try:
            for _ in range(2):  # two coins: a lock and its fee never wait for change
                self.hsd.fund(adapter.address(), amount // 2, confirm=False)
            self.hsd.mine(1)
        finally:
            adapter.close()

    def create_pool(self, operator: HnsParty, fee_ppm: int, confirmations: int) -> bytes:
        ctx = self.context(operator, {"etm": self.etm_adapter(operator)})
        claim_key, _tx = liquidity.create_pool(
            ctx, "hns", fee_ppm=fee_ppm, min_confirmations=confirmations, fee=ETM_FEE
        )
        return claim_key

    def bind(self, party: HnsParty) -> Any:
        return binding.bind(self.context(party, {"etm": self.etm_adapter(party)}), "hns",
                            fee=ETM_FEE)  # fmt: skip

    def deposit(self, investor: HnsParty, amount: int, etm_max: int) -> Any:
        """``lp_deposit`` (``etm-bridge lp deposit hns``): pay the pool's key with the owner tag,
        confirm, feed the ETM relay (anyone may), prove the payment."""
        adapter = self.hns_adapter(investor)
        ctx = self.context(investor, {LEG: adapter, "etm": self.etm_adapter(investor)})
        try:
            done = liquidity.lp_deposit(ctx, "hns", amount, etm_max=etm_max, fee=ETM_FEE,
                                        after_pay=self.hsd.mine, timeout_s=60)  # fmt: skip
        finally:
            adapter.close()
        if done.tx.status != "confirmed":
            raise ChainError(f"deposit not confirmed: {done.tx}")
        return done


class HnsPoolSwaps(PoolSwaps):
    """The demo's two engines with a Handshake leg (and no Bitcoin one)."""

    def _adapters(self, party: Any) -> dict[str, ChainAdapter]:
        world: HnsWorld = self.world  # type: ignore[assignment]
        return {LEG: world.hns_adapter(party), "etm": world.etm_adapter(party)}

    def start_swap_in(self, amount: int, asset: str = "hns") -> SwapTerms:
        started = start_pool_swap(self.user_ctx, LEG, "etm", amount, slippage_bps=0)
        return started.record.terms

    def start_swap_out(self, amount_etm: int, asset: str = "hns") -> SwapTerms:
        started = start_pool_swap(self.user_ctx, "etm", LEG, amount_etm, slippage_bps=0)
        return started.record.terms


__all__ = ["CONFIG", "ETM_FEE", "HnsParty", "HnsPoolSwaps", "HnsWorld"]
