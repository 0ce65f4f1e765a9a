"""``swap recover`` for direct swaps, through the CLI on two in-process fake chains (no ETM):
the user's swap database is deleted after its lock, or after its reveal; ``swap recover``
rebuilds the swap from the seed and the chains; ``watch`` ends it refunded (before the reveal
the chains do not say what the counterparty promised: refund only) or claimed (after it).

Attack: once the user's lock is on chain its hashlock is public. The counterparty (or anyone)
locks dust to the user's key with it and the user's database is lost: a recover that took that
lock for the counter leg would claim it, revealing the secret, and the counterparty would claim
the user's whole lock for dust. The rebuilt swap claims nothing and refunds the user's lock.
"""

from __future__ import annotations

import json
from pathlib import Path

from etm_bridge_cli.swap import group as swap
from etm_bridge_cli.watch import group as watch
from test_swap_cli import _ok, _start_args, parties  # noqa: F401 (a fixture)

from etm_bridge.observations import HtlcTerms, LockState
from etm_bridge.testing.fakechain import fake_pubkey

ATTACKER = b"attacker secret key material 32b"


def _lose_database(home: Path) -> None:
    for path in home.glob("swaps.db*"):
        path.unlink()


def _state(home: Path, swap_id: str) -> str:
    return json.loads(_ok(swap, ["status", swap_id, "--home", home, "--json"]))["state"]


def _tick(home: Path, chains, blocks: int = 1) -> None:
    _ok(watch, ["--ticks", "1", "--interval", "0", "--home", home, "--json"])
    for chain in chains:
        chain.mine(blocks)


def _started(parties) -> tuple[Path, Path, list, str, dict]:  # noqa: F811
    user_home, _, op_home, op_keys, chains = parties
    args = _start_args(user_home, op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex(), "--json")
    started = json.loads(_ok(swap, args))
    terms_file = user_home / "terms.json"
    terms_file.write_text(json.dumps(started))
    _ok(swap, ["accept", terms_file, "--home", op_home])
    return user_home, op_home, list(chains), started["swap_id"], started


def _until(home: Path, chains, swap_id: str, state: str) -> None:
    """Tick ``home``'s watcher alone until its record of ``swap_id`` is in ``state``."""
    for _ in range(10):
        if _state(home, swap_id) == state:
            return
        _tick(home, chains)
    assert _state(home, swap_id) == state


def _both_locked(user_home: Path, op_home: Path, chains, swap_id: str) -> None:
    """Our lock, then their counter lock: the user's watcher has not seen it (nor claimed)."""
    _until(user_home, chains, swap_id, "etm_locked")  # the direct table: "etm" = long leg
    _until(op_home, chains, swap_id, "counter_locked")


def _recover(home: Path) -> dict:
    return json.loads(_ok(swap, ["recover", "--gap", "3", "--home", home, "--json"]))


def test_lost_after_the_lock_the_swap_is_rebuilt_refund_only_and_refunded(parties) -> None:  # noqa: F811
    user_home, op_home, chains, swap_id, _ = _started(parties)
    _both_locked(user_home, op_home, chains, swap_id)
    _lose_database(user_home)
    found = _recover(user_home)
    [item] = found["found"]
    assert (item["swap_id"], item["outcome"]) == (swap_id, "rebuilt"), item
    assert found["next_index"] == 1
    assert "refund only" in item["detail"]
    [row] = json.loads(_ok(swap, ["list", "--home", user_home, "--json"]))
    assert row["gets"].startswith("nothing: refund only"), row
    for _ in range(40):
        if _state(user_home, swap_id) == "refunded":
            break
        _tick(user_home, chains, blocks=25)
    assert _state(user_home, swap_id) == "refunded"
    assert _recover(user_home)["found"][0]["outcome"] == "ended"  # refunded: nothing to do


def test_lost_after_the_reveal_the_swap_is_rebuilt_and_ends_claimed(parties) -> None:  # noqa: F811
    user_home, op_home, chains, swap_id, _ = _started(parties)
    _both_locked(user_home, op_home, chains, swap_id)
    _until(user_home, chains, swap_id, "secret_revealed")  # our claim; they have not claimed
    _lose_database(user_home)
    [item] = _recover(user_home)["found"]
    assert item["outcome"] == "rebuilt" and "the secret is out" in item["detail"], item
    for _ in range(20):
        if _state(user_home, swap_id) == "claimed_both":
            break
        _tick(op_home, chains)
        _tick(user_home, chains)
    assert _state(user_home, swap_id) == "claimed_both"


def test_a_dust_lock_to_our_key_does_not_make_recover_reveal_the_secret(parties) -> None:  # noqa: F811
    user_home, _, chains, swap_id, started = _started(parties)
    _tick(user_home, chains)  # our lock: its hashlock is now public
    eth = chains[1]
    hashlock = bytes.fromhex(started["terms"]["hashlock"])
    our_eth_key = bytes.fromhex(started["terms"]["counter_leg"]["claim_key"])
    eth.credit(fake_pubkey(ATTACKER), 10**6)
    eth.mine(1)
    terms = HtlcTerms(1_000, hashlock, our_eth_key, fake_pubkey(ATTACKER), eth.tip_height + 30)
    dust = eth.submit_lock(ATTACKER, terms)
    eth.mine(1)
    _lose_database(user_home)
    [item] = _recover(user_home)["found"]
    assert item["outcome"] == "rebuilt" and "refund only" in item["detail"]
    assert dust.lock_id in item["detail"]
    for _ in range(40):
        if _state(user_home, swap_id) == "refunded":
            break
        _tick(user_home, chains, blocks=25)
    status = json.loads(_ok(swap, ["status", swap_id, "--home", user_home, "--json"]))
    assert status["state"] == "refunded"
    assert [i["kind"] for i in status["intents"]] == ["refund_user_lock"]  # never a claim
    assert eth.locks[dust.lock_id].state is not LockState.CLAIMED  # the secret never left us


def test_a_decoy_refunded_to_our_key_on_another_chain_does_not_hide_our_lock(parties) -> None:  # noqa: F811
    """Attack: dust locked on the other chain with our hashlock, *refunded to our key*: two
    chains now hold "a lock of ours" and nothing says which one is the swap. Recover used to
    give up on such a hashlock (reported, not rebuilt): our real lock waited with no record to
    refund it. Now each gets a refund-only record; the watcher refunds both (the decoy's coins
    come to us) and claims nothing."""
    user_home, _, chains, swap_id, started = _started(parties)
    _tick(user_home, chains)  # our lock: its hashlock is now public
    eth = chains[1]
    hashlock = bytes.fromhex(started["terms"]["hashlock"])
    our_eth_key = bytes.fromhex(started["terms"]["counter_leg"]["claim_key"])
    eth.credit(fake_pubkey(ATTACKER), 10**6)
    eth.mine(1)
    # (above the fee: a dust decoy is refused by the chain at refund, its record stays expired)
    decoy = eth.submit_lock(ATTACKER, HtlcTerms(100_000, hashlock, fake_pubkey(ATTACKER),
                                                our_eth_key, eth.tip_height + 10))  # fmt: skip
    eth.mine(1)
    _lose_database(user_home)
    found = {f["swap_id"]: f for f in _recover(user_home)["found"]}
    assert set(found) == {swap_id, f"{swap_id}-fakeeth"}, found
    assert all(f["outcome"] == "rebuilt" and "refund only" in f["detail"] for f in found.values())
    for _ in range(40):
        states = {s: _state(user_home, s) for s in found}
        if set(states.values()) == {"refunded"}:
            break
        _tick(user_home, chains, blocks=25)
    assert set(states.values()) == {"refunded"}, states
    assert eth.locks[decoy.lock_id].state is LockState.REFUNDED  # to us
    for swap_id_ in found:
        status = json.loads(_ok(swap, ["status", swap_id_, "--home", user_home, "--json"]))
        assert {i["kind"] for i in status["intents"]} == {"refund_user_lock"}
