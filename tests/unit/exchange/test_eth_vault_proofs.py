"""ETH pool deposits and obligation payments proven by PoolVault events, end to end in Python.

Anvil-shaped headers whose receipts tries hold hand-built receipts are fed to a real
:class:`~etm_bridge.chains.ethereum.spv.header_relay.EthRelay`; the logs are ABI-encoded with
eth_abi against the committed PoolVault artifact (not with the verifier's own tables), and every
proof goes through the exchange's transaction types, as on chain. Every forgery a receipt proof does
not rule out by itself is tried: another contract's log, another event, a reverted transaction,
someone else's deposit, another token, a payment to another address, too few confirmations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_abi import encode
from eth_account import Account
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from exchange_harness import Ledger
from hypothesis import given, settings
from hypothesis import strategies as st
from test_txtypes import ETM_LIQ, SECRETS

from etm_bridge.chains.ethereum.binding import sign_eth
from etm_bridge.chains.ethereum.etm import verifier as ep
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay
from etm_bridge.chains.ethereum.spv.headers import (
    ANVIL,
    EMPTY_OMMERS_HASH,
    EthLog,
    EventAbi,
    decode_event,
)
from etm_bridge.errors import ExchangeError, TxRejectedError, ValidationError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus
from etm_bridge.exchange.reasons import Reason
from etm_bridge.spv.kvstore import MemoryKeyValueStore

ROOT = Path(__file__).resolve().parents[3]
VAULT_ABI = json.loads((ROOT / "contracts/ethereum/artifacts/PoolVault.json").read_text())["abi"]
EVENTS = {e["name"]: e for e in VAULT_ABI if e["type"] == "event"}
RELAYER = b"\x0e" * 32
VAULT, HTLC, TOKEN = b"\x5a" * 20, b"\x4c" * 20, b"\x70" * 20
ETH_LIQ = 10**18
CONFIRMATIONS = 3


def eth_key(who: str) -> bytes:
    return bytes.fromhex(Account.from_key(SECRETS[who]).address[2:])


def header(parent: bytes, number: int, receipts_root: bytes, txs_root: bytes, salt: bytes) -> bytes:
    """A Prague-layout (21 fields) post-merge header, as anvil 1.7.1 makes them."""
    base = [parent, EMPTY_OMMERS_HASH, bytes(20), b"\x01" * 32, txs_root, receipts_root]
    more = [bytes(256), 0, number, 30_000_000, 0, 1_000 + 12 * number, salt, bytes(32), bytes(8)]
    forks = [10**9, b"\x04" * 32, 0, 0, b"\x05" * 32, b"\x06" * 32]
    return rlp.encode([*base, *more, *forks])


def event_log(name: str, topic1: bytes, topic2: bytes, token: bytes, amount: int) -> list[Any]:
    topics = [event_abi_to_log_topic(EVENTS[name]), topic1, topic2]
    data = encode(["address", "uint256"], [to_checksum_address(token), amount])
    return [VAULT, topics, data]


def deposited(owner20: bytes, amount: int, token: bytes = bytes(20)) -> list[Any]:
    sender = bytes(12) + eth_key("alice")
    return event_log("Deposited", owner20 + bytes(12), sender, token, amount)


def paid(oid: int, to: bytes, amount: int, token: bytes = bytes(20)) -> list[Any]:
    return event_log("Paid", oid.to_bytes(32, "big"), bytes(12) + to, token, amount)


def receipt(*logs: list[Any], status: int = 1) -> bytes:
    return b"\x02" + rlp.encode([status, 50_000, bytes(256), list(logs)])


class EthChain:
    """Blocks carrying given receipts and transactions, relayed into a real EthRelay."""

    def __init__(self) -> None:
        empty = eth_rlp.receipts_root([])
        genesis = header(bytes(32), 0, empty, empty, b"")
        self.relay = EthRelay.initialise(MemoryKeyValueStore(), ANVIL, genesis, [RELAYER])
        self.sent = 0

    def mine(
        self,
        receipts: list[bytes],
        txs: list[bytes],
        parent: bytes | None = None,
        salt: bytes = b"",
    ) -> bytes:
        """Mine on ``parent`` (default: the tip); returns the new block's hash."""
        top = self.relay.get(parent) if parent else self.relay.tip()
        assert top is not None
        roots = eth_rlp.receipts_root(receipts), eth_rlp.receipts_root(txs)
        raw = header(top.hash, top.number + 1, *roots, salt)
        self.relay.submit_headers([raw], RELAYER)
        return keccak(raw)

    def include(
        self,
        rc: bytes,
        log_index: int = 0,
        depth: int = CONFIRMATIONS,
        tx: bytes = b"",
        parent: bytes | None = None,
        salt: bytes = b"",
    ) -> bytes:
        """Mine ``rc`` (of transaction ``tx``) at index 1 of a block, ``depth`` deep."""
        self.sent += 1
        tx = tx or b"\x02" + rlp.encode([self.sent, b"vault call"])
        receipts, txs = [receipt(), rc], [b"\x02" + rlp.encode([b"filler"]), tx]
        block = self.mine(receipts, txs, parent, salt)
        tip = block
        for _ in range(depth - 1):
            tip = self.mine([], [], tip, salt)
        _, nodes = eth_rlp.build_receipt_proof(receipts, 1)
        _, tx_nodes = eth_rlp.build_receipt_proof(txs, 1)
        return ep.EthLogProof(ep.EthProof(block, 1, nodes, log_index), tx_nodes).encode()


def bind_eth(led: Ledger, who: str) -> None:
    expiry = led.height + 100
    msg = bd.binding_message(plans.network_name(led.ctx()), led.address(who), "eth", 1, expiry)
    sig = sign_eth(msg, SECRETS[who])
    led.send(who, tt.BIND, pl.Bind("eth", eth_key(who), 1, expiry, sig, False))


def world_with(vaults: dict[bytes, bytes]) -> tuple[EthChain, Ledger]:
    eth = EthChain()
    verifier = ep.EthVerifier(lambda view: eth.relay, HTLC, vaults=vaults)
    led = Ledger(verifier=tt.ChainVerifiers({"eth": verifier}))
    create = pl.PoolCreate("eth", eth_key("operator"), 3_000, 100, CONFIRMATIONS)
    led.send("operator", tt.POOL_CREATE, create)
    bind_eth(led, "alice")
    return eth, led


@pytest.fixture
def world() -> tuple[EthChain, Ledger]:
    return world_with({eth_key("operator"): VAULT})


def rejected(reason: str, call: Any, spv_rule: str = "") -> None:
    with pytest.raises((TxRejectedError, ExchangeError)) as exc:
        call()
    assert exc.value.reason == reason, exc.value
    if spv_rule:
        assert getattr(exc.value.__cause__, "reason", None) == spv_rule, exc.value


def deposit(led: Ledger, who: str, proof: bytes, etm: int = ETM_LIQ) -> Any:
    return led.send(who, tt.LP_DEPOSIT, pl.LpDeposit("eth", etm, 1, proof))


def test_python_event_tables_equal_the_compiled_contracts_events() -> None:
    for ours, name in ((ep.DEPOSITED_EVENT, "Deposited"), (ep.PAID_EVENT, "Paid")):
        assert EventAbi.from_json(EVENTS[name]) == ours
        assert ours.topic0 == event_abi_to_log_topic(EVENTS[name])


def test_eth_deposits_and_an_obligation_payment_proven_through_the_tx_types(world) -> None:
    eth, led = world
    proof = eth.include(receipt(deposited(led.addr20("operator"), ETH_LIQ)))
    deposit(led, "operator", proof)
    assert led.pool("eth").asset_reserve == ETH_LIQ
    rejected(Reason.DEPOSIT_REPLAYED, lambda: deposit(led, "operator", proof))
    # a token call logs the token's Transfer first: the proof names the vault's log by position
    transfer = [TOKEN, [b"\x01" * 32], b""]
    proof = eth.include(receipt(transfer, deposited(led.addr20("alice"), ETH_LIQ // 10)), 1)
    deposit(led, "alice", proof, ETM_LIQ // 5)
    assert led.pool("eth").asset_reserve == ETH_LIQ + ETH_LIQ // 10
    led.send("alice", tt.LP_WITHDRAW, pl.LpWithdraw("eth", led.shares("alice", "eth")))
    ob = plans.get_obligation(led.state, 0)
    assert ob.destination == eth_key("alice") and 0 < ob.amount <= ETH_LIQ // 10
    pay_proof = eth.include(receipt(paid(0, eth_key("alice"), ob.amount)))
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, pay_proof))
    assert plans.get_obligation(led.state, 0).status is ObligationStatus.PAID
    rejected(
        Reason.PAYMENT_REPLAYED,
        lambda: led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, pay_proof)),
    )
    led.check_money()


def test_forged_deposit_proofs_are_rejected_with_their_reason(world) -> None:
    eth, led = world
    owner = led.addr20("alice")
    good = deposited(owner, 10**17)
    other_contract = [HTLC, *good[1:]]
    rejected(
        Reason.WRONG_DESTINATION,
        lambda: deposit(led, "alice", eth.include(receipt(other_contract))),
    )
    wrong_event = paid(0, eth_key("alice"), 10**17)
    rejected(
        "bad_proof", lambda: deposit(led, "alice", eth.include(receipt(wrong_event))), "bad-event"
    )
    reverted = receipt(good, status=0)
    rejected(
        "bad_proof", lambda: deposit(led, "alice", eth.include(reverted)), "failed-transaction"
    )
    rejected(Reason.DEPOSIT_NOT_OWNER, lambda: deposit(led, "bob", eth.include(receipt(good))))
    token = receipt(deposited(owner, 10**17, TOKEN))
    rejected(Reason.DEPOSIT_WRONG_ASSET, lambda: deposit(led, "alice", eth.include(token)))
    shallow = eth.include(receipt(good), depth=CONFIRMATIONS - 1)
    rejected("bad_proof", lambda: deposit(led, "alice", shallow), "insufficient-confirmations")
    no_such_log = eth.include(receipt(good), log_index=1)
    rejected("bad_proof", lambda: deposit(led, "alice", no_such_log), "bad-event")
    real = ep.EthLogProof.decode(shallow)
    ghost = ep.EthProof(b"\x42" * 32, 1, real.receipt.nodes, 0)
    rejected(
        "bad_proof",
        lambda: deposit(led, "alice", ep.EthLogProof(ghost, real.tx_nodes).encode()),
        "unknown-block",
    )
    deep = ep.EthLogProof.decode(eth.include(receipt(good)))
    other_tx = ep.EthLogProof(deep.receipt, real.tx_nodes).encode()  # another block's tx trie
    rejected("bad_proof", lambda: deposit(led, "alice", other_tx), "bad-tx-proof")
    rejected("malformed_proof", lambda: deposit(led, "alice", deep.receipt.encode()))
    rejected("malformed_proof", lambda: deposit(led, "alice", b"\x00\x01"))
    assert led.pool("eth").total_shares == 0  # nothing was credited by any of these


def test_a_pool_whose_operator_has_no_vault_cannot_prove_deposits() -> None:
    eth, led = world_with({eth_key("bob"): VAULT})  # bob's vault, not the pool operator's
    proof = eth.include(receipt(deposited(led.addr20("alice"), 10**17)))
    rejected("spv_unavailable", lambda: deposit(led, "alice", proof))


def test_forged_payment_proofs_are_rejected_with_their_reason(world) -> None:
    eth, led = world
    deposit(led, "operator", eth.include(receipt(deposited(led.addr20("operator"), ETH_LIQ))))
    deposit(led, "alice", eth.include(receipt(deposited(led.addr20("alice"), ETH_LIQ // 10))))
    led.send("alice", tt.LP_WITHDRAW, pl.LpWithdraw("eth", led.shares("alice", "eth")))
    owed = plans.get_obligation(led.state, 0).amount

    def pay(log: list[Any], **kw: Any) -> Any:
        proof = eth.include(receipt(log), **kw)
        return led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, proof))

    rejected(Reason.WRONG_DESTINATION, lambda: pay(paid(0, eth_key("bob"), owed)))
    rejected(Reason.PAYMENT_MISMATCH, lambda: pay(paid(0, eth_key("alice"), owed - 1)))
    rejected(Reason.UNKNOWN_OBLIGATION, lambda: pay(paid(1, eth_key("alice"), owed)))
    rejected(Reason.UNKNOWN_OBLIGATION, lambda: pay(paid(2**64, eth_key("alice"), owed)))
    # a real payment of another obligation (1, the operator's) is not one of obligation 0
    bind_eth(led, "operator")
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("eth", 10**13))  # above the minimum
    other = plans.get_obligation(led.state, 1)
    rejected(Reason.PAYMENT_MISMATCH, lambda: pay(paid(1, eth_key("operator"), other.amount)))
    rejected(Reason.PAYMENT_MISMATCH, lambda: pay(paid(0, eth_key("alice"), owed, TOKEN)))
    rejected(Reason.WRONG_DESTINATION, lambda: pay([HTLC, *paid(0, eth_key("alice"), owed)[1:]]))
    deposit_log = deposited(led.addr20("alice"), owed)
    rejected("bad_proof", lambda: pay(deposit_log), "bad-event")
    assert plans.get_obligation(led.state, 0).status is ObligationStatus.PENDING
    pay(paid(0, eth_key("alice"), owed + 1))  # overpaying is the operator's loss, not a fault
    assert plans.get_obligation(led.state, 0).status is ObligationStatus.PAID


def test_vaults_from_config_reads_operator_to_vault_hex() -> None:
    cfg = {"pool_vaults": {"0x" + "11" * 20: "22" * 20}}
    assert ep.vaults_from_config(cfg) == {b"\x11" * 20: b"\x22" * 20}
    assert ep.vaults_from_config({}) == {}
    for bad in ({"pool_vaults": ["x"]}, {"pool_vaults": {"11" * 19: "22" * 20}}):
        with pytest.raises(ValidationError):
            ep.vaults_from_config(bad)
    with pytest.raises(ValidationError, match="not hex"):
        ep.vaults_from_config({"pool_vaults": {"zz": "22" * 20}})
    with pytest.raises(ValidationError):
        ep.EthVerifier(lambda view: None, HTLC, vaults={b"\x01": VAULT})  # type: ignore[arg-type,return-value]


@settings(max_examples=60, deadline=None)
@given(
    owner=st.binary(min_size=20, max_size=20),
    amount=st.integers(1, 2**256 - 1),
    token=st.binary(min_size=20, max_size=20),
    oid=st.integers(0, 2**256 - 1),
)
def test_logs_encoded_by_eth_abi_decode_to_the_same_values(
    owner: bytes, amount: int, token: bytes, oid: int
) -> None:
    address, topics, data = deposited(owner, amount, token)
    got = decode_event(EthLog(address, tuple(topics), data), ep.DEPOSITED_EVENT)
    assert got == {"etmOwner": owner, "from": eth_key("alice"), "token": token, "amount": amount}
    address, topics, data = paid(oid, token, amount, owner)
    got = decode_event(EthLog(address, tuple(topics), data), ep.PAID_EVENT)
    assert got == {
        "obligationId": oid.to_bytes(32, "big"),
        "to": token,
        "token": owner,
        "amount": amount,
    }


def test_a_deposit_re_included_in_another_block_by_a_reorg_is_credited_once(world) -> None:
    eth, led = world
    tx = b"\x02" + rlp.encode([b"alice deposits once"])
    log = receipt(deposited(led.addr20("alice"), 10**17))
    fork_point = eth.relay.tip().hash
    first = eth.include(log, tx=tx)
    deposit(led, "alice", first)
    # a longer branch from before the deposit block carries the same transaction
    second = eth.include(log, tx=tx, parent=fork_point, depth=CONFIRMATIONS + 1, salt=b"b")
    assert (
        ep.EthLogProof.decode(second).receipt.block_hash
        != ep.EthLogProof.decode(first).receipt.block_hash
    )
    rejected("bad_proof", lambda: deposit(led, "alice", first), "not-in-best-chain")
    rejected(Reason.DEPOSIT_REPLAYED, lambda: deposit(led, "alice", second))


def test_log_proof_encoding_round_trips_and_rejects_truncation() -> None:
    proof = ep.EthLogProof(ep.EthProof(b"\x01" * 32, 3, (b"ab", b"c"), 2), (b"xyz",))
    data = proof.encode()
    assert ep.EthLogProof.decode(data) == proof
    for bad in (data[:-1], data + b"\x00", data[:3], b""):
        with pytest.raises(ValidationError):
            ep.EthLogProof.decode(bad)
