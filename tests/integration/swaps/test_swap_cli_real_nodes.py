"""A newcomer's swap with the CLI alone, on real nodes: two wallets (`wallet` keystores), two
engine homes with a config.toml each, `swap start` / `swap accept` / `watch`, then `swap
status` and `swap list`. Bitcoin regtest is the user's (long) leg, anvil the operator's
(the two parties: ``cli_parties``)."""

from __future__ import annotations

import json

from cli_parties import cli, two_parties


def test_a_swap_with_the_cli_alone_on_real_nodes(bitcoin_node, anvil_node, tmp_path) -> None:
    parties = two_parties(
        bitcoin_node, anvil_node, tmp_path, user_sat=3_000_000, user_wei=10**19, op_wei=10**19
    )
    user_home, op_home = parties.user_home, parties.op_home
    started = json.loads(cli(*parties.start_args(), "--json"))
    swap_id = started["swap_id"]
    assert started["terms"]["user_leg"]["amount"]["base_units"] == "1000000"  # 0.01 BTC in sat
    assert started["terms"]["counter_leg"]["amount"]["base_units"] == str(5 * 10**17)  # 0.5 ETH
    (tmp_path / "terms.json").write_text(json.dumps(started))
    cli("swap", "accept", tmp_path / "terms.json", "--home", op_home)
    for _ in range(40):
        states = {
            json.loads(cli("swap", "status", swap_id, "--home", h, "--json"))["state"]
            for h in (user_home, op_home)
        }
        if states == {"claimed_both"}:
            break
        for home in (user_home, op_home):
            cli("watch", "--ticks", "1", "--interval", "0", "--home", home)
        bitcoin_node.mine(1)
        anvil_node.rpc.call("anvil_mine", "0x1")
    assert states == {"claimed_both"}
    listed = json.loads(cli("swap", "list", "--home", op_home, "--json"))
    assert [(r["swap_id"], r["role"], r["state"]) for r in listed] == [
        (swap_id, "operator", "claimed_both")
    ]
    text = cli("swap", "explain", swap_id, "--home", user_home)
    assert "claimed_both" in text and "actions now: none" in text
    refused = cli("swap", "refund", swap_id, "--home", user_home, ok=False)
    assert refused.startswith("error: ") and len(refused.strip().splitlines()) == 1
