"""The pool swap from the command line alone: ``swap start btc etm 0.001`` with no counterparty,
then ``watch`` on the user's side and ``watch --operator`` on the operator's, on a real ETM node
and the regtest node, until ``swap list --json`` says ``claimed_both`` for both; then the same
for ``swap start etm bitcoin 5``. A direct swap missing one counterparty key is one clear line.
Before the first swap (issue 15): ``swap quote`` shows the price impact, fees, refund cost and
expected time; ``swap start`` refuses an impact above ``--max-slippage`` (1 %) recording nothing;
``pool quote`` refuses an amount beyond the pool's reserve. Quotes that hold (issue 15): the
first swap's intent reserves its output against a bond; a second swap priced on the same state
is refused before it locks BTC (by ``swap start`` and, in a race, by the chain at intent time),
one at the new price is recorded and ``swap cancel`` releases its intent; the first swap is
paid exactly its reserved quote. After the swaps the investor
withdraws ``50%`` then ``all`` with ``lp withdraw``, which prints the ETM received and the
obligation created with its deadline.

The pool itself (creation, bindings, the investor's SPV-proven deposit) is set up with the
wallets' own keys through the library (``etm_bridge_regtest.demo.parties``), as the CLI's ``pool
create`` / ``bind`` / ``lp deposit`` tests already cover those verbs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import sha256
from etm_bridge.units import ETM
from etm_bridge.wallet import load_keystore
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

PW = "correct horse battery staple"


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _home(tmp: Path, name: str, node: EtmNodeProcess, btc: Any, birth: int) -> dict[str, str]:
    """A wallet made by `wallet new` and a swap engine home whose config.toml names it."""
    home = tmp / name
    home.mkdir()
    env = {
        "ETM_BRIDGE_HOME": str(home),
        "ETM_BRIDGE_KEYSTORE": str(home / "keystore.json"),
        "ETM_BRIDGE_PASSPHRASE": PW,
        "PW": PW,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(home / "no-stack"),
        "XDG_CONFIG_HOME": str(home / "xdg"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
    }
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    assert node.client is not None
    (home / "config.toml").write_text(
        f'[chains.bitcoin]\nrpc_url = "{btc.rpc_url}"\nrpc_user = "{btc.rpc_user}"\n'
        f'rpc_password = "{btc.rpc_password}"\ndata_dir = "{home / "bitcoin"}"\n'
        f'network = "regtest"\nbirth_height = {birth}\n\n'
        f'[chains.etm]\nurl = "{node.client.url}"\n\n'  # the node API only, no data_dir
        "[policy]\nretry_after_s = 2\nuser_proof_delay_blocks = 0\n"
    )
    return env


def _party(env: dict[str, str], name: str) -> Party:
    """The wallet's own keys, to set the pool up through the library."""
    wallet = load_keystore(Path(env["ETM_BRIDGE_KEYSTORE"])).unlock(PW)
    seed, secret = wallet.unsafe_export_etm_seed(), wallet.unsafe_export_chain_secret("btc")
    return Party(name, seed, secret, Path(env["ETM_BRIDGE_HOME"]) / "lib")


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def _state(env: dict[str, str], swap: dict[str, Any]) -> str | None:
    """The state of ``swap`` (``swap start --json``) in ``env``'s database: the user's record by
    its id, the operator's (keyed by the ETM HTLC id) by the swap's hashlock."""
    rows = json.loads(_run(env, "swap", "list", "--json").stdout)
    hashlock = swap["terms"]["hashlock"]
    return next((r["state"] for r in rows if swap["swap_id"] == r["swap_id"]
                 or r["hashlock"] == hashlock), None)  # fmt: skip


def _drive(user: dict, operator: dict, swap: dict[str, Any], btc: Any, ticks: int = 60) -> None:
    for _ in range(ticks):
        if _state(user, swap) == _state(operator, swap) == "claimed_both":
            return
        _run(user, "watch", "--ticks", "1", "--interval", "0")
        out = _run(operator, "watch", "--operator", "--ticks", "1", "--interval", "0").output
        assert "CANNOT FOLLOW" not in out, out
        btc.mine(1)
    raise AssertionError((_state(user, swap), _state(operator, swap)))


def _second_swap_is_refused_before_locking(
    lp: dict[str, str], investor: Party, world: World, seen: dict[str, Any], reserved: int
) -> None:
    """Two concurrent swaps in, both priced on the same pool state (issue 15): the second,
    pinned to that price, is refused before it locks any BTC, by ``swap start`` and, in the
    race where both quoted before either intent landed, by the chain at intent time; a second
    swap at the new price is recorded, and ``swap cancel`` releases its intent and bond."""
    quoted = int(seen["amount_out"]["base_units"])
    pinned = quoted * 995 // 1000
    receive = str(Decimal(pinned) / ETM)
    refused = CliRunner().invoke(cli, ["swap", "start", "bitcoin", "etm", "0.001", "--receive",
                                       receive, "--max-slippage", "20"], env=lp)  # fmt: skip
    assert refused.exit_code != 0 and "lower --receive" in refused.output, refused.output
    assert json.loads(_run(lp, "swap", "list", "--json").stdout) == []  # nothing locked
    race = pl.SwapIntentPayload("btc", sha256(b"race"), 100_000, pinned)
    with pytest.raises(TxRejectedError) as exc:
        world.send(investor, xt.SWAP_INTENT, race)
    assert exc.value.reason == "slippage", exc.value
    second = json.loads(_run(lp, "swap", "start", "bitcoin", "etm", "0.001",
                             "--max-slippage", "20", "--json").stdout)  # fmt: skip
    assert int(second["quote"]["amount_out"]["base_units"]) < quoted  # the first one's is held
    client = world.client
    h2 = bytes.fromhex(second["terms"]["hashlock"])
    assert client.swap_intent(investor.etm_address, h2) is not None
    out = _run(lp, "swap", "cancel", second["swap_id"]).output
    assert "cancelled" in out, out
    assert client.swap_intent(investor.etm_address, h2) is None
    assert client.pool("btc")["etm_reserved"] == reserved  # only the first swap's


def test_pool_swaps_from_the_cli_alone(etm_node, bitcoin_node, tmp_path) -> None:
    assert etm_node.client is not None
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    birth = bitcoin_node.height()
    user, operator, lp = (_home(tmp_path, n, etm_node, bitcoin_node, birth)
                          for n in ("u", "op", "lp"))  # fmt: skip
    rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
    world = World(rpc, etm_node.client.url, birth)
    op, me = _party(operator, "operator"), _party(user, "user")
    investor = _party(lp, "investor")
    for party in (op, me, investor):
        world.fund_etm(party, 1_000 * ETM)
        adapter = world.btc_adapter(party)
        bitcoin_node.fund(adapter.address(), 5_000_000)
        adapter.close()
    world.create_pool(op, "btc", 3_000, 1)
    for party in (me, investor):
        world.bind_btc(party)
    world.deposit_btc(investor, 1_000_000, 100 * ETM, bitcoin_node.mine)

    refused = CliRunner().invoke(
        cli, ["swap", "start", "bitcoin", "etm", "0.001", "--their-claim-key", "02" * 33],
        env=user,
    )  # fmt: skip
    assert refused.exit_code != 0 and "leave all three out" in refused.output

    # issue 15: what it costs first; the pool is small (0.01 BTC): 0.001 BTC moves it ~9 %
    # quoting reads the chains only: no passphrase (None removes the variable)
    no_passphrase: Any = {**user, "ETM_BRIDGE_PASSPHRASE": None}
    quoted = json.loads(
        _run(no_passphrase, "swap", "quote", "btc", "etm", "0.001", "--json").stdout
    )
    assert 80_000 < quoted["price_impact_ppm"] < 100_000
    assert int(quoted["amount_out"]["base_units"]) > 0  # JSON amounts: strings of base units
    assert [leg["chain"] for leg in quoted["legs"]] == ["bitcoin", "etm"]
    assert int(quoted["legs"][0]["refund_fee"]["base_units"]) > 0 and quoted["expected_s"] > 0
    text = _run(user, "swap", "quote", "btc", "etm", "0.001").output
    assert "price impact 9." in text and "a refund would cost about" in text, text
    assert "expected time: about" in text and "warning: price impact" in text, text
    refused = CliRunner().invoke(cli, ["swap", "start", "btc", "etm", "0.001"], env=user)
    assert refused.exit_code != 0 and "--max-slippage 10" in refused.output, refused.output
    beyond = CliRunner().invoke(cli, ["pool", "quote", "btc", "0.05"], env=user)
    assert beyond.exit_code != 0 and "more than the btc pool holds" in beyond.output
    assert "swap at most about 0.0001" in beyond.output, beyond.output
    assert "price impact" in _run(user, "pool", "quote", "btc", "0.001").output
    dust = CliRunner().invoke(cli, ["swap", "quote", "btc", "etm", "0.00000001"], env=user)
    assert "the btc pool cannot quote 0.00000001 BTC: zero_output" in dust.output, dust.output
    assert "transaction rejected" not in dust.output and "ExchangeError" not in dust.output
    assert json.loads(_run(user, "swap", "list", "--json").stdout) == []  # nothing recorded

    # issue 15, quotes that hold: the investor (a second user) prices the same swap now
    seen = json.loads(_run(lp, "swap", "quote", "btc", "etm", "0.001", "--json").stdout)
    assert int(seen["intent_bond"]["base_units"]) > 0 and "bond " in text, text
    started = json.loads(_run(user, "swap", "start", "bitcoin", "etm", "0.001",
                              "--max-slippage", "10", "--json").stdout)  # fmt: skip
    assert started["preflight"]["price_impact_ppm"] < 100_000
    assert started["pool"] is True
    minimum = int(started["terms"]["counter_leg"]["amount"]["base_units"])
    quoted = int(started["quote"]["amount_out"]["base_units"])
    assert minimum < quoted  # 50 bps
    hashlock = bytes.fromhex(started["terms"]["hashlock"])
    held = etm_node.client.swap_intent(me.etm_address, hashlock)  # reserved before any lock
    assert held is not None and held["amount_out"] == quoted
    assert held["bond"] == int(started["preflight"]["intent_bond"]["base_units"]) > 0
    assert etm_node.client.pool("btc")["etm_reserved"] == held["amount_out"]
    _second_swap_is_refused_before_locking(lp, investor, world, seen, held["amount_out"])
    _drive(user, operator, started, bitcoin_node)
    [htlc] = etm_node.client.htlcs(hashlock)
    assert htlc["amount"] == held["amount_out"]  # the quote held though the pool moved
    assert etm_node.client.swap_intent(me.etm_address, hashlock) is None  # bond back, once

    out = json.loads(_run(user, "swap", "start", "etm", "bitcoin", "5", "--max-slippage", "6",
                          "--json").stdout)  # fmt: skip
    _drive(user, operator, out, bitcoin_node)
    pool = etm_node.client.pool("btc")
    assert pool["fees_asset"] > 0 and pool["fees_etm"] > 0
    assert (pool["asset_reserved"], pool["etm_reserved"]) == (0, 0)

    # issue 15: the investor withdraws half, then all, by the CLI alone (no pool flags)
    half = _run(lp, "lp", "withdraw", "btc", "50%").output
    assert "received " in half and " ETM (fee " in half, half
    assert "obligation #" in half and "due by ETM height" in half, half
    rest = json.loads(_run(lp, "lp", "withdraw", "btc", "all", "--json").stdout)
    assert int(rest["etm_received"]["base_units"]) > 0 and len(rest["obligations"]) == 1
    assert json.loads(_run(lp, "lp", "positions", "--json").stdout) == []
    refused = CliRunner().invoke(cli, ["lp", "withdraw", "btc", "all"], env=lp)
    assert refused.exit_code != 0 and "holds no btc pool shares" in refused.output

    # review a11a: a direct swap the operator would claim with its pool's claim key is
    # refused (the same BTC lock could be proven to the pool too: paid out twice)
    direct = _run(
        user, "swap", "start", "bitcoin", "etm", "0.001", "--receive", "1",
        "--their-claim-key", op.btc_pubkey.hex(), "--their-refund-key", op.etm_address20.hex(),
        "--json",
    ).stdout  # fmt: skip
    terms_file = tmp_path / "direct.json"
    terms_file.write_text(direct)
    refused = CliRunner().invoke(cli, ["swap", "accept", str(terms_file)], env=operator)
    assert refused.exit_code != 0 and "claim key of the ETM btc pool" in refused.output
