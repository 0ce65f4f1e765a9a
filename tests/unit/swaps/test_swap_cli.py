"""The swap CLI end to end on two in-process fake chains: start, accept, watch, status, list,
explain, and the one-line refusals."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from click.testing import CliRunner
from etm_bridge_cli.swap import group as swap
from etm_bridge_cli.watch import group as watch

from etm_bridge.errors import SwapError
from etm_bridge.testing.fakechain import FakeChain, fake_pubkey
from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse"


def _home(tmp_path, name: str, tag: str):
    home = tmp_path / name
    home.mkdir()
    keystore = create_keystore(home / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF)
    wallet = keystore.unlock(PASS)
    (home / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        f'[chains.fakebtc]\nadapter = "fake"\nchain = "cli-btc-{tag}"\nkey = "btc"\n'
        f'[chains.fakeeth]\nadapter = "fake"\nchain = "cli-eth-{tag}"\nkey = "eth"\n'
        "[policy]\nleg_margin_s = 3600\nretry_after_s = 0\n"
    )
    keys = {
        "fakebtc": fake_pubkey(wallet.unsafe_export_chain_secret("btc")),
        "fakeeth": fake_pubkey(wallet.unsafe_export_chain_secret("eth")),
    }
    return home, keys


@pytest.fixture
def parties(tmp_path, monkeypatch):
    monkeypatch.setenv("ETM_BRIDGE_PASSPHRASE", PASS)
    tag = uuid.uuid4().hex[:8]
    user_home, user_keys = _home(tmp_path, "user", tag)
    op_home, op_keys = _home(tmp_path, "op", tag)
    chains = FakeChain.named(f"cli-btc-{tag}"), FakeChain.named(f"cli-eth-{tag}")
    for chain in chains:
        for keys in (user_keys, op_keys):
            for key in keys.values():
                chain.credit(key, 10**9)
        chain.mine(1)
    return user_home, user_keys, op_home, op_keys, chains


def _run(command, args, **kw):
    result = CliRunner().invoke(command, [str(a) for a in args], **kw)
    return result


def _ok(command, args):
    result = _run(command, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _start_args(home: str, claim_key: str, refund_key: str, *extra: str) -> list[str]:
    """``swap start fakebtc fakeeth 100000 --receive 5000000`` against the given keys."""
    return ["start", "fakebtc", "fakeeth", "100000", "--receive", "5000000",
            "--their-claim-key", claim_key, "--their-refund-key", refund_key,
            *extra, "--home", home]  # fmt: skip


def test_a_swap_from_the_command_line_alone(parties, tmp_path) -> None:
    user_home, _, op_home, op_keys, chains = parties
    started = json.loads(
        _ok(
            swap,
            _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex(), "--json"),
        )
    )
    swap_id = started["swap_id"]
    terms_file = tmp_path / "terms.json"
    terms_file.write_text(json.dumps(started))
    _ok(swap, ["accept", terms_file, "--home", op_home])
    for _ in range(30):
        states = {
            json.loads(_ok(swap, ["status", swap_id, "--home", h, "--json"]))["state"]
            for h in (user_home, op_home)
        }
        if states == {"claimed_both"}:
            break
        for home in (user_home, op_home):
            _ok(watch, ["--ticks", "1", "--interval", "0", "--home", home, "--json"])
        for chain in chains:
            chain.mine(1)
    assert states == {"claimed_both"}
    [row] = json.loads(_ok(swap, ["list", "--home", user_home, "--json"]))
    assert row["swap_id"] == swap_id and row["role"] == "user"
    explained = json.loads(_ok(swap, ["explain", swap_id, "--home", op_home, "--json"]))
    assert explained["finished"] and explained["past_point_of_no_return"]
    assert explained["observed"] and explained["actions_now"] == []
    status = json.loads(_ok(swap, ["status", swap_id, "--home", user_home, "--json"]))
    assert status["preimage"] is None and status["preimage_known"]
    assert [t["to"] for t in status["transitions"]][-1] == "claimed_both"


def test_accepting_terms_that_do_not_pay_us_is_refused(parties, tmp_path) -> None:
    user_home, _, op_home, op_keys, _ = parties
    wrong = fake_pubkey(b"somebody else entirely")
    started = _ok(
        swap,
        _start_args(user_home, wrong.hex(), op_keys["fakeeth"].hex(), "--json"),
    )
    terms_file = tmp_path / "terms.json"
    terms_file.write_text(started)
    result = _run(swap, ["accept", terms_file, "--home", op_home])
    assert isinstance(result.exception, SwapError)
    assert "do not let us claim" in str(result.exception)


def test_claim_refuses_when_there_is_nothing_to_claim(parties) -> None:
    user_home, _, _, op_keys, _ = parties
    started = json.loads(
        _ok(
            swap,
            _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex(), "--json"),
        )
    )
    result = _run(swap, ["claim", started["swap_id"], "--home", user_home])
    assert isinstance(result.exception, SwapError)
    assert "nothing to claim now" in str(result.exception)


def test_a_leg_margin_too_small_is_refused_before_anything_is_locked(parties) -> None:
    user_home, _, _, op_keys, _ = parties
    result = _run(
        swap,
        _start_args(
            user_home,
            op_keys["fakebtc"].hex(),
            op_keys["fakeeth"].hex(),
            "--hours",
            "6.5",
            "--counter-hours",
            "6",
        ),
    )
    assert result.exception is not None and "margin" in str(result.exception)
    assert json.loads(_ok(swap, ["list", "--home", user_home, "--json"])) == []


def test_a_counter_leg_our_reveal_guard_would_never_claim_is_refused_at_start(parties) -> None:
    """Issue 11, item 9: the user accepts no counter lock shorter than min_counter_lock_s (3 h
    by default); a direct swap asking for a 2 h one is refused before anything is locked."""
    user_home, _, _, op_keys, _ = parties
    args = ("--hours", "12", "--counter-hours", "2")
    result = _run(swap, _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex(),
                                    *args))  # fmt: skip
    assert result.exception is not None and "min_counter_lock_s" in str(result.exception)
    assert json.loads(_ok(swap, ["list", "--home", user_home, "--json"])) == []


def test_watch_shows_confirmations_and_time_left_before_each_refund(parties) -> None:
    user_home, _, _, op_keys, chains = parties
    _ok(swap, _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex()))
    _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home])  # locks
    for chain in chains:
        chain.mine(1)
    text = _ok(
        watch, ["--ticks", "1", "--interval", "0", "--status-every", "1", "--home", user_home]
    )
    [line] = [ln for ln in text.splitlines() if "user lock confirmations" in ln]
    assert re.search(
        r"user lock confirmations 1/1, \d+ blocks \(~(\d+ h )?\d+ min\) before its refund",
        line,
    ), line
    assert re.search(r"counter lock confirmations 0/1, 0 blocks \(~0 min\)", line), line


def test_cancel_waits_for_no_running_watcher_and_is_final(parties) -> None:
    """Issue 15, ``swap cancel``: while a watcher holds the database it could be locking this
    very swap, so cancel refuses; once cancelled, the watcher never locks it."""
    from etm_bridge.swaps.runtime.store import SwapStore

    user_home, _, _, op_keys, chains = parties
    started = json.loads(_ok(swap, _start_args(user_home, op_keys["fakebtc"].hex(),
                                               op_keys["fakeeth"].hex(), "--json")))  # fmt: skip
    swap_id = started["swap_id"]
    store = SwapStore(user_home / "swaps.db")
    try:
        with store.acquire_watcher_lock("a running watch"):
            busy = _run(swap, ["cancel", swap_id, "--home", user_home])
        assert "another watcher holds" in str(busy.exception), busy.output
    finally:
        store.close()
    assert "cancelled" in _ok(swap, ["cancel", swap_id, "--home", user_home])
    for _ in range(3):
        _ok(watch, ["--ticks", "1", "--interval", "0", "--home", user_home, "--json"])
        chains[0].mine(1)
    status = json.loads(_ok(swap, ["status", swap_id, "--home", user_home, "--json"]))
    assert status["state"] == "cancelled" and status["intents"] == []
    assert [t["event"] for t in status["transitions"]] == ["user_cancelled"]


def test_a_swap_the_wallet_cannot_pay_for_is_not_recorded(parties) -> None:
    user_home, _, _, op_keys, _ = parties
    args = _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex())
    args[3] = "2000000000"  # above the 10**9 the wallet holds
    refused = _run(swap, args)
    assert "not enough on fakebtc" in str(refused.exception), refused.output
    assert json.loads(_ok(swap, ["list", "--home", user_home, "--json"])) == []
