"""ETH <-> ETM pool swaps from the CLI alone on a private stack (the newcomer path, Ethereum).

After ``etm-bridge demo``: ``wallet new``, ``stack faucet``, ``bind --chain eth``, then
``swap start eth etm 0.01`` and ``swap start etm eth 5``, driven by ``watch`` ticks for the user
and ``stack operator`` ticks for the demo's pool operator until ``swap list --json`` says
``claimed_both``; the first swap is left open across ``stack down`` / ``stack up`` (the whole
stack restarts, anvil from its saved chain) and must still end ``claimed_both``. The user holds
no trusted Ethereum relayer key: the operator's side relays the anvil headers to ETM each tick
(and mines one anvil block, as anvil mines only on transactions), and the user's engine waits
for that relay before proving its lock.
"""

from __future__ import annotations

import json

import pytest
import test_stack_newcomer as newcomer
from test_stack_newcomer import _cli, _state

ETH = 10**18
pytestmark = pytest.mark.bitcoin  # the stack it starts runs a Bitcoin node
newcomer_env = newcomer.newcomer_env  # the private stack fixture, shared


def _drive(env: dict[str, str], swap_id: str) -> None:
    for _ in range(40):
        if _state(env, swap_id) == "claimed_both":
            return
        _cli(env, "watch", "--ticks", "1", "--interval", "0")
        _cli(env, "stack", "operator", "--ticks", "1", "--interval", "0")
    assert _state(env, swap_id) == "claimed_both"


@pytest.mark.bitcoin_long
@pytest.mark.timeout(900)
def test_newcomer_swaps_eth_for_etm_and_back_with_the_cli_alone(
    newcomer_env: dict[str, str],
) -> None:
    env = newcomer_env
    _cli(env, "demo", "--json", timeout_s=400)
    _cli(env, "wallet", "new", "--passphrase-env", "PW", "--json")
    _cli(env, "stack", "faucet", "--json")
    _cli(env, "bind", "--chain", "eth", "--passphrase-env", "PW")
    balances = json.loads(_cli(env, "wallet", "balance", "--json"))["balances"]

    swap_in = json.loads(_cli(env, "swap", "start", "eth", "etm", "0.01", "--json"))
    assert swap_in["pool"] is True and swap_in["terms"]["user_leg"]["amount"]["base_units"] == str(
        ETH // 100
    )
    assert _state(env, swap_in["swap_id"]) not in ("claimed_both", None)
    # the whole stack stops and starts again with the swap open (its ETH lock on anvil):
    # every node reloads its chain and the swap still ends claimed on both sides
    _cli(env, "stack", "down")
    restarted = json.loads(_cli(env, "stack", "up", "--json"))
    assert {info["action"] for info in restarted.values()} == {"started"}
    _drive(env, swap_in["swap_id"])
    middle = json.loads(_cli(env, "wallet", "balance", "--json"))["balances"]
    assert int(middle["eth"]["balance"]) < int(balances["eth"]["balance"]) - ETH // 100
    received = int(middle["etm"]["balance"]) - int(balances["etm"]["balance"])
    assert (
        received >= int(swap_in["terms"]["counter_leg"]["amount"]["base_units"]) - 10**6
    )  # less claim fees

    swap_out = json.loads(_cli(env, "swap", "start", "etm", "eth", "5", "--json"))
    assert swap_out["terms"]["user_leg"]["amount"]["base_units"] == str(5 * 10**8)
    _drive(env, swap_out["swap_id"])
    after = json.loads(_cli(env, "wallet", "balance", "--json"))["balances"]
    assert int(after["etm"]["balance"]) < int(middle["etm"]["balance"]) - 5 * 10**8 + 10**6
    # the pool's lock less claim gas
    paid = int(after["eth"]["balance"]) - int(middle["eth"]["balance"])
    minimum = int(swap_out["terms"]["counter_leg"]["amount"]["base_units"])
    quoted = int(swap_out["quote"]["amount_out"]["base_units"])
    assert minimum - 10**15 < paid <= quoted
