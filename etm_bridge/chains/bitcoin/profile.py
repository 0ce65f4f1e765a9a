"""Bitcoin's :class:`~etm_bridge.chains.profile.ChainProfile`: what the core knows of Bitcoin.

Light on purpose (the registry imports it to list the installed chains): every part that needs
the SPV code, python-bitcoinlib or the verifier imports it when called.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.chain.codec import sha256d
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

from .custody.spec import SPEC as CUSTODY_SPEC
from .node_init import NODE_INIT

#: 1 BTC in satoshi.
BTC_UNIT = Unit("BTC", 8, "sat")
BTC = BTC_UNIT.scale
TICKER = "btc"
#: Consensus names (in the genesis id and the state digest): never change them.
HEADERS_TABLE, TXS_TABLE = "spv_btc_headers", "spv_btc_txs"
RELAY_HEADERS, TX_PROOF = 101, 102
#: The genesis ``spv`` section's keys of this chain (in the genesis id).
GENESIS_KEYS = (
    "btc_network",
    "btc_checkpoint",
    "btc_min_confirmations",
    "btc_max_lag_s",
    "btc_attacker_share",
    "btc_loss_budget",
)
TYPES = {RELAY_HEADERS: "btc_relay_headers", TX_PROOF: "btc_tx_proof"}


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

    from .etm.relay_types import btc_policy_of, btc_relay_of
    from .etm.verifier import BtcVerifier

    return BtcVerifier(btc_relay_of, policy_of=btc_policy_of, pool_network=require_pool_network)


def _lock_proof(lock: Any, proof: Any) -> bytes:
    from .etm.verifier import lock_proof

    return lock_proof(lock, proof)


def _sign(message: str, secret: bytes) -> tuple[bytes, bytes]:
    from .binding import btc_pubkey_of, sign_btc

    return btc_pubkey_of(secret), sign_btc(message, secret)


def _signer(message: str, signature: bytes, claimed: bytes) -> bytes:
    from .binding import recover_btc

    return recover_btc(message, signature)


def _verify_merkle(proof: Any) -> None:
    from .proof_kinds import verify_bitcoin_merkle_proof

    verify_bitcoin_merkle_proof(proof)


PROFILE = ChainProfile(
    name="bitcoin",
    ticker=TICKER,
    unit=BTC_UNIT,
    block_time_s=600,
    key_kind=KeyKind.SECP256K1_COMPRESSED,
    confirmations={"mainnet": 6, "testnet3": 6, "testnet4": 6, "regtest": 1},
    wallet=wallet_spec(TICKER, _wallet, "BtcPublic"),
    assets=native_assets(TICKER, BTC_UNIT),
    binding=BindingSpec(key_len=33, sign=_sign, signer=_signer),
    relay=RelaySpec(
        type_id_block=100,
        headers_type_id=RELAY_HEADERS,
        types=TYPES,
        tables=(
            TableSpec(HEADERS_TABLE, owner="spv", doc="Bitcoin relay key-value store"),
            TableSpec(TXS_TABLE, owner="spv", doc="txid_le -> proven Bitcoin tx"),
        ),
        genesis=genesis_part(GENESIS_KEYS, _genesis),
        header_id=lambda raw: sha256d(raw)[::-1].hex(),
        encode_headers=b"".join,
        max_headers_per_tx=2000,
        tip_field="height",
        permissionless=True,
        missing_relay=None,
        **relay_reads(_relay_types, _genesis, "btc_policy_of"),
        dev_network="regtest",
        #: regtest: ~2 hashes a header; testnet3/testnet4: a header stamped 20 minutes after its
        #: parent may have the minimum difficulty, ~2^32 hashes, and may be stamped up to 2 h
        #: ahead, so anyone appends six free headers holding a lock that never existed to the
        #: relay's tip (review a11b)
        dev_networks=frozenset({"regtest", "testnet", "testnet3", "testnet4"}),
        dev_autostart="regtest",
    ),
    exchange=ExchangeSpec(
        verifier=_verifier,
        lock_proof=_lock_proof,
        txid_json_key="bitcoin_txid",
        #: 10,000 sat: the P2WPKH dust limit is 294 sat, a 546-sat output is standard for every
        #: script type, and a one-input payment with its OP_RETURN of ~170 vB costs 8,500 sat
        #: at 50 sat/vB
        withdrawal_floor=10_000,
    ),
    client=client_spec(_client, resumable=True, destination=None, obligations=True),
    node_init=NODE_INIT,
    proof_kinds={"bitcoin-merkle": ProofKind(header_len=80, node_len=32, verify=_verify_merkle)},
    #: the P2WSH m-of-n committee vault (design-14 section 2; docs/custody.md)
    custody=CUSTODY_SPEC,
)
