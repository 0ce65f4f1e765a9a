"""The README's newcomer path on a private stack, with the CLI alone (subprocesses, as a user).

After ``etm-bridge demo`` (pools created and funded, the stack left running): ``wallet new``,
``stack faucet`` (no passphrase: the keystore's public part), ``bind --chain btc``, ``swap start
bitcoin etm 0.001`` with NO ``config.toml`` (the swap engine defaults to the stack's endpoints),
then ``watch`` ticks for the user and ``stack operator`` ticks for the demo's pool operator until
``swap list --json`` says ``claimed_both``. The stack is stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_stack_cli import ETM_BRIDGE, _free_base_port

from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

PW = "correct horse battery staple"
pytestmark = pytest.mark.bitcoin  # the stack it starts runs a Bitcoin node


@pytest.fixture
def newcomer_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "ETM_STACK_DIR": str(tmp_path / "stack"),
        "ETM_STACK_BASE_PORT": str(_free_base_port()),
        "ETM_BRIDGE_HOME": str(tmp_path / "swaps"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "ETM_BRIDGE_PASSPHRASE": PW,
        "PW": PW,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
    }
    for name in ("ETM_BRIDGE_KEYSTORE", "ETM_BRIDGE_CONFIG"):
        env.pop(name, None)
    yield env
    subprocess.run([ETM_BRIDGE, "stack", "down"], env=env, capture_output=True, timeout=120)


def _cli(env: dict[str, str], *args: str, timeout_s: float = 120) -> str:
    result = subprocess.run([ETM_BRIDGE, *args], env=env, capture_output=True, text=True,
                            timeout=timeout_s, cwd=Path(env["ETM_STACK_DIR"]).parent)  # fmt: skip
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


def _state(env: dict[str, str], swap_id: str) -> str | None:
    rows = json.loads(_cli(env, "swap", "list", "--json"))
    return next((r["state"] for r in rows if r["swap_id"] == swap_id), None)


@pytest.mark.bitcoin_long
@pytest.mark.timeout(600)
def test_newcomer_swaps_btc_for_etm_with_the_cli_alone(newcomer_env: dict[str, str]) -> None:
    env = newcomer_env
    _cli(env, "demo", "--json", timeout_s=400)
    assert not (Path(env["ETM_BRIDGE_HOME"]) / "config.toml").exists()

    wallet = json.loads(_cli(env, "wallet", "new", "--passphrase-env", "PW", "--json"))
    paid = json.loads(_cli(env, "stack", "faucet", "--json"))
    assert paid["btc"]["address"] == wallet["public"]["btc"]["addresses"]["regtest"]
    assert paid["eth"]["address"] == wallet["public"]["eth"]["address"]
    assert paid["etm"]["address"] == wallet["public"]["etm"]["address"]
    balances = json.loads(_cli(env, "wallet", "balance", "--json"))["balances"]
    # 0.1 BTC, confirmed by a mined block (JSON amounts are strings of base units)
    assert balances["btc"]["balance"] == "10000000"
    assert balances["eth"]["balance"] == str(10**18)
    assert balances["etm"]["balance"] == str(1_000 * 10**8)

    _cli(env, "bind", "--chain", "btc", "--passphrase-env", "PW")
    started = json.loads(_cli(env, "swap", "start", "bitcoin", "etm", "0.001", "--json"))
    assert (
        started["pool"] is True and started["terms"]["user_leg"]["amount"]["base_units"] == "100000"
    )
    swap_id = started["swap_id"]
    for _ in range(30):
        if _state(env, swap_id) == "claimed_both":
            break
        _cli(env, "watch", "--ticks", "1", "--interval", "0")
        _cli(env, "stack", "operator", "--ticks", "1", "--interval", "0")
    assert _state(env, swap_id) == "claimed_both"
    after = json.loads(_cli(env, "wallet", "balance", "--json"))["balances"]
    received = int(after["etm"]["balance"]) - int(balances["etm"]["balance"])
    assert (
        received >= int(started["terms"]["counter_leg"]["amount"]["base_units"]) - 10**6
    )  # less the bind's fee
    assert int(after["btc"]["balance"]) < int(balances["btc"]["balance"]) - 100_000


def test_faucet_refuses_without_a_keystore_then_without_a_stack(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PW": PW,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
    }
    env.pop("ETM_BRIDGE_KEYSTORE", None)
    faucet = [ETM_BRIDGE, "stack", "faucet"]
    no_keystore = subprocess.run(faucet, env=env, capture_output=True, text=True, timeout=60)
    assert no_keystore.returncode != 0 and "keystore" in no_keystore.stderr
    assert "Traceback" not in no_keystore.stderr
    _cli({**env, "ETM_STACK_DIR": str(tmp_path)}, "wallet", "new", "--passphrase-env", "PW")
    no_stack = subprocess.run(faucet, env=env, capture_output=True, text=True, timeout=60)
    assert no_stack.returncode == 3, no_stack.stderr
    assert "no local stack" in no_stack.stderr and "etm-bridge stack up" in no_stack.stderr
