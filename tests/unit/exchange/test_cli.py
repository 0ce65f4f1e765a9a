"""``etm-bridge pool`` / ``lp`` on a real chain database written from an exchange state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.lp import group as lp_group
from etm_bridge_cli.main import cli
from etm_bridge_cli.pool import group as pool_group
from exchange_harness import Ledger
from test_txtypes import BTC_LIQ, ETM_LIQ, bind, btc_key, deposit

from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.node.config import CHAIN_DB
from etm_bridge.store import ChainStore


@pytest.fixture
def data_dir(tmp_path: Path) -> tuple[Path, Ledger]:
    led = Ledger()
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    deposit(led, "operator", b"dep-0", BTC_LIQ, ETM_LIQ)
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", 10**6))
    store = ChainStore.open(tmp_path / CHAIN_DB)
    with store.atomic():
        store._write_changes(led.state.changes())  # what commit_block writes for a block
    store.close()
    return tmp_path, led


def run(group: object, *args: str) -> str:
    result = CliRunner().invoke(group, [str(a) for a in args])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return result.output


def test_pool_list_show_and_quote(data_dir: tuple[Path, Ledger]) -> None:
    d, led = data_dir
    pools = json.loads(run(pool_group, "list", "--data-dir", d, "--json"))
    assert [p["asset"] for p in pools] == ["btc"]
    assert pools[0]["etm_reserve"] == led.pool().etm_reserve
    text = run(pool_group, "show", "btc", "--data-dir", d)
    assert "pool btc" in text and "fee 0.3 %" in text and " BTC" in text
    q = json.loads(run(pool_group, "quote", "btc", "0.001 BTC", "--data-dir", d, "--json"))
    assert q["amount_in"] == 100_000 and q["fee"] == 300 and q["amount_out"] > 0
    text = run(pool_group, "quote", "btc", "10", "--pay", "etm", "--data-dir", d)
    assert text.startswith("pay 10 ETM")


def test_lp_positions_and_obligations(data_dir: tuple[Path, Ledger]) -> None:
    d, led = data_dir
    rows = json.loads(
        run(lp_group, "positions", led.address("operator"), "--data-dir", d, "--json")
    )
    assert rows[0]["shares"] == led.shares("operator")
    assert "holds no pool shares" in run(lp_group, "positions", led.address("bob"), "--data-dir", d)
    text = run(lp_group, "obligations", "--data-dir", d)
    assert text.startswith("#0 ") and "pending" in text


def test_missing_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pool", "list", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "node init" in result.output
