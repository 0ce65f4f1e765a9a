"""PoolVault on anvil: deposits and obligation payments proven to the exchange's verifier.

The committed PoolVault is deployed for a fresh operator key; an investor deposits ether (and test
tokens) for an ETM owner through :class:`etm_bridge_ethereum.vault.VaultClient`, the value must
arrive at the operator in the same transaction (the vault keeps nothing), the anvil headers are
relayed into a real :class:`~etm_bridge.chains.ethereum.spv.header_relay.EthRelay` by a trusted
relayer key, and :class:`~etm_bridge.chains.ethereum.etm.verifier.EthVerifier` must read back
exactly what was paid from the receipt proof built by the adapter. The operator then pays an
obligation recorded in an ETM chain state, and the payment proof closes it. The contract's custom
errors are checked on the real EVM. Fresh keys funded with ``anvil_setBalance`` leave the shared dev
accounts alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from etm_bridge_ethereum import deploy_contract
from etm_bridge_ethereum.vault import VAULT, VaultClient, VaultTx

from etm_bridge.chain.address import encode_address
from etm_bridge.chain.registry import Registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chains.ethereum.etm.verifier import EthLogProof, EthVerifier
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay
from etm_bridge.chains.ethereum.spv.headers import ANVIL
from etm_bridge.errors import (
    ChainError,
    ContractRevertError,
    ExchangeError,
    InclusionProofError,
    ValidationError,
)
from etm_bridge.exchange import pool as pm
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus, new_obligation, record_payment
from etm_bridge.exchange.plans import U64
from etm_bridge.exchange.reasons import Reason
from etm_bridge.spv.kvstore import MemoryKeyValueStore

RELAYER = b"\x0d" * 32
CONFIRMATIONS = 3
OWNER20 = b"\xe7" * 20  # the ETM address hash a deposit is for
ETH = 10**18


def _fresh(anvil_node: Any, seed: int) -> tuple[str, bytes]:
    """(private key, address20) of a new account holding 100 ETH."""
    account = Account.from_key(bytes([seed]) * 32)
    anvil_node.rpc.call("anvil_setBalance", account.address, hex(100 * ETH))
    return account.key.hex(), bytes.fromhex(account.address[2:])


@dataclass
class World:
    anvil: Any
    vault: str
    operator_key: str
    operator: bytes
    investor: VaultClient
    relay: EthRelay
    start: int

    def relay_to_tip(self) -> None:
        """Mine the confirmations, then relay every block since the last relayed one."""
        self.anvil.rpc.call("anvil_mine", hex(CONFIRMATIONS - 1), hex(12))
        node, first = self.investor.node, self.relay.tip().number + 1
        last = node.block_number()
        headers = [eth_rlp.encode_checked_header(node.block(n)) for n in range(first, last + 1)]
        self.relay.submit_headers(headers, RELAYER)

    def verifier(self, vault: bytes | None = None) -> EthVerifier:
        vault20 = vault or bytes.fromhex(self.vault[2:])
        return EthVerifier(lambda view: self.relay, b"\x4c" * 20, vaults={self.operator: vault20})

    def pool(self, asset: str = "eth") -> pm.Pool:
        params = pm.PoolParams(
            asset, "etm1operator", self.operator, min_confirmations=CONFIRMATIONS
        )
        return pm.Pool(params)


@pytest.fixture
def world(anvil_node: Any, tmp_path: Path) -> Iterator[World]:
    operator_key, operator = _fresh(anvil_node, 0xA1)
    investor_key, _ = _fresh(anvil_node, 0xA2)
    vault = deploy_contract(
        anvil_node.rpc_url, operator_key, tmp_path / "op", VAULT, (to_checksum_address(operator),)
    )
    investor = VaultClient(anvil_node.rpc_url, investor_key, tmp_path / "inv", vault.address, 30)
    tip = investor.node.block_number()
    checkpoint = eth_rlp.encode_checked_header(investor.node.block(tip))
    relay = EthRelay.initialise(MemoryKeyValueStore(), ANVIL, checkpoint, [RELAYER])
    yield World(anvil_node, vault.address, operator_key, operator, investor, relay, tip)
    investor.close()


def test_eth_deposit_reaches_the_operator_and_its_proof_names_the_owner(world: World) -> None:
    anvil, operator_address = world.anvil, "0x" + world.operator.hex()
    before = anvil.balance_wei(operator_address)
    sent = world.investor.deposit(OWNER20, 2 * ETH)
    assert anvil.balance_wei(operator_address) - before == 2 * ETH
    assert anvil.balance_wei(world.vault) == 0  # the vault keeps nothing
    world.relay_to_tip()
    proof = world.investor.proof(sent)
    got = world.verifier().verify_deposit(None, world.pool(), proof, None)  # type: ignore[arg-type]
    assert (got.asset, got.amount, got.owner) == ("eth", 2 * ETH, encode_address(OWNER20))
    assert EthLogProof.decode(proof).receipt.event_index == 0
    assert got.deposit_id == bytes.fromhex(sent.tx_hash[2:]) + bytes(4)  # tx hash || log 0
    with pytest.raises(ExchangeError) as info:  # a vault the operator does not own
        world.verifier(vault=b"\x99" * 20).verify_deposit(None, world.pool(), proof, None)  # type: ignore[arg-type]
    assert info.value.reason == Reason.WRONG_DESTINATION
    with pytest.raises(ExchangeError) as info:  # an ether deposit is not one of the token pool
        world.verifier().verify_deposit(None, world.pool("erc20:0x" + "70" * 20), proof, None)  # type: ignore[arg-type]
    assert info.value.reason == Reason.DEPOSIT_WRONG_ASSET


def test_token_deposit_is_proven_at_its_log_position_after_the_transfer(
    world: World, tmp_path: Path
) -> None:
    token = deploy_contract(
        world.anvil.rpc_url,
        world.investor.sender.account.key.hex(),
        tmp_path / "inv",
        "TestToken",
        ("Vault Token", "VTK", 10**24),
    )
    token20 = bytes.fromhex(token.address[2:])
    sent = world.investor.deposit_token(token20, 5 * 10**20, OWNER20)
    assert sent.log_index == 1  # the token's Transfer is log 0
    world.relay_to_tip()
    pool = world.pool("erc20:0x" + token20.hex())
    got = world.verifier().verify_deposit(None, pool, world.investor.proof(sent), None)  # type: ignore[arg-type]
    assert (got.amount, got.owner) == (5 * 10**20, encode_address(OWNER20))
    assert got.deposit_id == bytes.fromhex(sent.tx_hash[2:]) + (1).to_bytes(4, "big")
    as_transfer = VaultTx(sent.event, sent.tx_hash, sent.block_number, 0)
    with pytest.raises(ExchangeError) as info:  # log 0 is the token's, not the vault's
        world.verifier().verify_deposit(None, pool, world.investor.proof(as_transfer), None)  # type: ignore[arg-type]
    assert info.value.reason == Reason.WRONG_DESTINATION


def test_obligation_payment_through_the_vault_closes_the_obligation(
    world: World, tmp_path: Path
) -> None:
    registry = Registry()
    tt.register(registry, tt.ChainVerifiers({}))
    state = State(EmptyBackend(), registry.table_names)
    payee = b"\x5e" * 20
    ob = new_obligation(7, "eth", ETH // 4, payee, "etm1investor", 100, 50)
    state.put_json(rc.OBLIGATIONS, U64.pack(7), rc.encode(ob))
    operator = VaultClient(
        world.anvil.rpc_url, world.operator_key, tmp_path / "op", world.vault, 30
    )
    try:
        sent = operator.pay(7, payee, ETH // 4)
        assert world.anvil.balance_wei("0x" + payee.hex()) == ETH // 4
        world.relay_to_tip()
        proof = operator.proof(sent)
    finally:
        operator.close()
    payment = world.verifier().verify_payment(state, world.pool(), proof, None)  # type: ignore[arg-type]
    assert (payment.obligation_ids, payment.destination, payment.amount) == ((7,), payee, ETH // 4)
    assert payment.payment_id == bytes.fromhex(sent.tx_hash[2:]) + bytes(4)
    assert record_payment(ob, payment, 120).status is ObligationStatus.PAID
    with pytest.raises(InclusionProofError) as info:  # a deposit proof is not a payment
        deposit = world.investor.deposit(OWNER20, ETH)
        world.relay_to_tip()
        world.verifier().verify_payment(state, world.pool(), world.investor.proof(deposit), None)  # type: ignore[arg-type]
    assert info.value.reason == "bad-event"


@pytest.mark.parametrize(
    ("call", "value", "error"),
    [
        (lambda c: c.deposit(b"\x01" * 20), 0, "ZeroAmount"),
        (lambda c: c.deposit(bytes(20)), 1, "InvalidEtmOwner"),
        (lambda c: c.pay(1, bytes(20)), 1, "InvalidAddress"),
        (lambda c: c.pay(1, b"\x01" * 20), 0, "ZeroAmount"),
        (lambda c: c.deposit_token(bytes(20), 1, b"\x01" * 20), 0, "InvalidAddress"),
        (lambda c: c.deposit_token(b"\x01" * 20, 0, b"\x01" * 20), 0, "ZeroAmount"),
        (lambda c: c.pay_token(1, b"\x01" * 20, 1, bytes(20)), 0, "InvalidAddress"),
        (lambda c: c.deposit_token(b"\x01" * 20, 1, b"\x01" * 20), 0, "TokenTransferFailed"),
    ],
)
def test_zero_amounts_and_zero_addresses_revert_with_custom_errors(
    world: World, call: Any, value: int, error: str
) -> None:
    client = world.investor
    with pytest.raises(ContractRevertError) as info:
        client.sender.transact(client.vault_address, call(client.codec), value, "vault call")
    assert info.value.error_name == error


def test_plain_transfers_and_look_alike_contracts_are_refused(world: World, tmp_path: Path) -> None:
    client = world.investor
    with pytest.raises(ContractRevertError):  # no receive(): value without an event is refused
        client.sender.transact(client.vault_address, b"", ETH, "plain transfer")
    with pytest.raises(ValidationError):
        client.codec.pay(2**64, b"\x01" * 20)
    with pytest.raises(ChainError, match="not the PoolVault"):
        VaultClient(
            world.anvil.rpc_url, world.operator_key, tmp_path / "x", "0x" + "00" * 19 + "01"
        )


def _refuse_ether(anvil: Any, key: str, code_at: str) -> None:
    """Delegate the EOA of ``key`` (EIP-7702, a type-4 transaction sent by another account) to
    the code at ``code_at``, which has no ``receive``/fallback: from then on a call bringing
    ether to that EOA reverts. Any investor can do this to its bound address after binding."""
    sponsor_key, _ = _fresh(anvil, 0xC3)
    payee, sponsor = Account.from_key(key), Account.from_key(sponsor_key)
    nonce = int(anvil.rpc.call("eth_getTransactionCount", payee.address, "pending"), 16)
    auth = payee.sign_authorization(
        {"chainId": anvil.chain_id, "address": to_checksum_address(code_at), "nonce": nonce}
    )
    latest = anvil.rpc.call("eth_getBlockByNumber", "latest", False)
    tx = {
        "type": 4,
        "chainId": anvil.chain_id,
        "nonce": int(anvil.rpc.call("eth_getTransactionCount", sponsor.address, "pending"), 16),
        "to": sponsor.address,
        "value": 0,
        "gas": 100_000,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 2 * int(latest["baseFeePerGas"], 16) + 10**9,
        "data": b"",
        "authorizationList": [auth],
    }
    raw = "0x" + bytes(sponsor.sign_transaction(tx).raw_transaction).hex()
    receipt = anvil.wait_for_receipt(anvil.rpc.call("eth_sendRawTransaction", raw))
    assert int(receipt["status"], 16) == 1
    assert anvil.rpc.call("eth_getCode", payee.address, "latest").startswith("0xef0100")


def test_a_payee_that_refuses_ether_is_still_paid_and_its_obligation_closes(
    world: World, tmp_path: Path
) -> None:
    """Review a11a: an investor binds an address, withdraws (an obligation to that address),
    then makes the address refuse ether (EIP-7702 delegation to code without ``receive``).
    Version 1 of the vault forwarded with a call and reverted (``EtherTransferFailed``): the
    operator could never pay, anyone could mark the obligation defaulted, and one default halts
    the pool, for good. Version 2 forces the ether onto the payee: it cannot refuse."""
    payee_key, payee = _fresh(world.anvil, 0xC2)
    _refuse_ether(world.anvil, payee_key, world.vault)  # the vault's code: no receive()
    plain = world.anvil.send_transaction(world.operator_key, "0x" + payee.hex(), value_wei=1)
    assert int(plain["status"], 16) == 0  # the address really refuses a plain transfer
    registry = Registry()
    tt.register(registry, tt.ChainVerifiers({}))
    state = State(EmptyBackend(), registry.table_names)
    ob = new_obligation(9, "eth", ETH // 100, payee, "etm1attacker", 100, 50)
    state.put_json(rc.OBLIGATIONS, U64.pack(9), rc.encode(ob))
    operator = VaultClient(
        world.anvil.rpc_url, world.operator_key, tmp_path / "op", world.vault, 30
    )
    before = world.anvil.balance_wei("0x" + payee.hex())
    try:
        sent = operator.pay(9, payee, ETH // 100)
        world.relay_to_tip()
        proof = operator.proof(sent)
    finally:
        operator.close()
    assert world.anvil.balance_wei("0x" + payee.hex()) - before == ETH // 100
    assert world.anvil.balance_wei(world.vault) == 0  # the vault still keeps nothing
    payment = world.verifier().verify_payment(state, world.pool(), proof, None)  # type: ignore[arg-type]
    assert record_payment(ob, payment, 120).status is ObligationStatus.PAID
