"""CommitteeVault on anvil: where the money goes (HTLC locks and refunds, claims, tokens, gas).

Each test deploys a fresh 3-of-4 vault beside the session's EtherSwapHTLC. Checked on the real
EVM: a counter lock lands in the HTLC with exactly the mandated terms and is claimable by the
user; its refund, and the claim of a user's swap-in lock, return value only to the vault
whoever calls them; ERC-20 deposits, payouts and locks (TestToken) and the refusal of a
fee-on-transfer token (TestFeeToken); a payee whose address refuses ether is still paid; the
vault accepts plain ether only from the HTLC. The last test prints the gas of each function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from committee_vault_world import (
    CANDIDATES,
    ETH,
    ETHER,
    OWNER20,
    World,
    fresh,
    make_world,
    reverts,
)
from eth_abi import decode
from etm_bridge_ethereum import deploy_contract
from etm_bridge_ethereum.committee_vault_eip712 import CounterLock, Payout
from etm_bridge_ethereum.htlc import HtlcCodec, swap_hash
from etm_bridge_ethereum.vault import vault_log_index

from etm_bridge.adapter import HtlcTerms
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

HTLC = HtlcCodec()
SUPPLY = 10**27


@pytest.fixture
def world(anvil_node: Any, htlc: Any, tmp_path: Path) -> Iterator[World]:
    w = make_world(anvil_node, htlc.address, tmp_path)
    yield w
    w.client.close()


@pytest.fixture(scope="module")
def bank(anvil_node: Any) -> tuple[str, bytes]:
    """The account that deploys this module's tokens and holds their supply."""
    return fresh(anvil_node, "committee vault tests: bank", eth=1000)


def _token(anvil: Any, bank: tuple[str, bytes], tmp: Path, name: str, args: tuple) -> bytes:
    deployment = deploy_contract(anvil.rpc_url, bank[0], tmp / "bank", name, args)
    return bytes.fromhex(deployment.address[2:])


@pytest.fixture(scope="module")
def token(anvil_node: Any, bank: tuple[str, bytes], tmp_path_factory: Any) -> bytes:
    return _token(anvil_node, bank, tmp_path_factory.mktemp("tok"), "TestToken",
                  ("Vault Token", "VTK", SUPPLY))  # fmt: skip


@pytest.fixture(scope="module")
def fee_token(anvil_node: Any, bank: tuple[str, bytes], tmp_path_factory: Any) -> bytes:
    return _token(anvil_node, bank, tmp_path_factory.mktemp("fee"), "TestFeeToken", (SUPPLY,))


def _send(anvil: Any, key: str, to: bytes, data: bytes, value: int = 0) -> dict[str, Any]:
    receipt = anvil.send_transaction(key, "0x" + to.hex(), value_wei=value, data=data)
    assert int(receipt["status"], 16) == 1, receipt
    return receipt


def _give(anvil: Any, bank: tuple[str, bytes], token: bytes, to: bytes, amount: int) -> None:
    _send(anvil, bank[0], token, HTLC.transfer(to, amount))


def _token_balance(world: World, token: bytes, owner: bytes) -> int:
    call = {"to": "0x" + token.hex(), "data": "0x" + HTLC.balance_of(owner).hex()}
    return int(decode(["uint256"], world.client.node.call(call, "balanceOf"))[0])


def _locked(world: World, terms: HtlcTerms) -> bool:
    call = {"to": world.htlc, "data": "0x" + HTLC.swaps(swap_hash(terms)).hex()}
    return bool(decode(["bool"], world.client.node.call(call, "swaps"))[0])


def _terms(c: CounterLock, vault20: bytes) -> HtlcTerms:
    token = None if c.token == ETHER else c.token
    return HtlcTerms(c.amount, c.preimage_hash, c.claim_address, vault20, c.timelock, token)


def _user_lock(world: World, key: str, terms: HtlcTerms) -> None:
    """A user's swap-in lock in the HTLC (claim address: the vault)."""
    htlc20 = bytes.fromhex(world.htlc[2:])
    if terms.asset_id is not None:
        _send(world.anvil, key, terms.asset_id, HTLC.approve(htlc20, terms.amount))
    data, value = HTLC.lock(terms)
    _send(world.anvil, key, htlc20, data, value)


# ---- counter locks ----------------------------------------------------------------------------


def test_counter_lock_lands_with_exactly_the_mandated_terms_and_the_user_claims(
    world: World,
) -> None:
    user_key, user = fresh(world.anvil, "committee vault tests: user")
    preimage = new_preimage()
    c = world.counter_lock(ETH, user, world.block() + 20, preimage_hash=hashlock_of(preimage))
    before = world.balance(world.vault20)
    locked = world.client.execute(c, world.sigs(c))
    assert world.balance(world.vault20) == before - ETH
    terms = _terms(c, world.vault20)  # the vault is the refund address
    assert _locked(world, terms)
    receipt = world.anvil.wait_for_receipt(locked.tx_hash)
    htlc_log = next(log for log in receipt["logs"] if log["address"].lower() == world.htlc.lower())
    assert HTLC.decode_locked(htlc_log).terms == terms
    ours = receipt["logs"][locked.log_index]
    assert ours["topics"][1:] == ["0x" + c.mandate_id.hex(), "0x" + swap_hash(terms).hex()]
    user_before = world.balance(user)
    claim = _send(world.anvil, user_key, bytes.fromhex(world.htlc[2:]), HTLC.claim(preimage, terms))
    fee = int(claim["gasUsed"], 16) * int(claim["effectiveGasPrice"], 16)
    assert world.balance(user) == user_before + ETH - fee
    assert not _locked(world, terms)


def test_counter_lock_refund_goes_back_to_the_vault_whoever_calls(world: World) -> None:
    c = world.counter_lock(ETH, b"\x77" * 20, world.block() + 3)
    before = world.balance(world.vault20)
    world.client.execute(c, world.sigs(c))
    stranger = world.other_client("committee vault tests: stranger")
    try:
        args = (c.preimage_hash, c.amount, c.token, c.claim_address, c.timelock)
        with reverts("TimelockNotReached"):  # the HTLC's rule, named through the vault
            stranger.refund_counter_lock(*args)
        world.mine(3)
        own = world.balance(stranger.sender.address)
        refunded = stranger.refund_counter_lock(*args)
        assert world.balance(world.vault20) == before
        assert world.balance(stranger.sender.address) < own  # it paid gas, received nothing
        receipt = world.anvil.wait_for_receipt(refunded.tx_hash)
        topics = receipt["logs"][refunded.log_index]["topics"]
        assert topics[2] == "0x" + swap_hash(_terms(c, world.vault20)).hex()
        with reverts("SwapNotFound"):  # refunded once
            stranger.refund_counter_lock(*args)
    finally:
        stranger.close()


def test_counter_lock_guards_leave_the_mandate_unspent(world: World) -> None:
    tip = world.block()
    cases = [
        (world.counter_lock(0, b"\x77" * 20, tip + 9), "ZeroAmount"),
        (world.counter_lock(10**30, b"\x77" * 20, tip + 9), "InsufficientBalance"),
        (world.counter_lock(ETH, bytes(20), tip + 9), "InvalidAddress"),  # the HTLC's check
        (world.counter_lock(ETH, b"\x77" * 20, tip), "TimelockInPast"),
    ]
    for c, error in cases:
        with reverts(error):
            world.client.execute(c, world.sigs(c))
        assert world.client.view("executed", c.mandate_id) is False


# ---- swap-in claims ---------------------------------------------------------------------------


def test_claim_swap_in_by_anyone_pays_the_vault(world: World) -> None:
    user_key, user = fresh(world.anvil, "committee vault tests: swap-in user")
    preimage = new_preimage()
    terms = HtlcTerms(ETH, hashlock_of(preimage), world.vault20, user, world.block() + 30)
    _user_lock(world, user_key, terms)
    stranger = world.other_client("committee vault tests: claimer")
    try:
        args = (terms.amount, ETHER, user, terms.timelock_height)
        with reverts("SwapNotFound"):
            stranger.claim_swap_in(new_preimage(), *args)
        with reverts("InvalidPreimageLength"):
            stranger.claim_swap_in(preimage + b"\x00", *args)
        before, own = world.balance(world.vault20), world.balance(stranger.sender.address)
        claimed = stranger.claim_swap_in(preimage, *args)
        assert world.balance(world.vault20) == before + ETH
        assert world.balance(stranger.sender.address) < own
        receipt = world.anvil.wait_for_receipt(claimed.tx_hash)
        topics = receipt["logs"][claimed.log_index]["topics"]
        assert topics[1:] == ["0x" + terms.hashlock.hex(), "0x" + swap_hash(terms).hex()]
        with reverts("SwapNotFound"):
            stranger.claim_swap_in(preimage, *args)
    finally:
        stranger.close()


def test_a_lock_for_someone_else_cannot_be_claimed_into_the_vault(world: World) -> None:
    user_key, user = fresh(world.anvil, "committee vault tests: other user")
    preimage = new_preimage()
    terms = HtlcTerms(ETH, hashlock_of(preimage), b"\x78" * 20, user, world.block() + 30)
    _user_lock(world, user_key, terms)
    with reverts("SwapNotFound"):
        world.client.claim_swap_in(preimage, ETH, ETHER, user, terms.timelock_height)


# ---- ERC-20 -----------------------------------------------------------------------------------


def test_token_deposit_payout_counter_lock_and_claim(
    world: World, token: bytes, bank: tuple[str, bytes]
) -> None:
    investor = world.other_client("committee vault tests: investor")
    try:
        _give(world.anvil, bank, token, bytes.fromhex(investor.sender.address[2:]), 10 * ETH)
        deposited = investor.deposit_token(token, 4 * ETH, OWNER20)
        receipt = world.anvil.wait_for_receipt(deposited.tx_hash)
        assert receipt["logs"][deposited.log_index]["topics"][1] == "0x" + OWNER20.hex().ljust(
            64, "0"
        )
    finally:
        investor.close()
    assert _token_balance(world, token, world.vault20) == 4 * ETH
    p = world.payout(ETH, world.payee, token=token)
    world.client.execute(p, world.sigs(p))
    assert _token_balance(world, token, world.payee) == ETH
    c = world.counter_lock(ETH, b"\x77" * 20, world.block() + 3, token=token)
    world.client.execute(c, world.sigs(c))
    htlc20 = bytes.fromhex(world.htlc[2:])
    assert _locked(world, _terms(c, world.vault20))
    allowance = {
        "to": "0x" + token.hex(),
        "data": "0x" + HTLC.allowance(world.vault20, htlc20).hex(),
    }
    assert decode(["uint256"], world.client.node.call(allowance, "allowance")) == (0,)
    assert _token_balance(world, token, world.vault20) == 2 * ETH
    world.mine(3)
    world.client.refund_counter_lock(c.preimage_hash, c.amount, token, c.claim_address, c.timelock)
    assert _token_balance(world, token, world.vault20) == 3 * ETH
    user_key, user = fresh(world.anvil, "committee vault tests: token user")
    _give(world.anvil, bank, token, user, ETH)
    preimage = new_preimage()
    terms = HtlcTerms(ETH, hashlock_of(preimage), world.vault20, user, world.block() + 30, token)
    _user_lock(world, user_key, terms)
    world.client.claim_swap_in(preimage, ETH, token, user, terms.timelock_height)
    assert _token_balance(world, token, world.vault20) == 4 * ETH


def test_token_mismatches_are_refused(world: World, token: bytes, bank: tuple[str, bytes]) -> None:
    _give(world.anvil, bank, token, world.vault20, ETH)  # a plain transfer: no event, but held
    p = world.payout(2 * ETH, world.payee, token=token)
    with reverts("TokenTransferFailed"):  # more than the vault holds
        world.client.execute(p, world.sigs(p))
    signed = world.payout(ETH // 2, world.payee, token=token)
    swapped = Payout(signed.mandate_id, 0, ETHER, signed.amount, signed.to, signed.deadline)
    with reverts("NotASigner"):  # the executor pays ether instead of the signed token
        world.client.execute(swapped, world.sigs(signed))
    c = world.counter_lock(2 * ETH, b"\x77" * 20, world.block() + 9, token=token)
    with reverts("TokenTransferFailed"):  # the HTLC cannot pull what the vault lacks
        world.client.execute(c, world.sigs(c))
    assert _token_balance(world, token, world.vault20) == ETH


def test_a_fee_on_transfer_token_is_refused_everywhere(
    world: World, fee_token: bytes, bank: tuple[str, bytes]
) -> None:
    investor = world.other_client("committee vault tests: fee investor")
    try:
        _give(world.anvil, bank, fee_token, bytes.fromhex(investor.sender.address[2:]), 10 * ETH)
        with reverts("TokenAmountMismatch") as info:
            investor.deposit_token(fee_token, 5 * ETH, OWNER20)
        assert f"TokenAmountMismatch({5 * ETH}, {5 * ETH * 99 // 100})" in str(info.value)
    finally:
        investor.close()
    _give(world.anvil, bank, fee_token, world.vault20, 10 * ETH)
    held = _token_balance(world, fee_token, world.vault20)
    p = world.payout(ETH, world.payee, token=fee_token)
    with reverts("TokenAmountMismatch"):
        world.client.execute(p, world.sigs(p))
    c = world.counter_lock(ETH, b"\x77" * 20, world.block() + 9, token=fee_token)
    with reverts("TokenAmountMismatch"):  # the HTLC's own check, named through the vault
        world.client.execute(c, world.sigs(c))
    assert _token_balance(world, fee_token, world.vault20) == held


# ---- ether in and out -------------------------------------------------------------------------


def test_a_payee_that_refuses_ether_is_still_paid(world: World, token: bytes) -> None:
    """A contract without receive/fallback (here the token) refuses a plain transfer; the
    payout forces the ether on it, so a payee cannot block its own withdrawal (PoolVault v2)."""
    plain = world.anvil.send_transaction(world.client.sender.account.key.hex(),
                                         "0x" + token.hex(), value_wei=1)  # fmt: skip
    assert int(plain["status"], 16) == 0
    p = world.payout(ETH, token)
    world.client.execute(p, world.sigs(p))
    assert world.balance(token) == ETH


def test_payout_guards(world: World) -> None:
    cases = [
        (world.payout(ETH, bytes(20)), "InvalidAddress"),
        (world.payout(ETH, world.vault20), "InvalidAddress"),  # paying itself
        (world.payout(0, world.payee), "ZeroAmount"),
        (world.payout(10**30, world.payee), "InsufficientBalance"),
    ]
    for p, error in cases:
        with reverts(error):
            world.client.execute(p, world.sigs(p))


def test_plain_ether_is_accepted_only_from_the_htlc(world: World) -> None:
    sender = world.client.sender
    with reverts("OnlyHtlc"):
        sender.transact(world.client.vault_address, b"", ETH, "plain transfer")
    with pytest.raises(Exception, match="revert"):  # no fallback: an unknown call reverts
        sender.transact(world.client.vault_address, b"\xde\xad\xbe\xef", 0, "unknown call")


def test_deposit_guards(world: World) -> None:
    client = world.client
    cases = [
        (client.calldata("deposit", OWNER20), 0, "ZeroAmount"),
        (client.calldata("deposit", bytes(20)), 1, "InvalidEtmOwner"),
        (client.calldata("depositToken", "0x" + "00" * 20, 1, OWNER20), 0, "InvalidAddress"),
        (client.calldata("depositToken", world.htlc, 0, OWNER20), 0, "ZeroAmount"),
        (client.calldata("depositToken", world.htlc, 1, bytes(20)), 0, "InvalidEtmOwner"),
        (client.calldata("depositToken", "0x" + "01" * 20, 1, OWNER20), 0, "TokenTransferFailed"),
    ]
    for data, value, error in cases:
        with reverts(error):
            client.sender.transact(client.vault_address, data, value, "deposit")
    sent = client.deposit(OWNER20, 3)
    receipt = world.anvil.wait_for_receipt(sent.tx_hash)
    assert vault_log_index(receipt, client.vault_address, client.topics["Deposited"]) == 0


# ---- gas --------------------------------------------------------------------------------------

#: Ceilings (gas) the functions must stay under; the figures printed are in the README.
GAS_CEILINGS = {
    "deploy (n=4)": 2_600_000,
    "deposit": 30_000,
    "depositToken": 70_000,
    "executeCounterLock ether 3-of-4": 130_000,
    "executeCounterLock token 3-of-4": 170_000,
    "executePayout ether 3-of-4 (new payee account)": 160_000,
    "executePayout token 3-of-4": 130_000,
    "executeRotate 4->4 one member replaced 3-of-4": 170_000,
    "claimSwapIn ether": 50_000,
    "refundCounterLock ether": 50_000,
}


def test_gas_per_function(
    world: World, token: bytes, bank: tuple[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    gas: dict[str, int] = {}
    deployed = world.anvil.wait_for_receipt(world.deployment.tx_hash)
    gas["deploy (n=4)"] = int(deployed["gasUsed"], 16)
    gas["deposit"] = world.client.deposit(OWNER20, ETH).gas_used
    _give(world.anvil, bank, token, bytes.fromhex(world.client.sender.address[2:]), 10 * ETH)
    gas["depositToken"] = world.client.deposit_token(token, 5 * ETH, OWNER20).gas_used
    tip = world.block()
    for label, tok in (("ether", ETHER), ("token", token)):
        c = world.counter_lock(ETH, b"\x77" * 20, tip + 20, token=tok)
        gas[f"executeCounterLock {label} 3-of-4"] = world.client.execute(c, world.sigs(c)).gas_used
        p = world.payout(ETH, world.payee, token=tok)
        paid = world.client.execute(p, world.sigs(p)).gas_used
        gas[f"executePayout {label} 3-of-4" + (" (new payee account)" if tok == ETHER else "")] = (
            paid
        )
    world.mine(20)
    c = world.counter_lock(ETH, b"\x77" * 20, tip + 20)  # the ether lock made above
    args = (c.preimage_hash, ETH, ETHER, c.claim_address, c.timelock)
    gas["refundCounterLock ether"] = world.client.refund_counter_lock(*args).gas_used
    user_key, user = fresh(world.anvil, "committee vault tests: gas user")
    preimage = new_preimage()
    terms = HtlcTerms(ETH, hashlock_of(preimage), world.vault20, user, world.block() + 30)
    _user_lock(world, user_key, terms)
    claim = world.client.claim_swap_in(preimage, ETH, ETHER, user, terms.timelock_height)
    gas["claimSwapIn ether"] = claim.gas_used
    r = world.rotate(CANDIDATES[1:])  # member 0 leaves, the newcomer joins
    gas["executeRotate 4->4 one member replaced 3-of-4"] = world.client.execute(
        r, world.sigs(r)
    ).gas_used
    with capsys.disabled():
        print("\nGAS CommitteeVault " + json.dumps(gas, sort_keys=True))
    for name, used in gas.items():
        assert used <= GAS_CEILINGS[name], (name, used)
