"""Parties, contexts and engines of the throwaway chain's pool (the toy chain beside ETM).

:class:`ToyParty` is a :class:`~etm_bridge.app.context.KeySource` with an ETM key and a toy key
(the wallet label ``toy`` comes from the toy profile); :class:`ToyWorld` makes each party's
adapters (the toy plugin's, by entry point, and the ETM leg) and contexts; :class:`ToyPoolSwaps`
is the demo's :class:`~etm_bridge_regtest.demo.engines.PoolSwaps` with the toy leg. Everything
the parties do goes through the use cases of :mod:`etm_bridge.app`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etm_bridge_regtest.demo.engines import PoolSwaps

from etm_bridge.adapter import ChainAdapter
from etm_bridge.adapters_registry import create_adapter
from etm_bridge.app.context import AppContext
from etm_bridge.app.swaps import start_pool_swap
from etm_bridge.chain.address import address_hash, address_of
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.registry import chain_registry
from etm_bridge.config.loader import load_config
from etm_bridge.errors import ValidationError
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.model import SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.wallet import WalletPublic
from etm_bridge.wallet.derive import EtmPublic

ETM_FEE = 100_000
LEG = "toy"


@dataclass(frozen=True)
class ToyParty:
    name: str
    etm_seed: bytes
    toy_secret: bytes
    home: Path

    @classmethod
    def new(cls, name: str, root: Path) -> ToyParty:
        return cls(name, secrets.token_bytes(32), secrets.token_bytes(32), root / name)

    @property
    def etm_address20(self) -> bytes:
        return address_hash(SigningKey(self.etm_seed).public_key)

    @property
    def toy_key(self) -> bytes:
        return chain_registry().by_name(LEG).key_of(self.toy_secret)

    def etm_signing_key(self) -> SigningKey:
        return SigningKey(self.etm_seed)

    def unsafe_export_chain_secret(self, label: str) -> bytes:
        by_label = {"etm": self.etm_seed, LEG: self.toy_secret}
        if label not in by_label:
            raise ValidationError(f"{self.name} has no {label!r} key")
        return by_label[label]

    def public(self) -> WalletPublic:
        pub = SigningKey(self.etm_seed).public_key
        toy = chain_registry().by_name(LEG).wallet.public_of(self.toy_secret)
        return WalletPublic(EtmPublic(pub, address_of(pub)), {LEG: toy})


class ToyWorld:
    """The ETM node (API) and the toy chain called ``chain``, and what parties do on them."""

    def __init__(self, etm_url: str, chain: Any) -> None:
        self.client, self.chain = NodeClient(etm_url), chain
        self.eth = None  # PoolSwaps asks for a trusted Ethereum relayer: none here

    def toy_adapter(self, party: ToyParty) -> ChainAdapter:
        config = {"chain": self.chain.name, "secret_hex": party.toy_secret.hex()}
        return create_adapter(LEG, config)

    def etm_adapter(self, party: ToyParty) -> EtmAdapter:
        return EtmAdapter(self.client, party.etm_seed)

    def context(
        self,
        party: ToyParty,
        adapters: Mapping[str, ChainAdapter] | None = None,
        policy: PolicyConfig | None = None,
        relay_key: SigningKey | None = None,
    ) -> AppContext:
        if adapters is None:
            adapters = {LEG: self.toy_adapter(party), "etm": self.etm_adapter(party)}
        return AppContext(keys=party, given=adapters, swaps_db=party.home / "swaps.db",
                          policy_config=policy, relay_key=relay_key)  # fmt: skip

    def home_context(self, party: ToyParty) -> AppContext:
        """``party``'s context from its home's ``config.toml`` alone (``[etm] url``,
        ``[chains.toy] chain``): the adapter and its key come from the installed plugin."""
        party.home.mkdir(parents=True, exist_ok=True)
        (party.home / "config.toml").write_text(
            f'[etm]\nurl = "{self.client.url}"\n\n[chains.{LEG}]\nchain = "{self.chain.name}"\n'
        )
        config = load_config(home=party.home, env={}, cwd=party.home)
        return AppContext(config=config, keys=party)

    def fund(self, party: ToyParty, etm: int, toy: int) -> None:
        payload = TransferPayload(party.etm_address20, etm).encode()
        sign_and_submit(self.client, dev_key("user-0"), TRANSFER, payload, fee=ETM_FEE)
        self.chain.credit(party.toy_key, toy)


class ToyPoolSwaps(PoolSwaps):
    """The demo's two engines with the toy leg (and no other foreign chain)."""

    def _adapters(self, party: Any) -> dict[str, ChainAdapter]:
        world: ToyWorld = self.world  # type: ignore[assignment]
        return {LEG: world.toy_adapter(party), "etm": world.etm_adapter(party)}

    def start_swap_in(self, amount: int, asset: str = LEG) -> SwapTerms:
        started = start_pool_swap(self.user_ctx, LEG, "etm", amount, slippage_bps=0)
        return started.record.terms


__all__ = ["ETM_FEE", "LEG", "ToyParty", "ToyPoolSwaps", "ToyWorld"]
