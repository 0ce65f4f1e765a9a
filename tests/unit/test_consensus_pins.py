"""Consensus and persisted formats pinned as literals (issue 12, step A0).

Issue 12 moves every chain's code into ``etm_bridge/chains/<name>/`` and makes the core read a
registry of chain profiles. Nothing of that may change what a node agrees on or what a user's
files hold, so these values were computed on main *before* anything moved and are compared
here byte for byte:

- the transaction types (id, name) and state tables (name, owner) of the node's plug-ins;
- the genesis id of a development chain with an ``spv`` section (Bitcoin regtest with its
  policy fields, an Ethereum checkpoint from the real mainnet vector, relayers, HTLC contract,
  pool vaults, the development flag) and of one without;
- the state digest after a scripted sequence through the real plug-in types and verifiers:
  Bitcoin headers (3 regtest blocks), a Bitcoin tx proof, Ethereum headers and a receipt proof,
  pool creation on both chains, bindings on both chains (Bitcoin signed message, EIP-191), an
  LP deposit proven by SPV, a swap in proven by SPV and claimed, a native HTLC lock and claim;
  plus the ``/api/spv`` JSON of that state, and a lazily started (regtest) relay;
- a swap record's codec dict (``swaps.db``);
- a wallet's derived secrets and the keystore's ``public`` section.

If one of these fails, a change altered consensus or a persisted format. That is never a
refactoring detail: revert it, or (for a deliberate consensus change) bump what must be bumped
and document it before updating the literal.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import pytest
import rlp
import vector_files
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_RETURN

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import dev_genesis, genesis_block
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ETM_EPOCH_UNIX, ChainParams
from etm_bridge.chain.registry import Registry, TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State, canonical_json, encode_changes
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.bitcoin.etm import relay_types as btc_types
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.chains.bitcoin.spv.checkpoints import default_checkpoint
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.chains.ethereum.binding import sign_eth
from etm_bridge.chains.ethereum.etm import relay_types as eth_types
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.ethereum.spv.headers import (
    ANVIL,
    EMPTY_OMMERS_HASH,
    expected_base_fee,
    parse_header,
)
from etm_bridge.chains.ethereum.spv.rlp import encode_checked_header
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import hashlock_of
from etm_bridge.node import spv_plugin
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.spv.relay_status import relay_status
from etm_bridge.swaps.core.codec import record_to_dict
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.fsm import SwapDirection as Direction
from etm_bridge.swaps.core.model import (
    ActionKind,
    BlockRef,
    DepKind,
    Intent,
    IntentResult,
    LegTerms,
    Outcome,
    SwapRecord,
    SwapTerms,
)
from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore, load_keystore
from etm_bridge.wallet.derive import UnlockedWallet, derive_secret

pytestmark = pytest.mark.unit

# --- the pinned values (computed on main 5efc9ff, before issue 12 moved anything) ---------------

TX_TYPES = [
    (101, "btc_relay_headers"),
    (102, "btc_tx_proof"),
    (111, "eth_relay_headers"),
    (112, "eth_receipt_proof"),
    # issue 14 (design-14 section 8): added; refused on every relay without eth_attestation, so
    # no chain made before accepts anything new (docs/consensus.md, "Consensus changes")
    (113, "eth_attest_headers"),
    (200, "xchg_pool_create"),
    (201, "xchg_bind"),
    (202, "xchg_unbind"),
    (203, "xchg_htlc_lock"),
    (204, "xchg_htlc_claim"),
    (205, "xchg_htlc_refund"),
    (206, "xchg_lp_deposit"),
    (207, "xchg_lp_withdraw"),
    (208, "xchg_swap_in"),
    (209, "xchg_swap_out"),
    (210, "xchg_obligation_paid"),
    (211, "xchg_obligation_default"),
    (212, "xchg_swap_intent"),
    (213, "xchg_swap_intent_cancel"),  # issue 15: bonded intents (docs/exchange.md)
]
TABLES = [
    ("spv_btc_headers", "spv"),
    ("spv_btc_txs", "spv"),
    ("spv_config", "spv"),
    ("spv_eth_headers", "spv"),
    ("spv_eth_receipts", "spv"),
    ("xchg_binding_nonces", "exchange"),
    ("xchg_bindings", "exchange"),
    ("xchg_hashlocks", "exchange"),
    ("xchg_htlcs", "exchange"),
    ("xchg_intent_expiry", "exchange"),  # issue 15
    ("xchg_investor_obligations", "exchange"),
    ("xchg_key_owners", "exchange"),
    ("xchg_lp_entry", "exchange"),
    ("xchg_obligations", "exchange"),
    ("xchg_open_swaps", "exchange"),
    ("xchg_pools", "exchange"),
    ("xchg_positions", "exchange"),
    ("xchg_proven_value", "exchange"),
    ("xchg_shares", "exchange"),
    ("xchg_swap_intents", "exchange"),
    ("xchg_swap_log", "exchange"),
    ("xchg_swap_seq", "exchange"),
    ("xchg_swaps", "exchange"),
    ("xchg_used_proofs", "exchange"),
]
GENESIS_SECTIONS = ["spv"]
GENESIS_ID_WITH_SPV = "e2873ddcb0d50e53840effa8e0e0ca17358ce1c1aa88500d9f9058ea8669c20a"
GENESIS_ID_WITHOUT_SPV = "77d5e55eb56440706508aa49e4e513d5d9edbce84873b0641e89a8fdddb79d3f"
SPV_SECTION_SHA256 = "247e86962dc1ddfea2aa7e58dccfc11b471e4299e25f8d27deb835997d3b65a0"
STATE_DIGEST = "d1bca790d8cbdff18ccde469faac135a99d1c9b091b849a6b93bc0b39edf4f7b"
#: issue 15 (u15a): ``/api/spv/eth`` also serves the genesis ``pool_vaults`` (an added read
#: field, so ``lp deposit`` finds the vault without a flag); state and genesis are unchanged
RELAY_STATUS_SHA256 = "c5850593b8a64b5a2f08a94852ee394eb5bbbb70108ca8c79374737cf04d203f"
QUOTE_DEPTH = {
    "btc": {
        "chain": "btc",
        "confirmations": 6,
        "block_time_s": 600,
        "expected_wait_s": 3600,
        "value_scaled_confirmations": 6,
    },
    "eth": {
        "chain": "eth",
        "confirmations": 1,
        "block_time_s": 12,
        "expected_wait_s": 12,
        "value_scaled_confirmations": 0,
    },
}
LAZY_RELAY_DIGEST = "72079e2f9c9bb4516c1e9cc998bcc47611710d4700164aa5abd8330191ed6f4d"
SWAP_RECORD = {
    "terms": {
        "swap_id": "swap-0123abcd",
        "direction": "foreign_to_etm",
        "hashlock": "425ed4e4a36b30ea21b90e21c712c649e8214c29b7eaf68089d1039c6e55384c",
        "user_leg": {
            "chain": "bitcoin",
            "amount": 100000,
            "claim_key": "022121212121212121212121212121212121212121212121212121212121212121",
            "refund_key": "033131313131313131313131313131313131313131313131313131313131313131",
            "timelock_height": 800,
            "confirmations": 2,
            "asset_id": None,
        },
        "counter_leg": {
            "chain": "etm",
            "amount": 1000000000,
            "claim_key": "4444444444444444444444444444444444444444",
            "refund_key": "5555555555555555555555555555555555555555",
            "timelock_height": 0,
            "confirmations": 1,
            "asset_id": None,
            "lock_id": "abababababababababababababababababababababababababababababababab",
        },
        "created_at_s": 1700000000,
        "lock_deadline_s": 1700003600,
        "reveal_margin_blocks": 6,
    },
    "role": "user",
    "state": "user_locked",
    "preimage": "4242424242424242424242424242424242424242424242424242424242424242",
    "failure": None,
    "intents": [
        {
            "key": "swap-0123abcd:lock_user_leg:0",
            "kind": "lock_user_leg",
            "chain": "bitcoin",
            "created_at_s": 1700000050,
            "outcome": "broadcast",
            "txid": "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
            "detail": "broadcast",
            "result_at_s": 1700000100,
        }
    ],
    "depends_on": [
        {
            "kind": "user_lock",
            "chain": "bitcoin",
            "height": 790,
            "header": "efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef",
        }
    ],
    "version": 3,
    "updated_at_s": 1700000200,
    "notes": ["waiting for 2 confirmations"],
}
WALLET_SECRETS = {
    "etm": "fae054dc12b851b31094eab44b30054368c3b663fe69528c1f8157fba048d353",
    "btc": "27f3d24be8853851d7da38a75778b6a46dcc71bd14817dd25de4253898aad9d9",
    "eth": "fe20acf2f4b4ff47bcd464f9b037b46ddd567eedf2ae244320dcfd4f9f1bc927",
}
KEYSTORE_PUBLIC = {
    "etm": {
        "public_key": "ad9f6567c374d5e21cf382e1375e39ec61435686820f803fca3fd976cc42b57c",
        "address": "etm16cq7zlwkce9pnuxjzrpx2llhr6emaf95xx6me6",
    },
    "btc": {
        "public_key": "033c2dae55f96e9bb3c8d4235b9802aa8f57dbef10313cc816dab4f4692c939aaf",
        "addresses": {
            "mainnet": "bc1q8zklz6c7jt6ggxklkepqpuuea5gtd6x796pha2",
            "testnet": "tb1q8zklz6c7jt6ggxklkepqpuuea5gtd6x70u6yxe",
            "signet": "tb1q8zklz6c7jt6ggxklkepqpuuea5gtd6x70u6yxe",
            "regtest": "bcrt1q8zklz6c7jt6ggxklkepqpuuea5gtd6x7d4rf3s",
        },
    },
    "eth": {"address": "0x2159bDfa155aD7936300A05eDcae7FC61fcF625b"},
}

# --- the scripted chain -----------------------------------------------------------------------

BITS = 0x207FFFFF
T0 = ETM_EPOCH_UNIX + 10**6  # unix time of the first mined Bitcoin block
PREIMAGE, OTHER_PREIMAGE = b"\x42" * 32, b"\x43" * 32
SECRETS = {"operator": b"\x01" * 32, "alice": b"\x02" * 32, "bob": b"\x03" * 32}
PEOPLE = ("operator", "alice", "bob", "carol")
RELAYER = dev_key("eth-relayer")
HTLC_CONTRACT, VAULT = b"\x11" * 20, b"\x22" * 20
LOCK_SAT, DEPOSIT_SAT, ETM_LIQ = 50_000, 200_000, 10**13


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _anvil_header(parent: bytes, number: int, timestamp: int, base_fee: int, **over: Any) -> bytes:
    fields: dict[str, Any] = {
        "parentHash": parent, "sha3Uncles": EMPTY_OMMERS_HASH, "miner": bytes(20),
        "stateRoot": b"\x01" * 32, "transactionsRoot": b"\x02" * 32,
        "receiptsRoot": over.pop("receipts_root", b"\x03" * 32), "logsBloom": bytes(256),
        "difficulty": 0, "number": number, "gasLimit": 30_000_000, "gasUsed": 0,
        "timestamp": timestamp, "extraData": b"", "mixHash": bytes(32), "nonce": bytes(8),
        "baseFeePerGas": base_fee, "withdrawalsRoot": b"\x04" * 32, "blobGasUsed": 0,
        "excessBlobGas": 0, "parentBeaconBlockRoot": bytes(32), "requestsHash": b"\x05" * 32,
    }  # fmt: skip
    fields.update(over)
    return rlp.encode(list(fields.values()))


ANVIL_GENESIS = _anvil_header(bytes(32), 0, 1_000, 1_000_000_000)


def _mine(prev_le: bytes, time: int, merkle_le: bytes) -> bytes:
    for nonce in range(1 << 16):
        raw = struct.pack("<i32s32sIII", 0x20000000, prev_le, merkle_le, time, BITS, nonce)
        if int.from_bytes(dsha256(raw), "little") <= REGTEST.pow_limit >> 1:
            return raw
    raise AssertionError("no nonce")


def _merkle(txids: list[bytes]) -> list[list[bytes]]:
    levels = [txids]
    while len(levels[-1]) > 1:
        level = levels[-1]
        padded = [*level, level[-1]] if len(level) % 2 else level
        levels.append([dsha256(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)])
    return levels


def _branch(levels: list[list[bytes]], index: int) -> tuple[bytes, ...]:
    out = []
    for level in levels[:-1]:
        sibling = index ^ 1
        out.append(level[sibling] if sibling < len(level) else level[index])
        index >>= 1
    return tuple(out)


def _btc_key(who: str) -> bytes:
    return btc_pubkey_of(SECRETS[who])


def _eth_address(who: str) -> bytes:
    from eth_account import Account

    return bytes.fromhex(Account.from_key(SECRETS[who]).address[2:])


def _spv_section() -> SpvSection:
    btc = BtcRelayGenesis(network="regtest", min_confirmations=1, max_lag_s=7_200,
                          attacker_share="0.1", loss_budget=100_000)  # fmt: skip
    eth = EthRelayGenesis(
        chain="anvil", checkpoint_rlp=ANVIL_GENESIS, relayers=(RELAYER.public_key,),
        min_confirmations=1, htlc_contract=HTLC_CONTRACT,
        pool_vaults=((_eth_address("operator"), VAULT),), max_lag_s=600,
    )  # fmt: skip
    return SpvSection({"btc": btc, "eth": eth}, allow_dev_pools=True)


class _Chain:
    """A state under the node's plug-ins, txs run through each type's check then apply."""

    def __init__(self, spv: dict[str, Any] | None) -> None:
        self.params = ChainParams(tx_plugins=NODE_TX_PLUGINS)
        self.registry: Registry = build_registry(self.params)
        self.state = State(EmptyBackend(), self.registry.table_names)
        if spv is not None:
            self.registry.genesis_sections[spv_plugin.SECTION](self.state, spv)
        for who in PEOPLE:
            self.state.mint(address_hash(dev_key(who).public_key), 10**15)
        self.nonces: dict[str, int] = {}
        self.height, self.time = 10, 0

    def ctx(self) -> TxContext:
        return TxContext(self.params, self.height, self.time, bytes(32))

    def send(self, who: str, type_id: int, payload: bytes, key: Any = None) -> Tx:
        nonce = self.nonces.get(who, 0)
        self.nonces[who] = nonce + 1
        tx = Tx.create(key or dev_key(who), network=self.params.network_id, type_id=type_id,
                       nonce=nonce, fee=0, payload=payload)  # fmt: skip
        tx_type = self.registry.type_of(type_id)
        decoded = tx_type.decode(payload)
        self.state.savepoint()
        try:
            tx_type.check(self.state, tx, decoded, self.ctx())
            tx_type.apply(self.state, tx, decoded, self.ctx())
        except Exception:
            self.state.rollback()
            raise
        self.state.release()
        self.height += 1
        return tx

    def xchg(self, who: str, type_id: int, payload: Any) -> Tx:
        return self.send(who, type_id, pl.encode_payload(payload))

    def addr(self, who: str) -> str:
        return encode_address(address_hash(dev_key(who).public_key))

    def bind_btc(self, who: str) -> None:
        expiry = self.height + 100
        msg = bd.binding_message(plans.network_name(self.ctx()), self.addr(who), "btc", 1, expiry)
        sig = sign_btc(msg, SECRETS[who])
        self.xchg(who, xt.BIND, pl.Bind("btc", _btc_key(who), 1, expiry, sig, False))

    def bind_eth(self, who: str) -> None:
        expiry = self.height + 100
        msg = bd.binding_message(plans.network_name(self.ctx()), self.addr(who), "eth", 1, expiry)
        sig = sign_eth(msg, SECRETS[who])
        self.xchg(who, xt.BIND, pl.Bind("eth", _eth_address(who), 1, expiry, sig, False))

    def digest(self) -> str:
        return _sha(b"".join(encode_changes(self.state.changes())))


def _bitcoin_block(chain: _Chain) -> tuple[list[bytes], list[bytes], list[list[bytes]]]:
    """Three regtest blocks; the first holds a coinbase, an LP deposit and a user's lock."""
    operator20 = address_hash(dev_key("operator").public_key)
    coinbase = CMutableTransaction(
        [CMutableTxIn(COutPoint(), CScript([1, b"etm"]))],
        [CMutableTxOut(50 * 10**8, CScript([OP_RETURN]))],
    ).serialize()
    deposit = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x22" * 32, 0))],
        [CMutableTxOut(DEPOSIT_SAT, bp.p2wpkh(_btc_key("operator"))),
         CMutableTxOut(0, CScript([OP_RETURN, bp.DEPOSIT_TAG + operator20]))],
    ).serialize()  # fmt: skip
    script = bp.htlc_witness_script(
        hashlock_of(PREIMAGE), _btc_key("operator"), _btc_key("alice"), 1 + 72
    )
    marker = bp.lock_marker(_btc_key("operator"), _btc_key("alice"), 1 + 72)
    lock = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x33" * 32, 0))],
        [CMutableTxOut(LOCK_SAT, bp.p2wsh(script)), CMutableTxOut(0, CScript(marker))],
    ).serialize()
    txs = [coinbase, deposit, lock]
    levels = _merkle([dsha256(t) for t in txs])
    headers = [_mine(dsha256(REGTEST.genesis_header), T0, levels[-1][0])]
    for i in (1, 2):
        headers.append(_mine(dsha256(headers[-1]), T0 + 600 * i, b"\x11" * 32))
    return headers, [*txs, script], levels


def run_scripted_chain() -> tuple[_Chain, dict[str, Any]]:
    """The scripted sequence; returns the chain and what the node's API would show."""
    chain = _Chain(_spv_section().to_json())
    headers, (coinbase, deposit, lock, script), levels = _bitcoin_block(chain)
    chain.time = T0 + 1_200 + 60 - ETM_EPOCH_UNIX
    chain.send("carol", btc_types.BTC_RELAY_HEADERS, b"".join(headers))
    block = dsha256(headers[0])
    cb_proof = BitcoinTxProof(coinbase, block, 0, 3, _branch(levels, 0))
    chain.send("carol", btc_types.BTC_TX_PROOF, cb_proof.encode())
    # Ethereum: two anvil headers by the trusted relayer, the second holding real receipts
    receipts = vector_files.read_json("ethereum/mainnet_block_21925176_receipts.json")
    root = bytes.fromhex(receipts["receipts_root"][2:])
    parent = parse_header(ANVIL_GENESIS, ANVIL)
    first = _anvil_header(parent.hash, 1, 1_012, expected_base_fee(parent), receipts_root=root)
    parent1 = parse_header(first, ANVIL)
    second = _anvil_header(parent1.hash, 2, 1_024, expected_base_fee(parent1))
    chain.send("relayer", eth_types.ETH_RELAY_HEADERS, rlp.encode([first, second]), RELAYER)
    proof = receipts["proofs"][1]
    nodes = tuple(bytes.fromhex(n[2:]) for n in proof["proof"])
    receipt = eth_types.EthReceiptProof(parent1.hash, proof["index"], nodes)
    chain.send("carol", eth_types.ETH_RECEIPT_PROOF, receipt.encode())
    # pools and bindings on both chains
    chain.xchg(
        "operator", xt.POOL_CREATE, pl.PoolCreate("btc", _btc_key("operator"), 3_000, 100, 1)
    )
    chain.xchg("operator", xt.POOL_CREATE,
               pl.PoolCreate("eth", _eth_address("operator"), 3_000, 100, 1))  # fmt: skip
    for who in ("operator", "alice"):
        chain.bind_btc(who)
        chain.bind_eth(who)
    # an LP deposit and a swap in, both proven by SPV against the relay
    dep = bp.BtcProof(BitcoinTxProof(deposit, block, 1, 3, _branch(levels, 1)), 0)
    chain.xchg("operator", xt.LP_DEPOSIT, pl.LpDeposit("btc", ETM_LIQ, 1, dep.encode()))
    lock_proof = bp.BtcProof(BitcoinTxProof(lock, block, 2, 3, _branch(levels, 2)), 0, script)
    h = hashlock_of(PREIMAGE)
    swap_in = pl.SwapIn("btc", chain.addr("alice"), LOCK_SAT, h, 1, lock_proof.encode())
    chain.xchg("alice", xt.SWAP_IN, swap_in)
    htlc_id = swap_plans.swap_in_htlc_id("btc", dsha256(lock) + bytes(4))
    chain.xchg("alice", xt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    # a native HTLC: bob locks ETM to carol, carol claims
    other = hashlock_of(OTHER_PREIMAGE)
    htlc = pl.HtlcLockPayload(chain.addr("carol"), 10**9, other, chain.height + 50)
    tx = chain.xchg("bob", xt.HTLC_LOCK, htlc)
    chain.xchg("carol", xt.HTLC_CLAIM, pl.HtlcClaim(tx.id, OTHER_PREIMAGE))
    api = {
        "spv": relay_status(chain.state),
    }
    return chain, api


def _quote_depth(chain: _Chain) -> dict[str, Any]:
    from etm_bridge.exchange.pool import PoolDirection
    from etm_bridge.node.exchange_api import _depth

    return {
        asset: _depth(chain.state, asset, PoolDirection.ASSET_TO_ETM, amount)
        for asset, amount in (("btc", 10**8), ("eth", 10**18))
    }


def run_lazy_relay() -> str:
    """No spv section: the first Bitcoin header batch starts a regtest relay (dev chains)."""
    chain = _Chain(None)
    chain.time = T0 + 1_200 + 60 - ETM_EPOCH_UNIX
    headers = [_mine(dsha256(REGTEST.genesis_header), T0, b"\x11" * 32)]
    headers.append(_mine(dsha256(headers[0]), T0 + 600, b"\x11" * 32))
    chain.send("carol", btc_types.BTC_RELAY_HEADERS, b"".join(headers))
    with pytest.raises(TxRejectedError) as info:  # a pool on it needs the development flag
        chain.xchg("operator", xt.POOL_CREATE,
                   pl.PoolCreate("btc", _btc_key("operator"), 3_000, 100, 1))  # fmt: skip
    assert info.value.reason == "dev_network_pool"
    with pytest.raises(TxRejectedError) as info:
        chain.send("relayer", eth_types.ETH_RELAY_HEADERS, rlp.encode([ANVIL_GENESIS]), RELAYER)
    assert info.value.reason == "spv_relay_not_initialised"
    return chain.digest()


def genesis_ids() -> tuple[str, str, str]:
    params = ChainParams(genesis_time=1000, tx_plugins=NODE_TX_PLUGINS)
    bare, _ = dev_genesis(params, 3)
    mainnet_eth = vector_files.read_json("ethereum/helios_rpc_block_21925176.json")
    btc = BtcRelayGenesis(network="mainnet", checkpoint=default_checkpoint("mainnet"),
                          min_confirmations=6, attacker_share="0.1")  # fmt: skip
    eth = EthRelayGenesis(
        chain="ethereum-mainnet", checkpoint_rlp=encode_checked_header(mainnet_eth),
        relayers=(RELAYER.public_key,), min_confirmations=64, htlc_contract=HTLC_CONTRACT,
        pool_vaults=((b"\x33" * 20, VAULT),),
    )  # fmt: skip
    spv = SpvSection({"btc": btc, "eth": eth}, allow_dev_pools=False).to_json()
    with_spv = bare.with_plugin_section(spv_plugin.SECTION, spv)
    return (
        genesis_block(with_spv).id.hex(),
        genesis_block(bare).id.hex(),
        _sha(canonical_json(spv)),
    )


def swap_record() -> SwapRecord:
    leg = LegTerms("bitcoin", 100_000, b"\x02" + b"\x21" * 32, b"\x03" + b"\x31" * 32, 800, 2)
    counter = LegTerms("etm", 10**9, b"\x44" * 20, b"\x55" * 20, 0, 1, None, "ab" * 32)
    terms = SwapTerms("swap-0123abcd", Direction.FOREIGN_TO_ETM, hashlock_of(PREIMAGE), leg,
                      counter, 1_700_000_000, 1_700_003_600, 6)  # fmt: skip
    result = IntentResult(Outcome.BROADCAST, "cd" * 32, "broadcast", 1_700_000_100)
    intent = Intent("swap-0123abcd:lock_user_leg:0", ActionKind.LOCK_USER_LEG, "bitcoin",
                    1_700_000_050, result)  # fmt: skip
    ref = BlockRef(DepKind.USER_LOCK, "bitcoin", 790, "ef" * 32)
    return SwapRecord(terms, Role.USER, SwapState.USER_LOCKED, PREIMAGE, None, (intent,), (ref,),
                      3, 1_700_000_200, ("waiting for 2 confirmations",))  # fmt: skip


MASTER_SEED = bytes(range(32))


# --- the tests ---------------------------------------------------------------------------------


def test_node_plugins_declare_the_same_types_tables_and_sections() -> None:
    registry = build_registry(ChainParams(tx_plugins=NODE_TX_PLUGINS))
    # the plug-ins' part (ids from 100, tables not owned by the core)
    assert [(t.type_id, t.name) for t in registry.types if t.type_id >= 100] == TX_TYPES
    assert sorted((t.name, t.owner) for t in registry.tables if t.owner != "core") == TABLES
    assert sorted(registry.genesis_sections) == GENESIS_SECTIONS
    assert NODE_TX_PLUGINS == ("etm_bridge.node.spv_plugin", "etm_bridge.exchange.txtypes")


def test_genesis_ids_and_the_spv_section_are_unchanged() -> None:
    assert genesis_ids() == (GENESIS_ID_WITH_SPV, GENESIS_ID_WITHOUT_SPV, SPV_SECTION_SHA256)


def test_the_scripted_chain_reaches_the_same_state_and_api_answers() -> None:
    chain, api = run_scripted_chain()
    assert chain.digest() == STATE_DIGEST
    assert _sha(canonical_json(api["spv"])) == RELAY_STATUS_SHA256
    assert _quote_depth(chain) == QUOTE_DEPTH


def test_a_lazily_started_relay_reaches_the_same_state() -> None:
    assert run_lazy_relay() == LAZY_RELAY_DIGEST


def test_a_swap_record_encodes_to_the_same_dict() -> None:
    assert record_to_dict(swap_record()) == SWAP_RECORD


def test_wallet_keys_and_the_keystore_public_section_are_unchanged(tmp_path) -> None:
    secrets = {label: derive_secret(MASTER_SEED, label).hex() for label in ("etm", "btc", "eth")}
    assert secrets == WALLET_SECRETS
    # The pinned chains' entries never change. A chain installed later (a profile of its own,
    # e.g. Handshake) adds its own entry, under its wallet label and derived the same way; an
    # older keystore without it still loads (test_wallet_derive, app/wallet skips the chain).
    labels = {profile.wallet.label for profile in chain_registry()}
    public = UnlockedWallet(MASTER_SEED).public().to_json()
    assert _pinned(public) == KEYSTORE_PUBLIC
    assert set(public) - set(KEYSTORE_PUBLIC) <= labels
    path = tmp_path / "keystore.json"
    create_keystore(path, "pins", master_seed=MASTER_SEED, kdf=UNSAFE_FAST_KDF)
    assert _pinned(json.loads(path.read_text())["public"]) == KEYSTORE_PUBLIC
    assert _pinned(load_keystore(path).unlock("pins").public().to_json()) == KEYSTORE_PUBLIC


def _pinned(public: dict[str, Any]) -> dict[str, Any]:
    return {label: entry for label, entry in public.items() if label in KEYSTORE_PUBLIC}
