"""CommitteeVault on anvil: ETM's view of what the vault did, read from receipt proofs.

design-14 §3.7: each execute's log is proven by a receipt proof against its block header's
receiptsRoot (the proof the exchange already uses for PoolVault), then read by
:mod:`etm_bridge_ethereum.committee_vault_events`, which closes a mandate only for a log the
vault itself emitted with the mandate's id, ETM's digest and its terms. The attack: a twin
vault of the same committee executes the same payout; its log decodes, but names another
emitter and another digest, so it closes nothing here.

Balances (§3.7): anvil's ``eth_getProof`` answers are checked against the stateRoot of a
header whose RLP hashes to the block hash, giving the vault's ether and a TestToken's
``balanceOf(vault)`` (mapping slot 3) exactly; another account's proof, an older block's
root, a wrong slot and a tampered leaf are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from committee_vault_world import CANDIDATES, ETH, OWNER20, World, fresh, make_world
from eth_utils import keccak, to_checksum_address
from etm_bridge_ethereum import deploy_contract
from etm_bridge_ethereum.committee_vault_balance import (
    ABSENT,
    BalanceProof,
    erc20_balance_slot,
    header_state_root,
)
from etm_bridge_ethereum.committee_vault_eip712 import Payout
from etm_bridge_ethereum.committee_vault_events import check_outcome, read_log
from etm_bridge_ethereum.htlc import HtlcCodec
from etm_bridge_ethereum.proofs import build_inclusion_proof

from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.chains.ethereum.spv.headers import EthLog, decode_receipt, verify_receipt_proof
from etm_bridge.errors import InclusionProofError, ValidationError


@pytest.fixture
def world(anvil_node: Any, htlc: Any, tmp_path: Path) -> Iterator[World]:
    w = make_world(anvil_node, htlc.address, tmp_path)
    yield w
    w.client.close()


def proven_log(world: World, tx_hash: str, log_index: int) -> EthLog:
    """The log, as ETM gets it: receipt proven against the header's receiptsRoot."""
    proof = build_inclusion_proof(world.client.node, tx_hash)
    root = eth_rlp.header_receipts_root(proof.header)
    receipt = decode_receipt(verify_receipt_proof(root, proof.index, proof.branch))
    assert receipt.status == 1
    return receipt.logs[log_index]


def test_each_execute_is_proven_and_closes_exactly_its_mandate(world: World) -> None:
    domain, vault = world.client.domain, world.vault20
    lock = world.counter_lock(ETH, b"\x77" * 20, world.block() + 30)
    payout = world.payout(ETH, world.payee)
    rotate = world.rotate(CANDIDATES[1:])
    for s in (lock, payout, rotate):
        done = world.client.execute(s, world.sigs(s))
        event = read_log(proven_log(world, done.tx_hash, done.log_index), vault)
        check_outcome(event, domain, s)
        others = [x for x in (lock, payout, rotate) if x is not s]
        for other in others:
            with pytest.raises(ValidationError):
                check_outcome(event, domain, other)
    deposited = world.client.deposit(OWNER20, 3)
    event = read_log(proven_log(world, deposited.tx_hash, deposited.log_index), vault)
    assert (event.name, event["etmOwner"], event["amount"]) == ("Deposited", OWNER20, 3)


def test_a_twin_vaults_log_of_the_same_payout_closes_nothing_here(
    world: World, anvil_node: Any
) -> None:
    twin = make_world(anvil_node, world.htlc, world.tmp / "twin")
    try:
        p = world.payout(ETH, world.payee)
        done = twin.client.execute(p, twin.sigs(p))  # the same committee, the same fields
        log = proven_log(world, done.tx_hash, done.log_index)
        with pytest.raises(InclusionProofError, match="not the vault"):
            read_log(log, world.vault20)
        # Even read as if it came from here, its digest is the twin's, not this mandate's.
        event = read_log(log, twin.vault20)
        with pytest.raises(ValidationError, match="digest"):
            check_outcome(event, world.client.domain, p)
        revision = Payout(p.mandate_id, 0, p.token, p.amount, p.to, p.deadline - 1)
        with pytest.raises(ValidationError, match="digest"):  # another revision's digest
            check_outcome(read_log(log, twin.vault20), twin.client.domain, revision)
    finally:
        twin.client.close()


# ---- balances against the stateRoot -----------------------------------------------------------

TOKEN_BALANCE_SLOT = 3  # TestToken: name, symbol, totalSupply, balanceOf


def state_root_of(world: World, number: int) -> tuple[bytes, bytes]:
    """(block hash, stateRoot) of block ``number``, the header checked against its hash."""
    block = world.client.node.block(number)
    assert block is not None
    header = eth_rlp.encode_checked_header(block)
    assert keccak(header).hex() == block["hash"][2:]
    return bytes.fromhex(block["hash"][2:]), header_state_root(header)


def get_proof(world: World, address: bytes, slots: list[int], number: int) -> dict[str, Any]:
    return world.anvil.rpc.call(
        "eth_getProof", to_checksum_address(address), [hex(s) for s in slots], hex(number)
    )


def nodes(items: list[str]) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(n[2:]) for n in items)


def test_vault_ether_and_token_balances_are_proven_against_the_state_root(
    world: World, tmp_path: Path
) -> None:
    bank_key, bank = fresh(world.anvil, "committee vault proofs: bank", eth=10)
    deployed = deploy_contract(world.anvil.rpc_url, bank_key, tmp_path / "bank", "TestToken",
                               ("Proof Token", "PRF", 10**24))  # fmt: skip
    token = bytes.fromhex(deployed.address[2:])
    investor = world.other_client("committee vault proofs: investor")
    try:
        grant = HtlcCodec().transfer(bytes.fromhex(investor.sender.address[2:]), 10 * ETH)
        world.anvil.send_transaction(bank_key, deployed.address, data=grant)
        investor.deposit_token(token, 7 * ETH, OWNER20)
    finally:
        investor.close()
    before = world.block()
    world.client.deposit(OWNER20, ETH)  # the ether balance moves after block `before`
    number = world.block()
    block_hash, root = state_root_of(world, number)
    vault = world.vault20

    answer = get_proof(world, vault, [], number)
    proof = BalanceProof(block_hash, nodes(answer["accountProof"]))
    assert BalanceProof.decode(proof.encode()) == proof
    assert proof.ether(root, vault) == world.balance(vault) == 6 * ETH

    slot = erc20_balance_slot(vault, TOKEN_BALANCE_SLOT)
    answer = get_proof(world, token, [slot], number)
    token_proof = BalanceProof(
        block_hash, nodes(answer["accountProof"]), nodes(answer["storageProof"][0]["proof"])
    )
    assert BalanceProof.decode(token_proof.encode()) == token_proof
    assert token_proof.token(root, token, vault, TOKEN_BALANCE_SLOT) == 7 * ETH

    nobody = keccak(text="committee vault proofs: never used")[:20]
    absent = get_proof(world, nobody, [], number)
    assert BalanceProof(block_hash, nodes(absent["accountProof"])).ether(root, nobody) == 0
    assert ABSENT.balance == 0

    # Attacks: each is refused, none reads a balance.
    other = get_proof(world, bank, [], number)  # a rich account's proof offered as the vault's
    with pytest.raises(InclusionProofError):
        BalanceProof(block_hash, nodes(other["accountProof"])).ether(root, vault)
    _, old_root = state_root_of(world, before)  # the vault's proof against an older state
    with pytest.raises(InclusionProofError):
        proof.ether(old_root, vault)
    # The bank's (much larger) token balance proof offered for the vault's slot: the trie
    # either refuses it or still reads the vault's true balance, never the bank's.
    rich = get_proof(world, token, [erc20_balance_slot(bank, TOKEN_BALANCE_SLOT)], number)
    rich_proof = BalanceProof(
        block_hash, nodes(rich["accountProof"]), nodes(rich["storageProof"][0]["proof"])
    )
    assert rich_proof.token(root, token, bank, TOKEN_BALANCE_SLOT) > 10**23
    try:
        read = rich_proof.token(root, token, vault, TOKEN_BALANCE_SLOT)
    except InclusionProofError:
        read = None
    assert read in (None, 7 * ETH)
    # A wrong mapping slot names another key: proven absent, it reads 0 (so the genesis must
    # name each token's balance slot right; it is not the prover's to choose).
    wrong = get_proof(world, token, [erc20_balance_slot(vault, TOKEN_BALANCE_SLOT - 1)], number)
    wrong_proof = BalanceProof(
        block_hash, nodes(wrong["accountProof"]), nodes(wrong["storageProof"][0]["proof"])
    )
    assert wrong_proof.token(root, token, vault, TOKEN_BALANCE_SLOT - 1) == 0
    # The right slot's proof asked for the wrong slot: whether the trie nodes it carries happen
    # to cover that key depends on the trie's shape, so it is refused or proves absence, never
    # a balance.
    try:
        read = token_proof.token(root, token, vault, TOKEN_BALANCE_SLOT - 1)
    except InclusionProofError:
        read = None
    assert read in (None, 0)
    with pytest.raises(InclusionProofError):  # an ether proof is no token proof, and back
        proof.token(root, token, vault, TOKEN_BALANCE_SLOT)
    leaf = rlp_bounded.decode(proof.account_nodes[-1])
    inflated = list(leaf)
    account = rlp_bounded.decode(leaf[-1])
    account[1] = (10**30).to_bytes(13, "big")  # the balance, raised
    inflated[-1] = rlp.encode(account)
    tampered = (*proof.account_nodes[:-1], rlp.encode(inflated))
    with pytest.raises(InclusionProofError):
        BalanceProof(block_hash, tampered).ether(root, vault)
