"""Handshake's :class:`~etm_bridge.chains.profile.ChainProfile`: what the core knows of HNS.

Light on purpose (the registry imports it to list the installed chains): every part that needs
the SPV code, the verifier or python-bitcoinlib imports it when called. Type-id block 120
(Bitcoin has 100, Ethereum 110): 121 ``hns_relay_headers``, 122 ``hns_tx_proof``.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.chain.state import TableSpec
from etm_bridge.chains.profile import (
    BindingSpec,
    ChainProfile,
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
from etm_bridge.observations import KeyKind
from etm_bridge.units import Unit

from .node_init import NODE_INIT

#: 1 HNS in dollarydoos (hsd ``consensus.COIN``).
HNS_UNIT = Unit("HNS", 6, "doo")
HNS = HNS_UNIT.scale
TICKER = "hns"
#: Consensus names (in the genesis id and the state digest): never change them.
HEADERS_TABLE, TXS_TABLE = "spv_hns_headers", "spv_hns_txs"
TYPE_ID_BLOCK = 120
RELAY_HEADERS, TX_PROOF = 121, 122
MAX_HEADERS_PER_TX = 2000
GENESIS_KEYS = (
    "hns_network",
    "hns_checkpoint",
    "hns_min_confirmations",
    "hns_max_lag_s",
    "hns_attacker_share",
    "hns_loss_budget",
)
TYPES = {RELAY_HEADERS: "hns_relay_headers", TX_PROOF: "hns_tx_proof"}


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
    from etm_bridge.spv.relay_types import require_pool_network

    from .etm.relay_types import hns_policy_of, hns_relay_of
    from .etm.verifier import HnsVerifier

    return HnsVerifier(hns_relay_of, hns_policy_of, pool_network=require_pool_network)


def _lock_proof(lock: Any, proof: Any) -> bytes:
    from .etm.verifier import lock_proof

    return lock_proof(lock, proof)


def _sign(message: str, secret: bytes) -> tuple[bytes, bytes]:
    from .binding import hns_pubkey_of, sign_hns

    return hns_pubkey_of(secret), sign_hns(message, secret)


def _signer(message: str, signature: bytes, claimed: bytes) -> bytes:
    from .binding import signer_of

    return signer_of(message, signature, claimed)


def _verify_merkle(proof: Any) -> None:
    from .proof_kinds import verify_handshake_merkle_proof

    verify_handshake_merkle_proof(proof)


def _header_id(raw: bytes) -> str:
    from .spv.headers import pow_hash

    return pow_hash(raw).hex()


PROFILE = ChainProfile(
    name="handshake",
    ticker=TICKER,
    unit=HNS_UNIT,
    block_time_s=600,
    key_kind=KeyKind.SECP256K1_COMPRESSED,
    confirmations={"main": 6, "regtest": 1},
    wallet=wallet_spec(TICKER, _wallet, "HnsPublic"),
    assets=native_assets(TICKER, HNS_UNIT),
    binding=BindingSpec(key_len=33, sign=_sign, signer=_signer),
    aliases=("hsd",),
    relay=RelaySpec(
        type_id_block=TYPE_ID_BLOCK,
        headers_type_id=RELAY_HEADERS,
        types=TYPES,
        tables=(
            TableSpec(HEADERS_TABLE, owner="spv", doc="Handshake relay key-value store"),
            TableSpec(TXS_TABLE, owner="spv", doc="txid -> proven Handshake tx"),
        ),
        genesis=genesis_part(GENESIS_KEYS, _genesis),
        header_id=_header_id,
        encode_headers=b"".join,
        max_headers_per_tx=MAX_HEADERS_PER_TX,
        tip_field="height",
        permissionless=True,
        missing_relay=(
            "this ETM chain has no Handshake relay: start one in its genesis "
            "(etm-bridge node init --hns-network main|regtest)"
        ),
        **relay_reads(_relay_types, _genesis, "hns_policy_of"),
        dev_network="regtest",
        #: regtest headers cost ~2 hashes each: anyone can forge a chain with any lock in it
        dev_networks=frozenset({"regtest"}),
        tx_plugin="etm_bridge.chains.handshake.etm.plugin",
    ),
    exchange=ExchangeSpec(
        verifier=_verifier,
        lock_proof=_lock_proof,
        txid_json_key="handshake_txid",
        #: 10,000 doo (issue 11, item 6: a withdrawal the operator cannot pay without
        #: overpaying must not become an obligation): hsd's dust limit for a pay-to-key output
        #: is 297 doo, and a one-input payment with its nulldata tag of ~170 vB costs 8,500
        #: doo at 50 doo/vB (tests/unit/handshake/test_hns_txbuild.py checks the sum)
        withdrawal_floor=10_000,
    ),
    client=client_spec(_client, resumable=True, destination=None, obligations=True),
    node_init=NODE_INIT,
    proof_kinds={"handshake-merkle": ProofKind(header_len=236, node_len=32, verify=_verify_merkle)},
)
