"""The pool operators' PoolVault addresses travel from the genesis config to the ETH verifier."""

from __future__ import annotations

from spv_testkit import GENESIS

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.spv import genesis as spv_genesis
from etm_bridge.spv.exchange_verifiers import VERIFIERS

OPERATOR, VAULT, HTLC = b"\x0a" * 20, b"\x0b" * 20, b"\x0c" * 20


def _spv() -> spv_genesis.SpvGenesis:
    return spv_genesis.SpvGenesis(
        eth_chain="anvil",
        eth_checkpoint_rlp=GENESIS,
        eth_relayers=(b"\x01" * 32,),
        eth_htlc_contract=HTLC,
        eth_pool_vaults=((OPERATOR, VAULT),),
    )


def test_pool_vaults_round_trip_through_the_genesis_json() -> None:
    spv = _spv()
    assert spv.to_json()["eth_pool_vaults"] == {OPERATOR.hex(): VAULT.hex()}
    assert spv_genesis.SpvGenesis.from_json(spv.to_json()) == spv


def test_the_eth_verifier_reads_the_vaults_written_at_genesis() -> None:
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.spv.txtypes",)))
    state = State(EmptyBackend(), registry.table_names)
    spv_genesis.initialise_relays(state, _spv())
    verifier = VERIFIERS["eth"]._verifier(state)
    assert verifier.vaults == {OPERATOR: VAULT}
    assert verifier.htlc_contract == HTLC
