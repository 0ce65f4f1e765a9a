"""The parties of the demo on real nodes: an operator, an investor and a user (not a verb module).

Everything goes through the real chains, and through the same use cases the CLI calls
(:mod:`etm_bridge.app`): each party has an :class:`~etm_bridge.app.context.AppContext` over its
own adapters, keys and swap database (:meth:`World.context`), which creates pools, binds keys
and makes the SPV-proven LP deposits. Keys are fresh per run (drawn from the context, the one
source of secrets); the ETM funds come from a development account of the dev chain. Every ETM
read and write goes to all the nodes of the stack's network when the world is given several
URLs (a :class:`~etm_bridge.etm_client.endpoints.NodeSet`: writes to all, reads cross-checked,
so one node down or lying changes nothing), as the CLI does with the stack's ``client.toml``.
:class:`~.engines.PoolSwaps` runs the user's and the operator's swap engines side by side.
Used by ``etm-bridge demo`` and by the integration tests on the session's nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from etm_bridge_bitcoin.adapter import BitcoinAdapter
from etm_bridge_ethereum import EthereumAdapter
from etm_bridge_handshake import HandshakeAdapter

from etm_bridge.adapter import ChainAdapter
from etm_bridge.app import binding, liquidity
from etm_bridge.app.context import AppContext
from etm_bridge.chain.address import address_hash, address_of, encode_address
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.bitcoin import binding as bitcoin_binding
from etm_bridge.chains.bitcoin.wallet import BtcPublic
from etm_bridge.chains.ethereum.wallet import EthPublic
from etm_bridge.chains.handshake.binding import hns_pubkey_of
from etm_bridge.chains.handshake.wallet import HnsPublic
from etm_bridge.errors import ChainError, ValidationError
from etm_bridge.etm_client import header_feed
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.exchange import payloads
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.wallet import WalletPublic
from etm_bridge.wallet.derive import EtmPublic

ETM_FEE = 100_000


@dataclass(frozen=True)
class BitcoinRpc:
    """How to reach the regtest node (``BitcoinNode`` of the stack or of the fixtures)."""

    rpc_url: str
    rpc_user: str
    rpc_password: str


@dataclass(frozen=True)
class EthSetup:
    """Anvil and the contracts the ETM genesis names (HTLC, the operator's PoolVault)."""

    rpc_url: str
    htlc_address: str
    htlc_block: int
    vault_address: str
    relayer: SigningKey  # a trusted relayer of the ETM chain's Ethereum relay


@dataclass(frozen=True)
class HnsRpc:
    """How to reach the stack's hsd regtest node (its node RPC, API key as the password)."""

    rpc_url: str
    api_key: str


@dataclass(frozen=True)
class Party:
    """One person of the demo: fresh ETM, Bitcoin and Ethereum keys, a home for their
    databases. A :class:`~etm_bridge.app.context.KeySource` (what its context signs with)."""

    name: str
    etm_seed: bytes
    btc_secret: bytes
    home: Path
    eth_secret: bytes = b""  # empty: no Ethereum key (parties saved before ETH pools)
    hns_secret: bytes = b""  # empty: no Handshake key (parties saved before HNS pools)

    @classmethod
    def new(cls, name: str, root: Path, new_secret: Callable[[], bytes] | None = None) -> Party:
        draw = new_secret or AppContext().new_secret
        return cls(name, draw(), draw(), root / name, draw(), draw())

    @property
    def eth_address20(self) -> bytes:
        return bytes.fromhex(Account.from_key(self.eth_secret).address[2:])

    @property
    def etm_key(self) -> SigningKey:
        return SigningKey(self.etm_seed)

    @property
    def etm_address20(self) -> bytes:
        return address_hash(self.etm_key.public_key)

    @property
    def etm_address(self) -> str:
        return encode_address(self.etm_address20)

    @property
    def btc_pubkey(self) -> bytes:
        return bitcoin_binding.btc_pubkey_of(self.btc_secret)

    @property
    def hns_pubkey(self) -> bytes:
        return hns_pubkey_of(self.hns_secret)

    # --- KeySource ---------------------------------------------------------------------------

    def etm_signing_key(self) -> SigningKey:
        return self.etm_key

    def unsafe_export_chain_secret(self, label: str) -> bytes:
        by_label = {"etm": self.etm_seed, "btc": self.btc_secret, "eth": self.eth_secret,
                    "hns": self.hns_secret}  # fmt: skip
        if not by_label.get(label):
            raise ValidationError(f"the demo's {self.name} has no {label!r} key")
        return by_label[label]

    def public(self) -> WalletPublic:
        pub = self.etm_key.public_key
        eth = str(Account.from_key(self.unsafe_export_chain_secret("eth")).address)
        chains: dict[str, Any] = {"btc": BtcPublic(self.btc_pubkey), "eth": EthPublic(eth)}
        if self.hns_secret:
            chains["hns"] = HnsPublic(self.hns_pubkey)
        return WalletPublic(EtmPublic(pub, address_of(pub)), chains)


class World:
    """The nodes and the helpers that act on them for a party."""

    def __init__(
        self, btc: BitcoinRpc, etm_url: str | Sequence[str], birth_height: int,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:  # fmt: skip
        """The parties' nodes: the regtest Bitcoin node and the ETM node's API at ``etm_url``,
        or every node of a network given its URLs (adapters see locks from ``birth_height``
        on)."""
        self.btc, self.birth_height = btc, birth_height
        self.urls = [etm_url] if isinstance(etm_url, str) else list(etm_url)
        self.client = self._etm_client()
        self.say = say
        self.eth: EthSetup | None = None
        self.hns: HnsRpc | None = None  # the stack's hsd, when it runs and ETM relays it
        self.hns_birth = 0

    def _etm_client(self) -> NodeClient:
        """One node's client, or a NodeSet over every node of the network."""
        return NodeClient(self.urls[0]) if len(self.urls) == 1 else NodeSet.from_urls(self.urls)

    def btc_adapter(self, party: Party) -> BitcoinAdapter:
        return BitcoinAdapter.from_config(
            {
                "rpc_url": self.btc.rpc_url,
                "rpc_user": self.btc.rpc_user,
                "rpc_password": self.btc.rpc_password,
                "secret_hex": party.btc_secret.hex(),
                "data_dir": str(party.home / "bitcoin"),
                "network": "regtest",
                "birth_height": self.birth_height,
            }
        )

    def etm_adapter(self, party: Party) -> EtmAdapter:
        """``party``'s ETM leg (its own NodeSet on a network: its own inclusion tracking)."""
        client = self.client if len(self.urls) == 1 else self._etm_client()
        return EtmAdapter(client, party.etm_seed)

    def hns_adapter(self, party: Party) -> HandshakeAdapter:
        hns = self._hns()
        return HandshakeAdapter.from_config(
            {
                "rpc_url": hns.rpc_url,
                "rpc_user": "etm",
                "rpc_password": hns.api_key,
                "secret_hex": party.hns_secret.hex(),
                "data_dir": str(party.home / "handshake"),
                "network": "regtest",
                "birth_height": self.hns_birth,
            }
        )

    def _hns(self) -> HnsRpc:
        if self.hns is None:
            raise ChainError("no Handshake setup (hsd and the HNS relay in the ETM genesis)")
        return self.hns

    def context(
        self,
        party: Party,
        adapters: Mapping[str, ChainAdapter] | None = None,
        policy: PolicyConfig | None = None,
        relay_key: SigningKey | None = None,
    ) -> AppContext:
        """``party``'s use-case context over ``adapters`` (default: Bitcoin and ETM, and
        Ethereum when set up), its keys and its swap database."""
        if adapters is None:
            adapters = {"bitcoin": self.btc_adapter(party), "etm": self.etm_adapter(party)}
            if self.eth is not None and party.eth_secret:
                adapters = {**adapters, "ethereum": self.eth_adapter(party)}
            if self.hns is not None and party.hns_secret:
                adapters = {**adapters, "handshake": self.hns_adapter(party)}
        return AppContext(keys=party, given=adapters, swaps_db=party.home / "swaps.db",
                          policy_config=policy, relay_key=relay_key)  # fmt: skip

    def send(self, party: Party, type_id: int, payload: Any) -> dict[str, Any]:
        """Sign as ``party``, submit and wait for the block."""
        raw = payloads.encode_payload(payload)
        return sign_and_submit(self.client, party.etm_key, type_id, raw, fee=ETM_FEE)

    def fund_etm(self, party: Party, amount: int, funder: SigningKey | None = None) -> None:
        """A transfer from a development account of the dev chain (``dev_key("user-0")``)."""
        payload = TransferPayload(party.etm_address20, amount).encode()
        sign_and_submit(self.client, funder or dev_key("user-0"), TRANSFER, payload, fee=ETM_FEE)

    def create_pool(self, operator: Party, asset: str, fee_ppm: int, confirmations: int) -> None:
        ctx = self.context(operator, {"etm": self.etm_adapter(operator)})
        liquidity.create_pool(ctx, asset, fee_ppm=fee_ppm, min_confirmations=confirmations,
                              fee=ETM_FEE)  # fmt: skip

    def eth_adapter(self, party: Party) -> EthereumAdapter:
        eth = self._eth()
        return EthereumAdapter.from_config(
            {
                "rpc_url": eth.rpc_url,
                "private_key": "0x" + party.eth_secret.hex(),
                "htlc_address": eth.htlc_address,
                "data_dir": str(party.home / "ethereum"),
                "from_block": eth.htlc_block,
                "receipt_timeout_s": 30,
            }
        )

    def _eth(self) -> EthSetup:
        if self.eth is None:
            raise ChainError("no Ethereum setup (anvil + contracts in the ETM genesis)")
        return self.eth

    def _bind(self, party: Party, chain: str) -> None:
        binding.bind(self.context(party, {"etm": self.etm_adapter(party)}), chain, fee=ETM_FEE)

    def bind_eth(self, party: Party) -> None:
        self._bind(party, "eth")

    def bind_btc(self, party: Party) -> None:
        self._bind(party, "btc")

    def deposit_eth(self, investor: Party, amount_wei: int, etm_max: int, mine: Callable) -> str:
        """Deposit through the operator's PoolVault (``lp_deposit``); the demo's trusted
        relayer feeds the ETM chain's Ethereum relay once the blocks are mined."""
        eth = self._eth()
        adapter = self.eth_adapter(investor)
        ctx = self.context(investor, {"ethereum": adapter, "etm": self.etm_adapter(investor)})

        def confirm(needed: int) -> None:
            mine(needed)
            header_feed.relay_missing_headers(self.client, eth.relayer, adapter, chain="eth")

        try:
            done = liquidity.lp_deposit(ctx, "eth", amount_wei, etm_max=etm_max,
                                        destination=eth.vault_address, fee=ETM_FEE,
                                        after_pay=confirm, timeout_s=60)  # fmt: skip
        finally:
            adapter.close()
        if done.tx.status != "confirmed":
            raise ChainError(f"deposit not confirmed: {done.tx}")
        return done.txid

    def deposit_btc(self, investor: Party, amount_sat: int, etm_max: int, mine: Callable) -> str:
        """Pay the BTC pool with the owner tag, confirm, relay headers, prove the deposit
        (``lp_deposit``: the same use case as ``etm-bridge lp deposit``)."""
        adapter = self.btc_adapter(investor)
        ctx = self.context(investor, {"bitcoin": adapter, "etm": self.etm_adapter(investor)})
        try:
            done = liquidity.lp_deposit(ctx, "btc", amount_sat, etm_max=etm_max, fee=ETM_FEE,
                                        after_pay=mine, timeout_s=60)  # fmt: skip
        finally:
            adapter.close()
        if done.tx.status != "confirmed":
            raise ChainError(f"deposit not confirmed: {done.tx}")
        return done.txid
