"""A throwaway chain's profile, installed only by the throwaway-chain test (entry point
``etm_bridge.chains``: ``toy = toy_chain:PROFILE``). It lives in the test tree: the core never
names it. The chain is :class:`~etm_bridge.testing.fakechain.FakeChain` (80-byte headers that
link by sha256d, fake-merkle inclusion proofs, 33-byte keys). Its ETM relay (type-id block 190:
191 ``toy_relay_headers``) is :mod:`toy_chain.relay`, a tx plug-in the genesis lists; its pools'
verifier is :mod:`toy_chain.exchange`, their client side :mod:`toy_chain.client`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etm_bridge.chain.codec import sha256d
from etm_bridge.chain.state import TableSpec
from etm_bridge.chains.profile import (
    AssetSpec,
    BindingSpec,
    ChainProfile,
    ClientSpec,
    ExchangeSpec,
    GenesisPart,
    RelaySpec,
    WalletSpec,
)
from etm_bridge.errors import BindingError
from etm_bridge.observations import KeyKind
from etm_bridge.testing.fakechain import fake_pubkey
from etm_bridge.units import Unit

TICKER = "toy"
UNIT = Unit("TOY", 8, "toy unit")
HEADERS_TABLE = "spv_toy_headers"
TYPE_ID_BLOCK, RELAY_HEADERS = 190, 191
TYPES = {RELAY_HEADERS: "toy_relay_headers"}
GENESIS_KEYS = ("toy_genesis_header",)
HEADER_LEN = 80


class ToyPublic:
    """The wallet's public view of its toy key (the fake chain's 33-byte key)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @property
    def key(self) -> bytes:
        return self._key

    def to_json(self) -> dict[str, Any]:
        return {"public_key": self._key.hex()}

    def display_address(self, network: str) -> str:
        return self._key.hex()


def _sign(message: str, secret: bytes) -> tuple[bytes, bytes]:
    # the fake chain's "signature" is a keyed hash a verifier can check against the key
    key = fake_pubkey(secret)
    return key, sha256d(key + message.encode())


def _signer(message: str, signature: bytes, claimed: bytes) -> bytes:
    if signature != sha256d(claimed + message.encode()):
        raise BindingError("bad_signature", "the toy binding signature does not verify")
    return claimed


def header_id(raw: bytes) -> str:
    return sha256d(raw)[::-1].hex()


def _client() -> Any:
    from . import client

    return client


def _verifier() -> Any:
    from .exchange import ToyVerifier

    return ToyVerifier()


def _relay() -> Any:
    from . import relay

    return relay


PROFILE = ChainProfile(
    name="toy",
    ticker=TICKER,
    unit=UNIT,
    block_time_s=600,
    key_kind=KeyKind.SECP256K1_COMPRESSED,
    confirmations={"memory": 1},
    wallet=WalletSpec(
        label=TICKER,
        is_valid_secret=lambda candidate: True,
        public_of=lambda secret: ToyPublic(fake_pubkey(secret)),
        public_from_json=lambda data: ToyPublic(bytes.fromhex(data["public_key"])),
        describe=lambda public, network: [("TOY", public.display_address(network))],
    ),
    assets=AssetSpec(
        native=TICKER,
        owns=lambda asset: asset == TICKER,
        unit_of=lambda asset: UNIT if asset == TICKER else None,
    ),
    binding=BindingSpec(key_len=33, sign=_sign, signer=_signer),
    relay=RelaySpec(
        type_id_block=TYPE_ID_BLOCK,
        headers_type_id=RELAY_HEADERS,
        types=TYPES,
        tx_types=lambda dev: _relay().tx_types(),
        tables=(TableSpec(HEADERS_TABLE, owner="spv", doc="toy relay: height/hash -> header"),),
        genesis=GenesisPart(
            keys=GENESIS_KEYS,
            to_json=lambda cfg: {} if cfg is None else {"toy_genesis_header": cfg.hex()},
            from_json=lambda data: _from_json(data),
            initialise=lambda state, cfg: _relay().initialise(state, cfg),
        ),
        status=lambda view: _relay().status(view),
        best_hash=lambda view, height: _relay().best_hash(view, height),
        header_id=header_id,
        encode_headers=b"".join,
        max_headers_per_tx=100,
        tip_field="height",
        permissionless=True,
        missing_relay="this ETM chain has no toy relay",
        policy_of=lambda view: _relay().policy(),
        network_of=lambda view: _relay().network_of(view),
        default_policy=lambda network: _relay().policy(),
        dev_network="memory",
        tx_plugin="toy_chain.relay",
    ),
    exchange=ExchangeSpec(
        verifier=_verifier,
        lock_proof=lambda lock, proof: _client().lock_proof(lock, proof),
        txid_json_key="toy_txid",
    ),
    client=ClientSpec(
        adapter_lock_id=lambda lock_id, hashlock: _client().adapter_lock_id(lock_id, hashlock),
        deposit_payments=lambda request: _client().deposit_payments(request),
        deposit_proof=lambda proof: _client().deposit_proof(proof),
        check_deposit=lambda proof, request: _client().check_deposit(proof, request),
        resumable=False,
    ),
)


def _from_json(data: Mapping[str, Any]) -> bytes | None:
    raw = data.get("toy_genesis_header")
    return None if raw is None else bytes.fromhex(raw)
