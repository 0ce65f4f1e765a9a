"""The generic obligation payment (``etm_bridge.app.obligation_payments``): what each chain's
profile says a payment pays, and the refusals that come before any coin moves.

End to end on real nodes: the Handshake pool's LP withdrawal paid by this use case
(tests/integration/handshake/test_hns_etm_pool.py) and the Bitcoin one paid by the stack's
operator with an ETM node down (tests/integration/stack/test_stack_network_kill.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from etm_bridge.app.context import AppContext
from etm_bridge.app.obligation_payments import (
    _journal_read,
    _journal_write,
    journal_lock,
    pay_obligations,
    payable_assets,
)
from etm_bridge.chains.bitcoin.etm.verifier import p2wpkh, payment_tag
from etm_bridge.chains.handshake.etm import scripts
from etm_bridge.chains.profile import ObligationRequest
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ValidationError

KEY = bytes.fromhex("02" + "11" * 32)
CHAIN = "cc" * 32  # an ETM genesis block id


def _client(asset: str):  # type: ignore[no-untyped-def]
    return chain_registry().for_asset(asset).require_client()


def test_the_bound_key_is_paid_at_output_0_and_the_ids_are_listed_the_chain_s_way() -> None:
    req = ObligationRequest(KEY, 25_000, (7, 9))
    pay, tag = _client("btc").obligation_payments(req)  # type: ignore[misc]
    assert (pay.destination, pay.amount) == (p2wpkh(KEY), 25_000)
    data = payment_tag([7, 9])
    assert tag.destination == bytes([0x6A, len(data)]) + data and tag.amount == 0
    pay, tag = _client("hns").obligation_payments(req)  # type: ignore[misc]
    assert (pay.destination, pay.amount) == (bytes([0]) + scripts.key_hash(KEY), 25_000)
    assert tag.destination == bytes([31]) + scripts.payment_data([7, 9]) and tag.amount == 0


def test_too_many_or_repeated_ids_are_refused_before_paying() -> None:
    for asset in ("btc", "hns"):
        with pytest.raises(ValidationError, match="distinct ids"):
            _client(asset).obligation_payments(ObligationRequest(KEY, 1, (3, 3)))  # type: ignore[misc]
        with pytest.raises(ValidationError, match="distinct ids"):
            _client(asset).obligation_payments(ObligationRequest(KEY, 1, tuple(range(40))))  # type: ignore[misc]


def test_a_chain_without_plain_payments_is_refused_with_the_reason(tmp_path: Path) -> None:
    assert set(payable_assets()) >= {"btc", "hns"} and "eth" not in payable_assets()
    with pytest.raises(ValidationError, match="not paid by a payment of the operator's adapter"):
        pay_obligations(AppContext(), "eth", tmp_path / "journal.json")


def test_a_damaged_journal_is_named_and_never_read_as_empty(tmp_path: Path) -> None:
    """An empty reading would pay every recorded obligation a second time."""
    journal = tmp_path / "journal.json"
    assert _journal_read(journal, CHAIN) == {}
    journal.write_text("{")
    journal.chmod(0o600)
    with pytest.raises(ValidationError, match="never delete it"):
        _journal_read(journal, CHAIN)
    journal.write_text(json.dumps(["btc:1"]))
    with pytest.raises(ValidationError, match="not an obligation payment journal"):
        _journal_read(journal, CHAIN)
    journal.write_text(json.dumps({"etm_chain": CHAIN, "paid": ["btc:1"]}))
    with pytest.raises(ValidationError, match="no object of payments"):
        _journal_read(journal, CHAIN)
    _journal_write(journal, CHAIN, {"btc:1": "ab" * 32})
    assert _journal_read(journal, CHAIN) == {"btc:1": "ab" * 32}


def test_a_journal_of_another_etm_chain_is_never_resumed(tmp_path: Path) -> None:
    """Attack (review x5): obligation ids restart on every ETM chain. An operator home reused
    on a relaunched network resumed the old chain's payment of "btc:0" for the new obligation
    0: same LP key, same amount, an id the tag lists, a payment the new chain never saw used,
    so ETM closed the LP's new withdrawal with the old payment and the LP was never paid."""
    journal = tmp_path / "journal.json"
    _journal_write(journal, "aa" * 32, {"btc:0": "ab" * 32})
    with pytest.raises(ValidationError, match=r"another ETM chain .* Move it away"):
        _journal_read(journal, CHAIN)
    assert _journal_read(journal, "aa" * 32) == {"btc:0": "ab" * 32}
    # a journal from before it named its chain is read as this chain's (never as empty)
    journal.write_text(json.dumps({"btc:0": "ab" * 32}))
    assert _journal_read(journal, CHAIN) == {"btc:0": "ab" * 32}


def test_a_second_payer_while_one_runs_is_refused_and_a_killed_one_frees_the_journal(
    tmp_path: Path,
) -> None:
    """Attack (review x5): a second run started while the first still waits for confirmations
    walks the same obligations in step with it; both read the journal before either records the
    next payment, and both pay it. The second run is refused before anything is read or paid,
    and a payer killed by SIGKILL leaves no lock behind (the kernel drops its flock)."""
    journal = tmp_path / "operator" / "obligation_payments.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(journal)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValidationError, match=r"another run is paying .*\.lock"):
            pay_obligations(AppContext(), "btc", journal)
    finally:
        holder.kill()
        holder.wait()
    # free again once its holder died (and held by one run at a time, in one process too)
    with journal_lock(journal), pytest.raises(ValidationError, match="another run is paying"):
        journal_lock(journal).__enter__()
    assert not journal.exists()  # nothing was paid nor recorded


HOLD_LOCK = """
import sys, time
from pathlib import Path
from etm_bridge.app.obligation_payments import journal_lock
with journal_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""
