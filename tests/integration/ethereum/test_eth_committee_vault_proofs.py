"""CommitteeVault on anvil: ETM's view of what the vault did, read from receipt proofs.

design-14 §3.7: each execute's log is proven by a receipt proof against its block header's
receiptsRoot (the proof the exchange already uses for PoolVault), then read by
:mod:`etm_bridge_ethereum.committee_vault_events`, which closes a mandate only for a log the
vault itself emitted with the mandate's id, ETM's digest and its terms. The attack: a twin
vault of the same committee executes the same payout; its log decodes, but names another
emitter and another digest, so it closes nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from committee_vault_world import CANDIDATES, ETH, OWNER20, World, make_world
from etm_bridge_ethereum.committee_vault_eip712 import Payout
from etm_bridge_ethereum.committee_vault_events import check_outcome, read_log
from etm_bridge_ethereum.proofs import build_inclusion_proof

from etm_bridge.errors import InclusionProofError, ValidationError
from etm_bridge.spv import eth_rlp
from etm_bridge.spv.ethereum import EthLog, decode_receipt, verify_receipt_proof


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
