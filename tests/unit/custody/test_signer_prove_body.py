"""The Bitcoin signer part's pieces of the "prove" duty (``chains/bitcoin/custody/signing.py``):
the value a revision's spend moves (what the relay policy's depth scales with) and tx 302's body
from an adapter's ``bitcoin-merkle`` inclusion proof, checked by the real custody spec against a
real header relay fed with regtest headers mined in Python."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exchange"))
from test_exchange_btc_proofs import MiniChain, tx_paying

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext
from etm_bridge.chains.bitcoin.custody import build, signing
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.chains.bitcoin.etm import relay_types
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.errors import InclusionProofError, ValidationError
from etm_bridge.observations import InclusionProof
from etm_bridge.spv.relay_policy import RelayPolicy

pytestmark = pytest.mark.unit

CTX = TxContext(ChainParams(), 10, 100, bytes(32))
VIEW: Any = None  # the relay and policy readers are patched to the mini chain's


def test_the_value_a_spend_moves_is_the_sum_of_its_outputs() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))
    from test_custody_shares import _state

    _, m, _ = _state()
    spend = m.revisions[0].spend
    assert signing.moved(spend) == sum(o.amount for o in build.decode_plan(spend).outputs) > 0


def test_an_adapter_proof_becomes_a_302_body_the_custody_spec_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    btc = MiniChain()
    monkeypatch.setattr(relay_types, "btc_relay_of", lambda view: btc.relay)
    monkeypatch.setattr(relay_types, "btc_policy_of", lambda view: RelayPolicy(3))
    raw = tx_paying((70_000, b"\x00\x20" + b"\x11" * 32))
    block, txids = btc.mine([raw])
    header = btc.relay.get(block).raw
    proof = InclusionProof("bitcoin-merkle", btc.height, header, raw, (txids[0],), 1, 2)
    body = signing.outcome_body(proof)
    with pytest.raises(InclusionProofError) as err:  # one confirmation, the policy asks 3
        SPEC.outcome(VIEW, body, CTX)
    assert err.value.reason == "insufficient-confirmations"
    btc.mine()
    btc.mine()
    got = SPEC.outcome(VIEW, body, CTX)
    assert got.txid == dsha256(raw) and got.created[0].amount == 70_000
    with pytest.raises(ValidationError):  # a proof without its block's transaction count
        signing.outcome_body(InclusionProof("bitcoin-merkle", 1, header, raw, (txids[0],), 1))
