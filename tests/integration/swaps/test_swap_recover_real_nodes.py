"""``swap recover``: a pool swap BTC -> ETM whose swap database is deleted is rebuilt from the
wallet's seed and the chains alone, and ``watch`` then finishes it (``claimed_both``): once
deleted after the user's Bitcoin lock (before its proof), once after the reveal (the user
claimed the pool's ETM); and a swap out ETM -> BTC deleted after the user's ETM lock. A swap
started on a lost database (before ``recover``) skips the secrets ETM has already seen. Real ETM
node and regtest node, the CLI only on the user's side.

The setup is ``test_swap_pool_cli``'s (a wallet made by ``wallet new``, the pool through the
library); its helpers are reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from test_swap_pool_cli import _drive, _home, _party, _run, _state

from etm_bridge.hashlock import sha256
from etm_bridge.units import ETM
from etm_bridge.wallet import load_keystore
from etm_bridge.wallet.derive import swap_secret

PW = "correct horse battery staple"
# the module's pool is small (the point is recovery, not price): accept its price impact
SMALL_POOL = ("--max-slippage", "100")

pytestmark = [pytest.mark.integration, pytest.mark.bitcoin]


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _until(user: dict, operator: dict, swap: dict, btc: Any, states: set[str]) -> str:
    """Drive both engines a tick at a time until the user's record is in one of ``states``."""
    for _ in range(60):
        state = _state(user, swap)
        if state in states:
            return state
        _run(user, "watch", "--ticks", "1", "--interval", "0")
        _run(operator, "watch", "--operator", "--ticks", "1", "--interval", "0")
        btc.mine(1)
    raise AssertionError(_state(user, swap))


def _lose_the_database(env: dict[str, str]) -> None:
    home = Path(env["ETM_BRIDGE_HOME"])
    lost = list(home.glob("swaps.db*"))
    assert lost, sorted(p.name for p in home.iterdir())
    for path in lost:
        path.unlink()
    assert json.loads(_run(env, "swap", "list", "--json").stdout) == []


def _recover(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(_run(env, "swap", "recover", "--gap", "5", "--json").stdout)


def test_a_lost_database_is_rebuilt_from_the_seed_and_the_swaps_end(
    etm_node, bitcoin_node, tmp_path
) -> None:
    assert etm_node.client is not None
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    birth = bitcoin_node.height()
    user, operator = (_home(tmp_path, n, etm_node, bitcoin_node, birth) for n in ("u", "op"))
    rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
    world = World(rpc, etm_node.client.url, birth)
    op, me = _party(operator, "operator"), _party(user, "user")
    investor = Party.new("investor", tmp_path)
    for party in (op, me, investor):
        world.fund_etm(party, 1_000 * ETM)
        adapter = world.btc_adapter(party)
        bitcoin_node.fund(adapter.address(), 5_000_000)
        adapter.close()
    world.create_pool(op, "btc", 3_000, 1)
    for party in (me, investor):
        world.bind_btc(party)
    world.deposit_btc(investor, 1_000_000, 100 * ETM, bitcoin_node.mine)
    seed = load_keystore(Path(user["ETM_BRIDGE_KEYSTORE"])).unlock(PW).master_seed

    # 1. lost after the user's lock, before its proof
    first = json.loads(
        _run(user, "swap", "start", "bitcoin", "etm", "0.001", *SMALL_POOL, "--json").stdout
    )
    assert first["terms"]["hashlock"] == sha256(swap_secret(seed, 0)).hex()  # index 0
    _until(user, operator, first, bitcoin_node, {"user_locked", "lock_confirmed"})
    _lose_the_database(user)
    found = _recover(user)
    assert [(f["index"], f["swap_id"], f["outcome"]) for f in found["found"]] == [
        (0, first["swap_id"], "rebuilt")
    ]
    assert found["next_index"] == 1
    assert _state(user, first) == "created"
    _drive(user, operator, first, bitcoin_node)  # claimed_both on both sides
    seen = world.btc_adapter(me)
    assert len(seen.find_locks(bytes.fromhex(first["terms"]["hashlock"]))) == 1  # no new lock
    seen.close()

    # 2. lost after the reveal (the user claimed the pool's ETM)
    second = json.loads(
        _run(user, "swap", "start", "bitcoin", "etm", "0.001", *SMALL_POOL, "--json").stdout
    )
    assert second["terms"]["hashlock"] == sha256(swap_secret(seed, 1)).hex()  # never index 0
    _until(user, operator, second, bitcoin_node, {"secret_revealed", "claimed_both"})
    _lose_the_database(user)
    found = _recover(user)
    assert [(f["index"], f["outcome"]) for f in found["found"]] == [(0, "rebuilt"), (1, "rebuilt")]
    assert found["next_index"] == 2
    _drive(user, operator, second, bitcoin_node)
    assert _state(user, first) == "claimed_both"  # the ended one, rebuilt, reads as ended
    again = _recover(user)  # a second run changes nothing
    assert {f["outcome"] for f in again["found"]} == {"in_database"}

    # 3. the database is lost again and a swap is started before `swap recover`: the fresh
    # database would hand out index 0, whose secret is public on ETM (a counterparty could
    # claim a new lock with it at once); indexes ETM has seen are skipped
    _lose_the_database(user)
    out = json.loads(
        _run(user, "swap", "start", "etm", "bitcoin", "5", *SMALL_POOL, "--json").stdout
    )
    assert out["terms"]["hashlock"] == sha256(swap_secret(seed, 2)).hex()
    # ... and this swap out (ETM -> BTC) is lost after the user's ETM lock
    _until(user, operator, out, bitcoin_node, {"etm_locked", "counter_locked"})
    _lose_the_database(user)
    found = _recover(user)
    assert [(f["index"], f["direction"], f["outcome"]) for f in found["found"]][2] == (
        2,
        "etm_to_foreign",
        "rebuilt",
    )
    assert found["next_index"] == 3
    _drive(user, operator, out, bitcoin_node)

    # 4. (review x6b) lost after a swap in's bonded intent, before its lock: recover found
    # nothing (no HTLC, no lock) and the bond went to the LPs at expiry; now it cancels the
    # intent (bond back less the charge for the blocks held), and locks nothing
    fourth = json.loads(
        _run(user, "swap", "start", "bitcoin", "etm", "0.001", *SMALL_POOL, "--json").stdout
    )
    hashlock = bytes.fromhex(fourth["terms"]["hashlock"])
    held = etm_node.client.swap_intent(me.etm_address, hashlock)
    assert held is not None and held["bond"] > 0
    reserved = int(etm_node.client.pool("btc")["etm_reserved"])
    _lose_the_database(user)
    found = _recover(user)
    assert [(f["index"], f["outcome"]) for f in found["found"]][3:] == [(3, "intent_cancelled")]
    assert found["next_index"] == 4
    assert etm_node.client.swap_intent(me.etm_address, hashlock) is None
    assert int(etm_node.client.pool("btc")["etm_reserved"]) == reserved - int(held["amount_out"])
    assert _recover(user)["found"][3:] == []  # nothing left at that index; nothing locked
    seen = world.btc_adapter(me)
    assert seen.find_locks(hashlock) == []
    seen.close()
