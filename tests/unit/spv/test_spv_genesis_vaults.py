"""The pool operators' PoolVault addresses travel from the genesis config to the ETH verifier."""

from __future__ import annotations

from dataclasses import replace

import pytest
from spv_testkit import GENESIS

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chains.ethereum.etm import genesis as eth_genesis
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.exchange.pool import Pool, PoolParams
from etm_bridge.spv.genesis_section import SpvSection

OPERATOR, VAULT, HTLC = b"\x0a" * 20, b"\x0b" * 20, b"\x0c" * 20


def _spv() -> EthRelayGenesis:
    return EthRelayGenesis(
        chain="anvil",
        checkpoint_rlp=GENESIS,
        relayers=(b"\x01" * 32,),
        htlc_contract=HTLC,
        pool_vaults=((OPERATOR, VAULT),),
    )


def test_pool_vaults_round_trip_through_the_genesis_json() -> None:
    spv = _spv()
    assert eth_genesis.to_json(spv)["eth_pool_vaults"] == {OPERATOR.hex(): VAULT.hex()}
    assert eth_genesis.from_json(eth_genesis.to_json(spv)) == spv


def test_the_eth_verifier_reads_the_vaults_written_at_genesis() -> None:
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.spv.relay_types",)))
    state = State(EmptyBackend(), registry.table_names)
    SpvSection({"eth": _spv()}).initialise(state)
    verifier = chain_registry().verifiers()["eth"]._verifier(state)
    assert verifier.vaults == {OPERATOR: VAULT}
    assert verifier.htlc_contract == HTLC


def test_vault_proofs_need_no_htlc_contract_but_locks_do() -> None:
    """A chain configured with PoolVaults alone proves deposits and payments; only a lock proof
    asks for the HTLC contract (before, every ETH proof failed without one)."""
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.spv.relay_types",)))
    state = State(EmptyBackend(), registry.table_names)
    SpvSection({"eth": replace(_spv(), htlc_contract=b"")}).initialise(state)
    ctx = TxContext(ChainParams(), 5, 0, bytes(32))
    with_vault = Pool(PoolParams("eth", "etm1operator", OPERATOR))
    no_vault = Pool(PoolParams("eth", "etm1other", b"\x0d" * 20))
    verifier = chain_registry().verifiers()["eth"]
    for verify in (verifier.verify_deposit, verifier.verify_payment):
        with pytest.raises(ValidationError, match="ethereum log proof ends early"):
            verify(state, with_vault, b"", ctx)  # reached the vault proof itself
        with pytest.raises(TxRejectedError, match="no PoolVault") as exc:
            verify(state, no_vault, b"", ctx)
        assert exc.value.reason == "spv_unavailable"
    with pytest.raises(TxRejectedError, match="no Ethereum HTLC contract configured"):
        verifier.verify_lock(state, with_vault, b"", ctx)
