"""Fuzz the payload of every registered transaction type through the real admission path
(issue 11 item 3): a ``node init`` chain (core, SPV relays with a Bitcoin and an Ethereum relay,
the exchange) receives signed, fee-paying transactions of any type carrying random bytes, RLP,
JSON of the exchange payloads' shapes with hostile values, and decoder bombs.

Every type's decoder raises only project errors; every submission is admitted or refused with a
``TxRejectedError`` (never another exception, never a crash), a refusal leaves the mempool and
the committed state untouched, and what was admitted forges into blocks that a second node
accepts. Derandomized, so CI runs the same inputs every time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from typing import Any

import rlp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import GenesisConfig, dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.state import canonical_json
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_delegates import DELEGATE_REGISTER, UNVOTE, VOTE
from etm_bridge.chain.tx_transfer import TRANSFER
from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.errors import EtmBridgeError, TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.node import spv_plugin
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.store import ChainStore
from etm_bridge.testing.hostile import nested_json

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
USERS = [dev_key(f"user-{i}") for i in range(4)]
DELEGATES = [dev_key(f"delegate-{i}").public_key for i in range(3)]
#: Exchange type id -> its payload class (exchange/txtypes.py).
PAYLOAD_CLASSES = {
    xt.POOL_CREATE: pl.PoolCreate, xt.BIND: pl.Bind, xt.UNBIND: pl.Unbind,
    xt.HTLC_LOCK: pl.HtlcLockPayload, xt.HTLC_CLAIM: pl.HtlcClaim, xt.HTLC_REFUND: pl.HtlcRefund,
    xt.LP_DEPOSIT: pl.LpDeposit, xt.LP_WITHDRAW: pl.LpWithdraw, xt.SWAP_IN: pl.SwapIn,
    xt.SWAP_OUT: pl.SwapOut, xt.OBLIGATION_PAID: pl.ObligationPaid,
    xt.OBLIGATION_DEFAULT: pl.ObligationDefault, xt.SWAP_INTENT: pl.SwapIntentPayload,
    xt.SWAP_INTENT_CANCEL: pl.SwapIntentCancel,
}  # fmt: skip
ANVIL_GENESIS = rlp.encode(
    [bytes(32), bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"),
     bytes(20), b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, bytes(256), b"", b"", 30_000_000,
     b"", 1_000, b"", bytes(32), bytes(8), 1_000_000_000, b"\x04" * 32, b"", b"", bytes(32),
     b"\x05" * 32]
)  # fmt: skip


def _genesis() -> GenesisConfig:
    params = ChainParams(block_time_s=1, delegates_per_round=3, tx_plugins=NODE_TX_PLUGINS)
    cfg, _ = dev_genesis(params, 3, funded=len(USERS))
    # development relays: pools on them need the genesis flag (issue 11, item 13)
    eth = EthRelayGenesis(chain="anvil", checkpoint_rlp=ANVIL_GENESIS,
                          relayers=(USERS[0].public_key,), htlc_contract=b"\x42" * 20)  # fmt: skip
    spv = SpvSection({"btc": BtcRelayGenesis(network="regtest"), "eth": eth}, allow_dev_pools=True)
    return cfg.with_plugin_section(spv_plugin.SECTION, spv.to_json())


GENESIS = _genesis()
TYPE_IDS = [t.type_id for t in Chain(ChainStore.memory(), GENESIS).registry.types]


def _field_value(kind: Any) -> st.SearchStrategy[Any]:
    ints = st.one_of(st.integers(0, 2**20), st.integers(0, 2**64 - 1), st.integers(-3, 2**130))
    hexes = st.one_of(st.binary(min_size=32, max_size=33), st.binary(max_size=160)).map(bytes.hex)
    strs = st.one_of(
        st.sampled_from(["btc", "eth", "erc20:0x" + "ab" * 20, "", "BTC"]),
        st.sampled_from([encode_address(address_hash(u.public_key)) for u in USERS]),
        st.text(max_size=24),
    )
    typed = {int: ints, bytes: hexes, str: strs, bool: st.booleans()}[kind]
    hostile = st.one_of(st.none(), st.lists(st.integers(), max_size=2), hexes.map(str.upper))
    return st.one_of(*[typed] * 9, hostile)


@st.composite
def shaped_json(draw: Any, cls: type) -> bytes:
    """The JSON object of an exchange payload, with hostile values and sometimes keys."""
    hints = typing.get_type_hints(cls)
    body = {f.name: draw(_field_value(hints[f.name])) for f in dataclasses.fields(cls)}
    if body and draw(st.integers(0, 19)) == 0:
        body.pop(draw(st.sampled_from(sorted(body))))
    if draw(st.integers(0, 19)) == 0:
        body["extra"] = 1
    return canonical_json(body)


rlp_items = st.recursive(st.binary(max_size=90), lambda c: st.lists(c, max_size=8), max_leaves=24)
BOMBS = [nested_json(300_000), nested_rlp(80_000), flat_rlp(900_000), b"{" * 100 + b"}" * 100]
payloads = st.one_of(
    st.binary(max_size=400),
    st.sampled_from(list(PAYLOAD_CLASSES.values())).flatmap(shaped_json),
    rlp_items.map(rlp.encode),
    st.lists(st.binary(min_size=80, max_size=80), min_size=1, max_size=3).map(b"".join),
    st.sampled_from(BOMBS),
)
#: (type id, payload): any payload under any type, and each type's own shape with hostile values.
typed_payloads = st.one_of(
    st.tuples(st.sampled_from(TYPE_IDS), payloads),
    st.sampled_from(sorted(PAYLOAD_CLASSES.items())).flatmap(
        lambda item: st.tuples(st.just(item[0]), shaped_json(item[1]))
    ),
    st.tuples(
        st.just(TRANSFER),
        st.tuples(st.sampled_from(USERS), st.integers(0, 2**64 - 1)).map(
            lambda r: address_hash(r[0].public_key) + r[1].to_bytes(8, "big")
        ),
    ),
    st.tuples(st.sampled_from([VOTE, UNVOTE]), st.sampled_from([*DELEGATES, bytes(32)])),
    st.tuples(
        st.just(DELEGATE_REGISTER),
        st.text("abc_1", max_size=22).map(lambda n: bytes((len(n),)) + n.encode()),
    ),
)


def test_every_type_decoder_raises_only_project_errors() -> None:
    registry = Chain(ChainStore.memory(), GENESIS).registry

    @FUZZ
    @given(typed_payloads)
    def run(typed: tuple[int, bytes]) -> None:
        type_id, payload = typed
        with contextlib.suppress(EtmBridgeError):
            registry.type_of(type_id).decode(payload)

    run()


class _Sender:
    """Signs for the funded users, tracking the next nonce of each."""

    def __init__(self) -> None:
        self.nonces = {u.public_key: 0 for u in USERS}

    def tx(self, key: SigningKey, type_id: int, payload: bytes) -> Tx:
        draft = Tx(GENESIS.params.network_id, type_id, key.public_key, 0, 0, payload, bytes(64))
        fee = GENESIS.params.fee_base + GENESIS.params.fee_per_byte * draft.size + 10**6
        return Tx.create(key, network=GENESIS.params.network_id, type_id=type_id,
                         nonce=self.nonces[key.public_key], fee=fee, payload=payload)  # fmt: skip


def _forge_all(chain: Chain, replica: Chain, now: int) -> int:
    """Forge until the mempool is empty; the replica applies every block (so each is valid)."""
    keys = dev_genesis(GENESIS.params, 3, funded=len(USERS))[1]
    while len(chain.mempool):
        now += 1
        block = chain.forge_next(now, keys)
        if block is not None:
            assert replica.apply_block(block)
        assert now < 10_000
    return now


def test_any_payload_of_any_type_is_admitted_or_refused_cleanly() -> None:
    chain, replica = Chain(ChainStore.memory(), GENESIS), Chain(ChainStore.memory(), GENESIS)
    sender = _Sender()
    operator = USERS[3]
    for asset, key in (("btc", b"\x02" + b"\x11" * 32), ("eth", b"\x22" * 20)):  # pools to hit
        create = pl.PoolCreate(asset, key, 3_000, 100, 1)
        chain.submit_tx(sender.tx(operator, xt.POOL_CREATE, pl.encode_payload(create)))
        sender.nonces[operator.public_key] += 1
    now = _forge_all(chain, replica, 0)
    digest = chain.status()["stateDigest"]
    admitted: list[Tx] = []

    @FUZZ
    @given(typed_payloads, st.sampled_from(USERS))
    def run(typed: tuple[int, bytes], key: SigningKey) -> None:
        type_id, payload = typed
        pending = len(chain.mempool)
        tx = sender.tx(key, type_id, payload)
        try:
            chain.submit_tx(tx)
        except TxRejectedError as exc:
            assert exc.reason and exc.detail
            assert len(chain.mempool) == pending
        else:
            admitted.append(tx)
            sender.nonces[key.public_key] += 1
        assert chain.status()["stateDigest"] == digest

    run()
    assert admitted  # the strategies do reach the types' own rules
    _forge_all(chain, replica, now)  # what was admitted still forges; a second node agrees
    assert replica.status()["stateDigest"] == chain.status()["stateDigest"]
