"""The LP deposit journal: a payment made and not proven blocks a second payment, says how to
prove it (or, for chains whose payments cannot be found again, how to clear it), and is cleared
only by the deposit of that payment. The whole flow runs on real nodes in
``tests/integration/node/test_exchange_node.py``."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from etm_bridge.app import deposit_journal as dj
from etm_bridge.errors import ValidationError

pytestmark = pytest.mark.unit

TXID = "ab" * 32


def test_a_pending_payment_blocks_a_new_one_until_its_deposit_clears_it(tmp_path: Path) -> None:
    path = dj.path_of(tmp_path / "deposits", "btc")
    dj.refuse_if_pending(path, resumable=True)  # nothing pending
    dj.record(path, dj.PendingDeposit("btc", "bitcoin", TXID, 500_000, "etm1xyz"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValidationError, match=rf"--txid {TXID}.*would pay twice"):
        dj.refuse_if_pending(path, resumable=True)
    with pytest.raises(ValidationError, match=r"cannot be resumed.*lp positions.*delete"):
        dj.refuse_if_pending(path, resumable=False)
    dj.clear(path, "cd" * 32)  # another payment's deposit leaves it
    assert dj.read(path) == dj.PendingDeposit("btc", "bitcoin", TXID, 500_000, "etm1xyz")
    dj.clear(path, TXID)
    assert not path.exists()
    dj.refuse_if_pending(path, resumable=True)


def test_a_damaged_journal_is_named_not_ignored(tmp_path: Path) -> None:
    path = dj.path_of(tmp_path, "btc")
    path.write_text("{not json")
    with pytest.raises(ValidationError, match=f"deposit journal {path} is damaged"):
        dj.refuse_if_pending(path, resumable=True)


HOLD_PAYING = """
import sys, time
from pathlib import Path
from etm_bridge.app import deposit_journal as dj
with dj.paying(Path(sys.argv[1])):
    print("paying", flush=True)
    time.sleep(60)
"""


def test_a_second_deposit_while_one_pays_is_refused_before_it_checks_or_pays(
    tmp_path: Path,
) -> None:
    """Attack (review x5): two `lp deposit` runs started together both found no pending
    payment and both paid; the second record replaced the first, so a crash of the first run
    lost its only record. The check, the payment and its record are now one locked step (a
    real second process holds it here, then is SIGKILLed: the kernel frees the lock)."""
    path = dj.path_of(tmp_path / "deposits", "btc")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PAYING, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "paying"
        with pytest.raises(ValidationError, match=r"another `lp deposit` .*btc\.json\.lock"):
            dj.paying(path).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with dj.paying(path):  # free again; the first run's record now refuses the second
        dj.record(path, dj.PendingDeposit("btc", "bitcoin", TXID, 500_000, "etm1xyz"))
    with dj.paying(path), pytest.raises(ValidationError, match="would pay twice"):
        dj.refuse_if_pending(path, resumable=True)
    with dj.paying(None):  # no home, no journal: nothing to lock
        pass
