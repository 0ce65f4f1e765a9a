"""Ethereum's :class:`~etm_bridge.chains.profile.ChainProfile`: what the core knows of Ethereum.

Light on purpose (the registry imports it to list the installed chains): every part that needs
the SPV code, eth-account or the verifier imports it when called.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.chain.state import TableSpec
from etm_bridge.chains.profile import (
    BindingSpec,
    ChainProfile,
    DestinationOption,
    ExchangeSpec,
    ProofKind,
    RelaySpec,
)
from etm_bridge.chains.profile_parts import (
    client_spec,
    genesis_part,
    native_assets,
    relay_reads,
    wallet_spec,
)
from etm_bridge.units import Unit

from .node_init import NODE_INIT
from .wallet import ETHEREUM_ADDRESS

#: 1 ETH in wei; amounts of ether are u128 (2**64 wei is about 18.4 ETH).
ETH_UNIT = Unit("ETH", 18, "wei", 2**128 - 1)
ETH = ETH_UNIT.scale
TICKER = "eth"
#: Consensus names (in the genesis id and the state digest): never change them.
HEADERS_TABLE, RECEIPTS_TABLE = "spv_eth_headers", "spv_eth_receipts"
RELAY_HEADERS, RECEIPT_PROOF, ATTEST_HEADERS = 111, 112, 113
#: The genesis ``spv`` section's keys of this chain (in the genesis id).
GENESIS_KEYS = (
    "eth_chain",
    "eth_checkpoint_rlp",
    "eth_relayers",
    "eth_min_confirmations",
    "eth_htlc_contract",
    "eth_pool_vaults",
    "eth_max_lag_s",
    "eth_attestation",  # written only when set (committee mode), so older genesis ids stay
)
TYPES = {
    RELAY_HEADERS: "eth_relay_headers",
    RECEIPT_PROOF: "eth_receipt_proof",
    ATTEST_HEADERS: "eth_attest_headers",
}
#: Token assets of ETH pools: ``erc20:0x<40 hex>``.
TOKEN_PREFIX = "erc20:"
#: An LP deposit goes through the pool operator's PoolVault contract.
VAULT = DestinationOption(
    "--vault",
    "eth: the pool operator's PoolVault address.",
    r"0x[0-9a-fA-F]{40}",
    "an eth deposit needs --vault 0x<40 hex> (got {value!r})",
)


def _client() -> Any:
    from . import client

    return client


def _wallet() -> Any:
    from . import wallet

    return wallet


def _relay_types() -> Any:
    from .etm import relay_types

    return relay_types


def _genesis() -> Any:
    from .etm import genesis

    return genesis


def _verifier() -> Any:
    from .etm.verifier import ConfiguredEthVerifier

    return ConfiguredEthVerifier()


def _lock_proof(lock: Any, proof: Any) -> bytes:
    from .etm.verifier import lock_proof

    return lock_proof(lock, proof)


def _sign(message: str, secret: bytes) -> tuple[bytes, bytes]:
    from .binding import address_of, sign_eth

    return address_of(secret), sign_eth(message, secret)


def _signer(message: str, signature: bytes, claimed: bytes) -> bytes:
    from .binding import recover_eth

    return recover_eth(message, signature)


def _header_id(raw: bytes) -> str:
    from .spv.rlp import header_hash

    return "0x" + header_hash(raw).hex()


def _encode_headers(headers: list[bytes]) -> bytes:
    import rlp

    return bytes(rlp.encode(headers))


def _verify_receipt(proof: Any) -> None:
    from .proof_kinds import verify_ethereum_receipt_proof

    verify_ethereum_receipt_proof(proof)


def _owns(asset: str) -> bool:
    return asset == TICKER or asset.startswith(TOKEN_PREFIX)


PROFILE = ChainProfile(
    name="ethereum",
    ticker=TICKER,
    unit=ETH_UNIT,
    block_time_s=12,
    key_kind=ETHEREUM_ADDRESS,
    confirmations={"ethereum-mainnet": 64, "anvil": 1},
    wallet=wallet_spec(TICKER, _wallet, "EthPublic"),
    assets=native_assets(TICKER, ETH_UNIT, _owns),
    binding=BindingSpec(key_len=20, sign=_sign, signer=_signer),
    relay=RelaySpec(
        type_id_block=110,
        headers_type_id=RELAY_HEADERS,
        types=TYPES,
        tables=(
            TableSpec(HEADERS_TABLE, owner="spv", doc="Ethereum relay key-value store"),
            TableSpec(RECEIPTS_TABLE, owner="spv", doc="block_hash || index -> receipt"),
        ),
        genesis=genesis_part(GENESIS_KEYS, _genesis),
        header_id=_header_id,
        encode_headers=_encode_headers,
        max_headers_per_tx=256,
        tip_field="number",
        permissionless=False,
        missing_relay="this ETM chain has no Ethereum relay (see node init --eth-rpc)",
        **relay_reads(_relay_types, _genesis, "eth_policy_of"),
        dev_network="anvil",
        dev_networks=frozenset({"anvil"}),
    ),
    exchange=ExchangeSpec(
        verifier=_verifier,
        lock_proof=_lock_proof,
        txid_json_key="ethereum_tx",
        #: 10**15 wei (0.001 ETH): a PoolVault payment of ~64,000 gas at ~15 gwei
        withdrawal_floor=10**15,
    ),
    client=client_spec(_client, resumable=False, destination=VAULT),
    node_init=NODE_INIT,
    proof_kinds={
        "ethereum-receipt": ProofKind(header_len=None, node_len=None, verify=_verify_receipt)
    },
)
