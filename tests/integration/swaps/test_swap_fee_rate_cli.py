"""``swap start --fee-rate`` on real nodes: a rate above the chain's ceiling (``max_fee_sat_vb``)
or below what the node relays is refused in one line before anything is recorded; a good one is
kept with the swap and paid by the lock the watcher broadcasts (not the estimate)."""

from __future__ import annotations

import json

from cli_parties import cli, two_parties
from fee_market import package_rate
from test_swap_cli_errors_real_nodes import _fail


def test_the_users_fee_rate_is_checked_kept_and_paid_by_the_lock(
    bitcoin_node, anvil_node, tmp_path
) -> None:
    parties = two_parties(bitcoin_node, anvil_node, tmp_path, user_sat=3_000_000, user_wei=10**18)
    user_home, start = parties.user_home, parties.start_args()
    line = _fail(*start, "--fee-rate", "1001")
    assert "above the ceiling max_fee_sat_vb (1000)" in line, line
    line = _fail(*start, "--fee-rate", "0")
    assert "fee_rate_sat_vb must be >= 1 sat/vB" in line, line
    eth_first = ("swap", "start", "eth", "btc", "0.5", "--receive", "0.01", *start[7:])
    line = _fail(*eth_first, "--fee-rate", "3")  # a chain that sets its own fees
    assert "takes no fee rate (leave --fee-rate out for this chain)" in line, line
    assert json.loads(cli("swap", "list", "--home", user_home, "--json")) == []

    started = json.loads(cli(*start, "--fee-rate", "13", "--json"))
    swap_id = started["swap_id"]
    status = json.loads(cli("swap", "status", swap_id, "--home", user_home, "--json"))
    assert status["fee_rate"] == 13
    cli("watch", "--ticks", "1", "--interval", "0", "--home", user_home)
    status = json.loads(cli("swap", "status", swap_id, "--home", user_home, "--json"))
    [lock] = [i for i in status["intents"] if i["kind"] == "lock_user_leg"]
    assert lock["outcome"] == "broadcast", lock
    txid = lock["txid"]
    assert package_rate(bitcoin_node, txid) == 13  # the user's rate, not the estimate
    bitcoin_node.mine(1)

    # `swap claim|refund --fee-rate`: checked the same way before anything is sent; the refund
    # pays it and keeps it in the record (a later automatic refund of this swap uses it too)
    line = _fail("swap", "claim", swap_id, "--fee-rate", "3", "--home", user_home)
    assert "takes no fee rate (leave --fee-rate out for this chain)" in line, line  # claims on eth
    timelock = started["terms"]["user_leg"]["timelock_height"]
    line = _fail("swap", "refund", swap_id, "--fee-rate", "1001", "--home", user_home)
    assert "above the ceiling max_fee_sat_vb (1000)" in line, line
    bitcoin_node.mine(max(0, timelock - bitcoin_node.height()))
    done = json.loads(cli("swap", "refund", swap_id, "--fee-rate", "21", "--home", user_home,
                          "--json"))  # fmt: skip
    assert [d["action"] for d in done] == ["refund_user_lock"], done
    status = json.loads(cli("swap", "status", swap_id, "--home", user_home, "--json"))
    assert status["fee_rate"] == 21
    [refund] = [i for i in status["intents"] if i["kind"] == "refund_user_lock"]
    assert package_rate(bitcoin_node, refund["txid"]) == 21, refund
    bitcoin_node.mine(1)
