"""``swap recover`` for direct swaps on real nodes (issue 15): Bitcoin regtest is the user's leg,
anvil the counterparty's, no ETM. Two direct swaps from one wallet; the user's swap database is
deleted with swap 0 after both locks (before the reveal) and swap 1 after the user's claim (the
reveal); ``swap recover`` rebuilds both from the seed and the chains; ``watch`` ends swap 1
``claimed_both`` and refunds swap 0 (before the reveal the chains do not say what the
counterparty promised, so the rebuilt swap claims nothing: refund only).

Attack (docs/security.md 15e): before the first loss an attacker locks dust ETH to the user's
key with swap 0's (public) hashlock; the recovered swap never claims it (the secret stays ours)
and swap 0 is refunded.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from cli_parties import cli, two_parties
from eth_account import Account
from etm_bridge_ethereum import EthereumAdapter

from etm_bridge.observations import HtlcTerms, LockState

BLOCKS = 3  # Bitcoin blocks mined per round: timelocks of hours pass in a few rounds


def _state(home: Path, swap_id: str) -> str:
    return json.loads(cli("swap", "status", swap_id, "--home", home, "--json"))["state"]


def _until(home: Path, swap_id: str, state: str, bitcoin_node, anvil_node) -> None:
    """Tick ``home``'s watcher alone (mining a block each) until ``swap_id`` is in ``state``."""
    for _ in range(15):
        if _state(home, swap_id) == state:
            return
        cli("watch", "--ticks", "1", "--interval", "0", "--home", home)
        bitcoin_node.mine(1)
        anvil_node.rpc.call("anvil_mine", "0x1")
    assert _state(home, swap_id) == state


def test_direct_swaps_lost_before_and_after_the_reveal_end_refunded_and_claimed(
    bitcoin_node, anvil_node, tmp_path
) -> None:
    parties = two_parties(
        bitcoin_node, anvil_node, tmp_path, user_sat=5_000_000, user_wei=10**19, op_wei=10**19
    )
    user_home, user, op_home, htlc = parties.user_home, parties.user, parties.op_home, parties.htlc

    def start() -> str:
        started = json.loads(cli(*parties.start_args(), "--json"))
        (tmp_path / "terms.json").write_text(json.dumps(started))
        cli("swap", "accept", tmp_path / "terms.json", "--home", op_home)
        return str(started["swap_id"])

    def lose_and_recover() -> dict[str, tuple[str, str]]:
        for path in user_home.glob("swaps.db*"):
            path.unlink()
        found = json.loads(cli("swap", "recover", "--gap", "3", "--home", user_home, "--json"))
        return {f["swap_id"]: (f["outcome"], f["detail"]) for f in found["found"]}

    # 1. lost after the lock: our BTC lock and their ETH lock, not yet seen by our watcher
    before = start()
    _until(user_home, before, "etm_locked", bitcoin_node, anvil_node)
    _until(op_home, before, "counter_locked", bitcoin_node, anvil_node)
    # the attack: our BTC lock made the hashlock public; the counterparty (or anyone) locks
    # dust ETH to our key with it, then our database is lost
    hashlock = bytes.fromhex(json.loads(cli(
        "swap", "status", before, "--home", user_home, "--json"))["terms"]["hashlock"])  # fmt: skip
    attacker_key = "0x" + secrets.token_hex(32)
    anvil_node.rpc.call("anvil_setBalance", Account.from_key(attacker_key).address, hex(10**19))
    attacker = EthereumAdapter.from_config({
        "rpc_url": anvil_node.rpc_url, "private_key": attacker_key, "htlc_address": htlc.address,
        "data_dir": str(tmp_path / "attacker"), "from_block": htlc.block_number,
        "receipt_timeout_s": 30,
    })  # fmt: skip
    our_eth = bytes.fromhex(user.eth.address.removeprefix("0x"))
    dust = attacker.lock(HtlcTerms(10**9, hashlock, our_eth, attacker.our_key(),
                                   attacker.tip().height + 400))  # fmt: skip
    anvil_node.rpc.call("anvil_mine", "0x1")
    first = lose_and_recover()
    assert first == {before: ("rebuilt", first[before][1])} and "refund only" in first[before][1]
    assert dust.lock_id in first[before][1]  # seen, reported, not followed
    # 2. lost after the reveal: a second swap (the next index), our claim of their ETH sent
    after = start()
    _until(user_home, after, "etm_locked", bitcoin_node, anvil_node)
    _until(op_home, after, "counter_locked", bitcoin_node, anvil_node)
    _until(user_home, after, "secret_revealed", bitcoin_node, anvil_node)
    assert _state(user_home, before) not in ("secret_revealed", "claimed_both")  # refund only
    second = lose_and_recover()
    assert {s: o for s, (o, _) in second.items()} == {before: "rebuilt", after: "rebuilt"}
    assert "the secret is out" in second[after][1] and "refund only" in second[before][1]
    swaps = [before, after]
    for _ in range(40):
        states = {s: _state(user_home, s) for s in swaps}
        if states == {after: "claimed_both", before: "refunded"}:
            break
        for home in (op_home, user_home):
            cli("watch", "--ticks", "1", "--interval", "0", "--home", home)
        bitcoin_node.mine(BLOCKS)
        anvil_node.rpc.call("anvil_mine", hex(30))
    assert states == {after: "claimed_both", before: "refunded"}, states
    # the dust lock was never claimed: the secret of swap 0 never left us
    assert attacker.get_lock(dust.lock_id).state is LockState.OPEN
    status = json.loads(cli("swap", "status", before, "--home", user_home, "--json"))
    assert {i["kind"] for i in status["intents"]} == {"refund_user_lock"}
    attacker.close()
