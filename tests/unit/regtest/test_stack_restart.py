"""The stack restarts whole: anvil saves its chain, and ``stack up`` names a node that lost it.

No process is started here: the anvil command line, the damaged-state refusal and the
consistency rules of ``stack up`` are checked on their own (the demo test runs them for real).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_regtest.anvil import STATE_INTERVAL_S, AnvilService
from etm_bridge_regtest.consistency import genesis_mismatches, hsd_mismatch, mismatches
from etm_bridge_regtest.stack import STACK_SERVICES, StackConfig

from etm_bridge.errors import StackError

RELAYS = {
    "bitcoin": {"tip": {"height": 250, "hash": "0f" * 32}},
    "ethereum": {"tip": {"number": 9, "hash": "0x" + "ab" * 32}},
}
POOL = {"htlc_address": "0x" + "11" * 20, "vault": "0x" + "22" * 20}


def test_the_stacks_anvil_loads_and_saves_its_chain_and_throwaway_ones_do_not(
    tmp_path: Path,
) -> None:
    config = StackConfig(tmp_path)
    anvil = STACK_SERVICES["anvil"](config, {})
    assert isinstance(anvil, AnvilService)
    state = f"--state={tmp_path / 'anvil' / 'state.json'}"
    assert state in anvil.command()
    assert f"--state-interval={STATE_INTERVAL_S}" in anvil.command()
    throwaway = AnvilService(tmp_path / "t", port=20000)
    assert not any(arg.startswith("--state") for arg in throwaway.command())


@pytest.mark.parametrize("text", ['{"block": {"number": "0x', "", "[1, 2"])
def test_a_damaged_saved_chain_is_refused_with_what_to_do(tmp_path: Path, text: str) -> None:
    anvil = AnvilService(tmp_path / "stack" / "anvil", port=20000, persist=True)
    anvil.home.mkdir(parents=True)
    anvil.state_path.write_text(text)
    with pytest.raises(StackError, match="is damaged") as info:
        anvil.prepare()
    message = str(info.value)
    assert "\n" not in message and str(anvil.state_path) in message
    assert f"rm -rf {tmp_path / 'stack'} && etm-bridge stack up" in message


def test_a_valid_saved_chain_is_accepted(tmp_path: Path) -> None:
    anvil = AnvilService(tmp_path / "anvil", port=20000, persist=True)
    anvil.home.mkdir()
    anvil.state_path.write_text('{"block": {}, "accounts": {}}')
    anvil.prepare()


def test_consistent_nodes_have_no_mismatch() -> None:
    assert mismatches(RELAYS, POOL, lambda h: True, lambda h: True, lambda a: True) == []
    assert mismatches({}, {}, lambda h: False, lambda h: False, lambda a: False) == []


def test_each_lost_chain_is_named() -> None:
    asked: list[str] = []

    def has(answer: bool):
        return lambda item: asked.append(item) or answer

    lost_btc = mismatches(RELAYS, POOL, has(False), has(True), has(True))
    assert lost_btc == [
        f"the Bitcoin node lacks block {'0f' * 32} (height 250), the tip of the ETM node's "
        "Bitcoin relay"
    ]
    assert asked[0] == "0f" * 32
    empty_anvil = mismatches(RELAYS, POOL, has(True), has(False), has(False))
    assert len(empty_anvil) == 3
    assert "anvil lacks block 0x" + "ab" * 32 + " (number 9)" in empty_anvil[0]
    assert f"no code at {POOL['htlc_address']}, the EtherSwapHTLC" in empty_anvil[1]
    assert f"no code at {POOL['vault']}, the PoolVault" in empty_anvil[2]
    # an older snapshot (killed before its last save): blocks missing, contracts there
    older = mismatches(RELAYS, POOL, has(True), has(False), has(True))
    assert len(older) == 1 and "anvil lacks block" in older[0]


def test_nodes_on_another_genesis_are_named() -> None:
    same = {"http://a": "g1", "http://b": "g1"}
    assert genesis_mismatches(same) == [] and genesis_mismatches({}) == []
    off = genesis_mismatches({**same, "http://c": "g2"})
    assert off == ["the ETM node at http://c follows genesis g2, the one at http://a g1"]


def test_hsd_that_lost_the_handshake_relay_s_tip_is_named() -> None:
    tip = {"height": 7, "hash": "ab" * 32}
    relays = {"handshake": {"tip": tip}}
    assert hsd_mismatch(relays, lambda h: True) == []
    [miss] = hsd_mismatch(relays, lambda h: h != "ab" * 32)
    assert miss.startswith(f"hsd lacks block {'ab' * 32} (height 7)")
    # no relay, or one still at its genesis block: nothing to check
    assert hsd_mismatch({}, lambda h: False) == []
    assert hsd_mismatch({"handshake": {"tip": {"height": 0, "hash": "00" * 32}}},
                        lambda h: False) == []  # fmt: skip
