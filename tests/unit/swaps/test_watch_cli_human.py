"""``etm-bridge watch`` as a person leaves it running (issue 15), on two in-process fake chains:
one line per state change in the user's words (no internal names), a refusal said once with
its reason and handed to --notify-cmd once, a log file in the home, --until-done; and the
notify command gets what it is told through its environment only (an attacker's text in a
message runs nothing)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.swap import group as swap
from etm_bridge_cli.watch import group as watch

from etm_bridge.app.watch_alerts import Notifier
from etm_bridge.testing.fakechain import FakeChain, fake_pubkey
from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse"


def _home(tmp_path, name: str, tag: str):
    home = tmp_path / name
    home.mkdir()
    wallet = create_keystore(home / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF).unlock(PASS)
    (home / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        f'[chains.fakebtc]\nadapter = "fake"\nchain = "hw-btc-{tag}"\nkey = "btc"\n'
        f'[chains.fakeeth]\nadapter = "fake"\nchain = "hw-eth-{tag}"\nkey = "eth"\n'
        "[policy]\nleg_margin_s = 3600\nretry_after_s = 0\n"
    )
    keys = {c: fake_pubkey(wallet.unsafe_export_chain_secret(k))
            for c, k in (("fakebtc", "btc"), ("fakeeth", "eth"))}  # fmt: skip
    return home, keys


@pytest.fixture
def parties(tmp_path, monkeypatch):
    """Two homes (user, operator) on two fresh fake chains, every key funded."""
    monkeypatch.setenv("ETM_BRIDGE_PASSPHRASE", PASS)
    tag = uuid.uuid4().hex[:8]
    user_home, user_keys = _home(tmp_path, "user", tag)
    op_home, op_keys = _home(tmp_path, "op", tag)
    chains = FakeChain.named(f"hw-btc-{tag}"), FakeChain.named(f"hw-eth-{tag}")
    for chain in chains:
        for key in (*user_keys.values(), *op_keys.values()):
            chain.credit(key, 10**9)
        chain.mine(1)
    return user_home, user_keys, op_home, op_keys, chains


def _ok(command, args):
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _start_args(home, claim_key: str, refund_key: str) -> list[str]:
    return ["start", "fakebtc", "fakeeth", "100000", "--receive", "5000000",
            "--their-claim-key", claim_key, "--their-refund-key", refund_key,
            "--home", home]  # fmt: skip


INTERNAL = ("lock_user_leg", "foreign_to_etm", "etm_to_foreign", "user_locked", "->")


def _notify_cmd(out: Path) -> str:
    """A notify command appending one JSON line of the variables it got to ``out``."""
    code = (
        "import json, os, sys; "
        "v = {k: os.environ[k] for k in os.environ if k.startswith('ETM_BRIDGE_') "
        "and k not in ('ETM_BRIDGE_PASSPHRASE',)}; "
        f"open({str(out)!r}, 'a').write(json.dumps(v) + '\\n')"
    )
    return shlex.join([sys.executable, "-c", code])


def test_watch_says_each_state_change_in_words_logs_it_and_exits_when_done(parties) -> None:
    user_home, _, op_home, op_keys, chains = parties
    started = json.loads(
        _ok(
            swap,
            [*_start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex()), "--json"],
        )
    )
    swap_id = started["swap_id"]
    terms = user_home.parent / "terms.json"
    terms.write_text(json.dumps(started))
    _ok(swap, ["accept", terms, "--home", op_home])
    said: list[str] = []
    for _ in range(30):
        out = _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home,
                          "--status-every", "0"])  # fmt: skip
        said += out.splitlines()
        _ok(watch, ["--ticks", "1", "--interval", "0", "--home", op_home])
        for chain in chains:
            chain.mine(1)
        if json.loads(_ok(swap, ["status", swap_id, "--home", user_home, "--json"]))["state"] == (
            "claimed_both"
        ):
            break
    assert said, "the watcher said nothing"
    assert all(swap_id in line for line in said), said
    assert not [line for line in said if any(word in line for word in INTERNAL)], said
    assert any("locking 100000 base units on fakebtc: sent" in line for line in said), said
    assert any("100000 base units on fakebtc locked, waiting for" in line for line in said), said
    assert said[-1].endswith("complete: both locks claimed"), said
    assert len(said) == len(set(said)), said  # each change once, not every tick
    log = (user_home / "logs" / "watch.log").read_text()
    assert all(line in log for line in said)
    [row] = json.loads(_ok(swap, ["list", "--home", user_home, "--json"]))
    assert (row["gives_base_units"], row["gets_base_units"]) == ("100000", "5000000")  # strings
    done = CliRunner().invoke(watch, ["--until-done", "--interval", "0", "--home", str(user_home)])
    assert done.exit_code == 0 and "no swap is open: done" in done.stderr


def test_a_refused_lock_is_said_once_with_its_reason_and_notified_once(parties, tmp_path):
    user_home, user_keys, _, op_keys, chains = parties
    args = _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex())
    swap_id = json.loads(_ok(swap, [*args, "--json"]))["swap_id"]
    # the pre-flight passed; then another program spends the wallet: the lock is refused every tick
    chains[0].balances[(user_keys["fakebtc"], None)] = 0
    out_file = tmp_path / "notified.jsonl"
    args = ["--ticks", "4", "--interval", "0", "--home", user_home,
            "--notify-cmd", _notify_cmd(out_file)]  # fmt: skip
    text = _ok(watch, args)
    refused = [line for line in text.splitlines() if "locking" in line]
    assert len(refused) == 1, text
    assert refused[0].startswith(f"swap {swap_id}: locking ") and "will retry" in refused[0]
    [note] = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert note["ETM_BRIDGE_SWAP_ID"] == swap_id
    assert note["ETM_BRIDGE_EVENT"] == "action_needed"
    assert note["ETM_BRIDGE_MESSAGE"] == refused[0]


def test_the_notify_command_runs_no_text_it_is_given(tmp_path, monkeypatch) -> None:
    """Attack: a node's or counterparty's text in a message (``$(...)``, backquotes, ``;``)
    would run if the command were built by interpolation into a shell line. It is passed in
    the environment of a command run without a shell: nothing runs."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "got.txt"
    hostile = "x $(touch pwned1) `touch pwned2`; touch pwned3"
    notifier = Notifier(
        shlex.join([sys.executable, "-c",
                    f"import os; open({str(out)!r}, 'w').write(os.environ['ETM_BRIDGE_MESSAGE'])"])
    )  # fmt: skip
    assert notifier.notify("s1", "action_needed", hostile)
    assert not notifier.notify("s1", "action_needed", hostile)  # once per key
    notifier.wait()
    assert out.read_text() == hostile
    assert not list(tmp_path.glob("pwned*"))


def test_status_shows_the_open_swap_its_deadline_and_that_no_watcher_runs(parties) -> None:
    from etm_bridge_cli.status import group as status

    user_home, _, _, op_keys, chains = parties
    assert "open swaps: 0" in _ok(status, ["--home", user_home])
    args = _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex())
    swap_id = json.loads(_ok(swap, [*args, "--json"]))["swap_id"]
    _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home])  # locks
    chains[0].mine(1)
    _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home])  # sees its lock
    picture = json.loads(_ok(status, ["--home", user_home, "--json"]))
    [row] = picture["open_swaps"]
    assert row["swap_id"] == swap_id
    assert row["says"].startswith("100000 base units on fakebtc locked")
    assert picture["next_deadline"]["swap_id"] == swap_id
    assert picture["next_deadline"]["chain"] == "fakeeth"  # the reveal deadline comes first
    assert picture["next_deadline"]["what"].startswith("the secret must be revealed")
    assert not picture["watcher_running"]
    assert picture["needs_you"][0]["what"].startswith("no watcher is running")
    assert [(n["chain"], n["ok"]) for n in picture["nodes"]] == [
        ("fakebtc", True), ("fakeeth", True),
    ]  # fmt: skip
    text = _ok(status, ["--home", user_home])
    assert "(no watcher running!)" in text and f"  {swap_id} (user)" in text
    assert "  fakebtc  fake node at fakebtc: ok, height " in text


def test_a_near_deadline_we_must_meet_is_notified_once_with_its_height(parties, tmp_path) -> None:
    user_home, _, _, op_keys, chains = parties
    args = _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex())
    swap_id = json.loads(_ok(swap, [*args, "--json"]))["swap_id"]
    _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home])  # locks
    chains[0].mine(1)
    out_file = tmp_path / "notified.jsonl"
    far = ["--notify-before", "1000000", "--notify-cmd", _notify_cmd(out_file)]
    said = _ok(watch, ["--ticks", "3", "--interval", "0", "--home", user_home, *far])
    [note] = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert (note["ETM_BRIDGE_SWAP_ID"], note["ETM_BRIDGE_EVENT"]) == (swap_id, "deadline_near")
    assert note["ETM_BRIDGE_DEADLINE_CHAIN"] == "fakeeth"  # reveal before the counter lock's end
    assert int(note["ETM_BRIDGE_DEADLINE_HEIGHT"]) > 0 and int(note["ETM_BRIDGE_DEADLINE_IN_S"]) > 0
    assert said.count("deadline near: the secret must be revealed") == 1
    quiet = _ok(
        watch,
        [
            "--ticks",
            "1",
            "--interval",
            "0",
            "--home",
            user_home,
            "--notify-cmd",
            _notify_cmd(out_file),
        ],
    )  # default 30 min: the deadline is hours away
    assert "deadline near" not in quiet and len(out_file.read_text().splitlines()) == 1


def test_shell_completion_lists_verbs_and_options_of_lazy_verbs() -> None:
    script = Path(sys.executable).with_name("etm-bridge")
    env = {**os.environ, "_ETM_BRIDGE_COMPLETE": "bash_complete",
           "COMP_WORDS": "etm-bridge watch --un", "COMP_CWORD": "2"}  # fmt: skip
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["plain,--until-done"]
    env.update(COMP_WORDS="etm-bridge st", COMP_CWORD="1")
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["plain,stack", "plain,status"]
