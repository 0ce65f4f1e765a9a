"""CommitteeVault on anvil: a malicious payee re-entering the vault in the middle of a payout.

``TestReentrantReceiver`` (contracts/ethereum/TestReentrancy.sol) re-sends a stored vault call
the first time it gets control and records the outcome without reverting, so each test sees
both the outer payout and the attack. ``TestHookToken`` hands it control during the vault's
token transfer (as ERC-777 / ERC-1363 tokens do); ether payouts are forced (self-destructing
child), so the receiver's code never runs there. Nothing is paid twice, and a mandate the
attack tried to slip in is not burnt. The executes are given ample gas (``GAS``): an estimate
would pass with the hook starved (the token ignores its failure), which would hide the attack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from committee_vault_world import ETH, World, fresh, make_world
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from etm_bridge_ethereum import artifacts, deploy_contract
from etm_bridge_ethereum.committee_vault_eip712 import VaultStruct, abi_struct
from etm_bridge_ethereum.htlc import HtlcCodec
from web3 import Web3

HTLC = HtlcCodec()
REENTRANCY = function_signature_to_4byte_selector("Reentrancy()")
ALREADY_EXECUTED = function_signature_to_4byte_selector("AlreadyExecuted(bytes32)")
GAS = 1_500_000
RECEIVER = Web3().eth.contract(abi=list(artifacts.load("TestReentrantReceiver").abi))


@pytest.fixture
def world(anvil_node: Any, htlc: Any, tmp_path: Path) -> Iterator[World]:
    w = make_world(anvil_node, htlc.address, tmp_path)
    yield w
    w.client.close()


@pytest.fixture(scope="module")
def bank(anvil_node: Any) -> tuple[str, bytes]:
    return fresh(anvil_node, "committee vault reentrancy tests: bank", eth=1000)


@pytest.fixture(scope="module")
def hook_token(anvil_node: Any, bank: tuple[str, bytes], tmp_path_factory: Any) -> bytes:
    tmp = tmp_path_factory.mktemp("hook")
    deployment = deploy_contract(anvil_node.rpc_url, bank[0], tmp, "TestHookToken", (10**27,))
    return bytes.fromhex(deployment.address[2:])


class Receiver:
    """One deployed TestReentrantReceiver aimed at ``world``'s vault."""

    def __init__(self, world: World, bank: tuple[str, bytes]) -> None:
        self.world, self.bank = world, bank
        args = (world.client.vault_address,)
        deployment = deploy_contract(
            world.anvil.rpc_url, bank[0], world.tmp / "recv", "TestReentrantReceiver", args
        )
        self.address = bytes.fromhex(deployment.address[2:])

    def arm(self, s: VaultStruct, sigs: list[bytes]) -> None:
        """Re-send this execute (with its signatures) to the vault when given control."""
        fn = {"CounterLock": "executeCounterLock", "Payout": "executePayout"}[s.PRIMARY]
        attack = self.world.client.calldata(fn, abi_struct(s), sigs)
        data = bytes.fromhex(RECEIVER.encode_abi("arm", args=[attack])[2:])
        armed = self.world.anvil.send_transaction(self.bank[0], self.hex, data=data, gas=GAS)
        assert int(armed["status"], 16) == 1, armed

    @property
    def hex(self) -> str:
        return to_checksum_address(self.address)

    def view(self, fn: str, kind: str) -> Any:
        data = RECEIVER.encode_abi(fn, args=[])
        raw = self.world.client.node.call({"to": self.hex, "data": data}, fn)
        return decode([kind], raw)[0]

    def outcome(self) -> tuple[int, bool, bytes]:
        """(attempts, did the re-entrant call succeed, its return/revert data)."""
        return (
            self.view("attempts", "uint256"),
            self.view("lastOk", "bool"),
            self.view("lastReturn", "bytes"),
        )


def _token_balance(world: World, token: bytes, owner: bytes) -> int:
    call = {"to": "0x" + token.hex(), "data": "0x" + HTLC.balance_of(owner).hex()}
    return int(decode(["uint256"], world.client.node.call(call, "balanceOf"))[0])


def _fund_tokens(world: World, bank: tuple[str, bytes], token: bytes, amount: int) -> None:
    receipt = world.anvil.send_transaction(
        bank[0], "0x" + token.hex(), data=HTLC.transfer(world.vault20, amount)
    )
    assert int(receipt["status"], 16) == 1


def test_a_token_payee_replaying_its_payout_from_the_hook_is_refused(
    world: World, hook_token: bytes, bank: tuple[str, bytes]
) -> None:
    _fund_tokens(world, bank, hook_token, 5 * ETH)
    receiver = Receiver(world, bank)
    p = world.payout(ETH, receiver.address, token=hook_token)
    sigs = world.sigs(p)
    receiver.arm(p, sigs)  # the very payout, with its valid signatures, once more
    world.client.execute(p, sigs, gas=GAS)
    attempts, ok, returned = receiver.outcome()
    assert (attempts, ok, returned) == (1, False, REENTRANCY)  # it did strike, and was refused
    assert _token_balance(world, hook_token, receiver.address) == ETH  # paid once
    assert _token_balance(world, hook_token, world.vault20) == 4 * ETH


def test_a_token_payee_cannot_slip_another_mandate_in_and_that_mandate_stays_payable(
    world: World, hook_token: bytes, bank: tuple[str, bytes]
) -> None:
    _fund_tokens(world, bank, hook_token, 5 * ETH)
    receiver = Receiver(world, bank)
    first = world.payout(ETH, receiver.address, token=hook_token)
    second = world.payout(2 * ETH, receiver.address, token=hook_token)  # also mandated
    receiver.arm(second, world.sigs(second))
    world.client.execute(first, world.sigs(first), gas=GAS)
    assert receiver.outcome() == (1, False, REENTRANCY)
    assert world.client.view("executed", second.mandate_id) is False  # not burnt by the attack
    assert _token_balance(world, hook_token, receiver.address) == ETH
    world.client.execute(second, world.sigs(second), gas=GAS)  # on its own, it pays
    assert _token_balance(world, hook_token, receiver.address) == 3 * ETH
    assert _token_balance(world, hook_token, world.vault20) == 2 * ETH


def test_an_ether_payee_gets_no_control_and_a_later_replay_is_already_executed(
    world: World, bank: tuple[str, bytes]
) -> None:
    receiver = Receiver(world, bank)
    p = world.payout(ETH, receiver.address)
    sigs = world.sigs(p)
    receiver.arm(p, sigs)
    vault_before = world.balance(world.vault20)
    world.client.execute(p, sigs, gas=GAS)
    assert receiver.outcome() == (0, False, b"")  # forced ether: its receive() never ran
    assert world.balance(receiver.address) == ETH
    # The attack code is real: given control by a plain transfer, it replays the payout.
    poke = world.anvil.send_transaction(bank[0], receiver.hex, value_wei=1, gas=GAS)
    assert int(poke["status"], 16) == 1
    attempts, ok, returned = receiver.outcome()
    assert (attempts, ok) == (1, False)
    assert returned == ALREADY_EXECUTED + p.mandate_id
    assert world.balance(world.vault20) == vault_before - ETH
    assert world.balance(receiver.address) == ETH + 1
