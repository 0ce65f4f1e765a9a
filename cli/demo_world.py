"""The parties of the demo on real nodes: an operator, an investor and a user (not a verb module).

Everything goes through the real chains: ETM transactions to the node's HTTP API (pool
creation, bindings, the SPV-proven LP deposit), Bitcoin payments and HTLCs to the regtest node.
Keys are fresh per run; the ETM funds come from a development account of the dev chain.
:class:`PoolSwaps` runs the user's and the operator's swap engines (one watcher and database
each) side by side, the operator following every pool swap the exchange opens
(:class:`etm_bridge.swaps.core.pool_terms.PoolFollower`). Used by ``etm-bridge demo`` and by the
integration tests on the session's nodes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from etm_bridge_bitcoin.adapter import BitcoinAdapter
from etm_bridge_ethereum import EthereumAdapter
from etm_bridge_ethereum.vault import VaultClient

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, p2wpkh
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ChainError
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.node import relaying
from etm_bridge.node.client import NodeClient

from .lp_btc import pay_tagged, wait_proof

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
class Party:
    """One person of the demo: fresh ETM and Bitcoin keys, a home for their databases."""

    name: str
    etm_seed: bytes
    btc_secret: bytes
    home: Path
    eth_secret: bytes = b""  # empty: no Ethereum key (parties saved before ETH pools)

    @classmethod
    def new(cls, name: str, root: Path) -> Party:
        return cls(name, secrets.token_bytes(32), secrets.token_bytes(32), root / name,
                   secrets.token_bytes(32))  # fmt: skip

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
        return bytes(chain_registry().by_ticker("btc").wallet.public_of(self.btc_secret).key)


class World:
    """The nodes and the helpers that act on them for a party."""

    def __init__(
        self, btc: BitcoinRpc, etm_url: str, etm_data_dir: Path, birth_height: int,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:  # fmt: skip
        self.btc, self.etm_data_dir, self.birth_height = btc, Path(etm_data_dir), birth_height
        self.client = NodeClient(etm_url)
        self.say = say
        self.eth: EthSetup | None = None

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
        return EtmAdapter(self.client, self.etm_data_dir, party.etm_seed)

    def send(self, party: Party, type_id: int, payload: Any) -> dict[str, Any]:
        """Sign as ``party``, submit and wait for the block."""
        raw = pl.encode_payload(payload)
        return relaying.sign_and_submit(self.client, party.etm_key, type_id, raw, fee=ETM_FEE)

    def fund_etm(self, party: Party, amount: int, funder: SigningKey | None = None) -> None:
        """A transfer from a development account of the dev chain (``dev_key("user-0")``)."""
        payload = TransferPayload(party.etm_address20, amount).encode()
        relaying.sign_and_submit(
            self.client, funder or dev_key("user-0"), TRANSFER, payload, fee=ETM_FEE
        )

    def create_pool(self, operator: Party, asset: str, fee_ppm: int, confirmations: int) -> None:
        claim_key = operator.btc_pubkey if asset == "btc" else operator.eth_address20
        payload = pl.PoolCreate(asset, claim_key, fee_ppm, 8_640, confirmations)
        self.send(operator, xt.POOL_CREATE, payload)

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

    def bind_eth(self, party: Party) -> None:
        status = self.client.status()
        nonce, expiry = int(time.time()), int(status["height"]) + 100
        network = f"{int(status['networkId']):#010x}"
        message = bd.binding_message(network, party.etm_address, "eth", nonce, expiry)
        _, signature = chain_registry().by_ticker("eth").binding.sign(message, party.eth_secret)
        payload = pl.Bind("eth", party.eth_address20, nonce, expiry, signature, False)
        self.send(party, xt.BIND, payload)

    def deposit_eth(self, investor: Party, amount_wei: int, etm_max: int, mine: Callable) -> str:
        """Deposit through the operator's PoolVault, confirm, relay, prove the Deposited log."""
        eth = self._eth()
        vault = VaultClient(eth.rpc_url, "0x" + investor.eth_secret.hex(),
                            investor.home / "vault", eth.vault_address, 30)  # fmt: skip
        adapter = self.eth_adapter(investor)
        try:
            sent = vault.deposit(investor.etm_address20, amount_wei)
            mine(int(self.client.pool("eth")["min_confirmations"]))
            relaying.relay_missing_headers(self.client, eth.relayer, adapter, chain="eth")
            proof = vault.proof(sent)
        finally:
            vault.close()
            adapter.close()
        result = self.send(investor, xt.LP_DEPOSIT, pl.LpDeposit("eth", etm_max, 1, proof))
        if result.get("status") != "confirmed":
            raise ChainError(f"deposit not confirmed: {result}")
        return sent.tx_hash

    def bind_btc(self, party: Party) -> None:
        status = self.client.status()
        nonce, expiry = int(time.time()), int(status["height"]) + 100
        network = f"{int(status['networkId']):#010x}"
        message = bd.binding_message(network, party.etm_address, "btc", nonce, expiry)
        _, signature = chain_registry().by_ticker("btc").binding.sign(message, party.btc_secret)
        self.send(party, xt.BIND, pl.Bind("btc", party.btc_pubkey, nonce, expiry, signature, False))

    def deposit_btc(self, investor: Party, amount_sat: int, etm_max: int, mine: Callable) -> str:
        """Pay the BTC pool with the owner tag, confirm, relay headers, prove the deposit."""
        pool = self.client.pool("btc")
        adapter = self.btc_adapter(investor)
        try:
            to = p2wpkh(bytes.fromhex(pool["claim_key"]))
            txid, height = pay_tagged(adapter, to, amount_sat, DEPOSIT_TAG + investor.etm_address20)
            needed = int(pool["min_confirmations"])
            mine(needed)
            proof = wait_proof(adapter, txid, height + 1, needed, timeout_s=60)
            relaying.relay_missing_btc_headers(self.client, investor.etm_key, adapter)
        finally:
            adapter.close()
        payload = pl.LpDeposit("btc", etm_max, 1, proof.encode())
        result = self.send(investor, xt.LP_DEPOSIT, payload)
        if result.get("status") != "confirmed":
            raise ChainError(f"deposit not confirmed: {result}")
        return txid
