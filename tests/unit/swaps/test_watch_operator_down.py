"""``etm-bridge watch --operator`` keeps going while a node it follows the pools through is
down (review a11a).

The pool operator's watcher is what claims every swap in's foreign lock once the user reveals
the secret on ETM; a watcher that has exited claims nothing, and the user then refunds the BTC
after taking the pool's ETM. The pool-following step (``PoolFollower``, new in issue 11) ran
outside the watcher's own error handling: one unanswered request to the ETM node (a restart,
or a moment of load an attacker can cause on a public node) ended the process with
``NodeUnavailableError``. Now it is reported and retried next tick, like the watcher's own
node errors. The ETM node here is a real closed port: nothing listens there.
"""

from __future__ import annotations

import socket

from click.testing import CliRunner
from etm_bridge_cli.watch import group as watch

from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_operator_watch_survives_an_etm_node_that_does_not_answer(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ETM_BRIDGE_PASSPHRASE", PASS)
    create_keystore(tmp_path / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF)
    (tmp_path / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        f'[chains.etm]\nadapter = "etm"\nurl = "http://127.0.0.1:{_closed_port()}"\n'
    )
    args = ["--operator", "--ticks", "3", "--interval", "0", "--home", str(tmp_path), "--json"]
    result = CliRunner().invoke(watch, args)
    assert result.exit_code == 0, (result.output, result.exception)
    ticks = [line for line in result.output.splitlines() if line.startswith("{")]
    assert len(ticks) == 3  # every tick ran
    assert result.output.count("operator: following the pools failed") == 3
    assert "did not answer" in result.output
