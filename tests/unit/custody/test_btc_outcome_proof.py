"""Tx 302's Bitcoin body (``chains/bitcoin/custody/spec.py::outcome``) against a real header
relay fed with regtest headers mined in Python: what a proven spend says (txid, spent
outpoints, every output), and the relay's reasons for a proof it does not accept (a block it
does not know, too few confirmations for the relay policy), carried by tx 302 unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exchange"))
from test_exchange_btc_proofs import MiniChain, tx_paying

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.chains.bitcoin.etm import relay_types
from etm_bridge.chains.bitcoin.etm.verifier import BtcProof
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.custody import mandate_store, outcome
from etm_bridge.errors import InclusionProofError, TxRejectedError
from etm_bridge.spv.relay_policy import RelayPolicy

pytestmark = pytest.mark.unit

CTX = TxContext(ChainParams(), 10, 100, bytes(32))


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch) -> MiniChain:
    btc = MiniChain()
    monkeypatch.setattr(relay_types, "btc_relay_of", lambda view: btc.relay)
    monkeypatch.setattr(relay_types, "btc_policy_of", lambda view: RelayPolicy(3))
    return btc


def _proof(btc: MiniChain, raw: bytes, depth: int) -> bytes:
    return BtcProof.decode(btc.include(raw, 0, depth=depth)).tx_proof.encode()


def test_a_proven_spend_names_its_txid_inputs_and_outputs(chain: MiniChain) -> None:
    raw = tx_paying((70_000, b"\x00\x20" + b"\x11" * 32), (0, b"\x6a\x01\x00"))
    got = SPEC.outcome(None, _proof(chain, raw, 3), CTX)
    assert got.ref == got.txid == dsha256(raw) and got.foreign_height == chain.height - 2
    assert got.spent == (b"\x11" * 32 + b"\x00\x00\x00\x00",)
    assert [(o.outpoint[32:], o.amount, o.destination) for o in got.created] == [
        (b"\x00\x00\x00\x00", 70_000, b"\x00\x20" + b"\x11" * 32),
        (b"\x01\x00\x00\x00", 0, b"\x6a\x01\x00"),
    ]


def test_too_few_confirmations_and_an_unknown_block_get_the_relays_reason(
    chain: MiniChain,
) -> None:
    raw = tx_paying((70_000, b"\x00\x20" + b"\x11" * 32))
    with pytest.raises(InclusionProofError) as err:
        SPEC.outcome(None, _proof(chain, raw, 2), CTX)  # the policy asks for 3
    assert err.value.reason == "insufficient-confirmations"
    p = outcome.OutcomeProof("btc", b"\x01" * 32, _proof(chain, raw, 2))
    unknown = BitcoinTxProof.decode(p.proof)
    forged = BitcoinTxProof(unknown.raw_tx, b"\x99" * 32, unknown.index, unknown.tx_count,
                            unknown.branch_le)  # fmt: skip
    with pytest.raises(InclusionProofError) as err:
        SPEC.outcome(None, forged.encode(), CTX)
    assert err.value.reason == "unknown-block"


def test_tx_302_carries_the_relays_reason(chain: MiniChain) -> None:
    """On a custody state with an open mandate, tx 302 with the real Bitcoin outcome: a proof
    short of the policy's depth is refused with the relay's reason, before any mandate rule."""
    from test_lp_custody import World

    w = World()
    w.seat(0, range(4))
    w.deposit(150_000, w.vault(0))
    m = w.withdraw(40_000, b"\x31" * 32)
    raw = tx_paying((70_000, b"\x00\x20" + b"\x11" * 32))
    p = outcome.OutcomeProof("btc", m.id, _proof(chain, raw, 1))
    with pytest.raises(TxRejectedError) as err:
        outcome.run(w.s, None, p, CTX, lambda: {"btc": SPEC})  # type: ignore[arg-type]
    assert err.value.reason == "insufficient-confirmations"
    assert mandate_store.get_mandate(w.s, m.id).status.value == "open"  # type: ignore[union-attr]
