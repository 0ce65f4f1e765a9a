"""Every swap verb's ``--json`` output is scriptable (issue 15): amounts are strings of base units
plus a display string, never bare integers (wei exceed 2**53, which JSON readers built on
doubles round), and every key is snake_case. A walker goes through each output of a whole swap
made with the CLI alone on two in-process fake chains (start, accept, quote, status, list,
explain, cancel, watch) and refuses any integer amount field."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from etm_bridge_cli.swap import group as swap
from etm_bridge_cli.watch import group as watch
from test_swap_cli import _ok, _run, _start_args, parties  # noqa: F401 (a fixture)

from etm_bridge.errors import ValidationError

#: keys that hold an amount of some asset; ``*_ppm`` / ``*_rate`` / ``*_s`` ... are not amounts
AMOUNT_KEY = re.compile(r"amount|fee|balance|reserve|received|paid|min_out|base_units|value")
NOT_AMOUNT = re.compile(r"(_ppm|_bps|_rate|_unit|_source|_s|_height|_blocks|confirmations)$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
JS_SAFE = 2**53 - 1


def bad_fields(data: Any, path: str = "$") -> list[str]:
    """Every place in ``data`` a script could misread: an int amount, an int beyond 2**53, a
    ``base_units`` that is not a digit string beside a ``display``, a key not snake_case."""
    found: list[str] = []
    if isinstance(data, dict):
        if "base_units" in data:
            units = data["base_units"]
            if not (
                isinstance(units, str) and units.isdigit() and isinstance(data.get("display"), str)
            ):
                found.append(f"{path}: base_units {units!r} / display {data.get('display')!r}")
        for key, value in data.items():
            where = f"{path}.{key}"
            if not SNAKE.match(str(key)):
                found.append(f"{where}: key not snake_case")
            amountish = AMOUNT_KEY.search(str(key)) and not NOT_AMOUNT.search(str(key))
            if amountish and isinstance(value, int) and not isinstance(value, bool):
                found.append(f"{where}: amount as a bare integer {value}")
            found += bad_fields(value, where)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += bad_fields(value, f"{path}[{i}]")
    elif isinstance(data, int) and not isinstance(data, bool) and abs(data) > JS_SAFE:
        found.append(f"{path}: integer {data} beyond 2**53")
    return found


def test_the_walker_refuses_what_it_must() -> None:
    assert bad_fields({"amount": 5}) == ["$.amount: amount as a bare integer 5"]
    assert bad_fields({"legs": [{"network_fee": 3}]})
    assert bad_fields({"x": 10**18})
    assert bad_fields({"amountOut": "1"})
    assert bad_fields({"a": {"base_units": 5, "display": "5"}})
    assert (
        bad_fields(
            {
                "fee_rate": 2,
                "price_impact_ppm": 5,
                "amount": {"base_units": "5", "display": "5 BTC"},
            }
        )
        == []
    )


def _walk(text: str) -> Any:
    data = json.loads(text)
    assert bad_fields(data) == [], bad_fields(data)
    return data


def test_every_json_output_of_a_direct_swap_has_string_amounts(parties, tmp_path) -> None:  # noqa: F811
    user_home, _, op_home, op_keys, chains = parties
    keys = (op_keys["fakebtc"].hex(), op_keys["fakeeth"].hex())
    started = _walk(_ok(swap, _start_args(user_home, *keys, "--json")))
    leg = started["terms"]["user_leg"]["amount"]
    assert leg == {"base_units": "100000", "display": "100000 base units"}
    assert started["preflight"]["amount_out"]["base_units"] == "5000000"
    terms_file = tmp_path / "terms.json"
    terms_file.write_text(json.dumps(started))
    _walk(_ok(swap, ["accept", terms_file, "--home", op_home, "--json"]))
    swap_id = started["swap_id"]
    for _ in range(30):
        for home in (user_home, op_home):
            _walk(_ok(watch, ["--ticks", "1", "--interval", "0", "--home", home, "--json"]))
        for chain in chains:
            chain.mine(1)
        status = _walk(_ok(swap, ["status", swap_id, "--home", user_home, "--json"]))
        if status["state"] == "claimed_both":
            break
    assert status["state"] == "claimed_both"
    assert status["terms"]["counter_leg"]["amount"]["base_units"] == "5000000"
    _walk(_ok(swap, ["status", swap_id, "--home", op_home, "--json"]))
    _walk(_ok(swap, ["list", "--home", user_home, "--json"]))
    for extra in ((), ("--offline",)):
        explained = _walk(_ok(swap, ["explain", swap_id, "--home", user_home, "--json", *extra]))
        assert explained["legs"][0]["amount"]["base_units"] == "100000"
    text = _ok(swap, ["explain", swap_id, "--home", user_home, "--offline"])
    assert "100000 base units on fakebtc" in text
    other = _walk(_ok(swap, _start_args(user_home, *keys, "--json")))
    _walk(_ok(swap, ["cancel", other["swap_id"], "--home", user_home, "--json"]))


def test_terms_printed_before_amounts_were_strings_are_still_accepted(parties, tmp_path) -> None:  # noqa: F811
    """A counterparty may hold terms from an older ``swap start``: integer amounts."""
    user_home, _, op_home, op_keys, _ = parties
    started = json.loads(_ok(swap, _start_args(user_home, op_keys["fakebtc"].hex(),
                                               op_keys["fakeeth"].hex(), "--json")))  # fmt: skip
    for name in ("user_leg", "counter_leg"):
        leg = started["terms"][name]
        leg["amount"] = int(leg["amount"]["base_units"])
    terms_file = tmp_path / "old-terms.json"
    terms_file.write_text(json.dumps(started))
    _ok(swap, ["accept", terms_file, "--home", op_home])


@pytest.mark.parametrize("amount", ["-5", "1e3", {"base_units": 5.5}, None, "٣"])
def test_a_malformed_amount_in_terms_is_one_clear_error(parties, tmp_path, amount) -> None:  # noqa: F811
    user_home, _, op_home, op_keys, _ = parties
    started = json.loads(_ok(swap, _start_args(user_home, op_keys["fakebtc"].hex(),
                                               op_keys["fakeeth"].hex(), "--json")))  # fmt: skip
    started["terms"]["user_leg"]["amount"] = amount
    terms_file = tmp_path / "bad-terms.json"
    terms_file.write_text(json.dumps(started))
    result = _run(swap, ["accept", terms_file, "--home", op_home])
    assert result.exit_code != 0 and "user_leg: amount must be" in str(result.exception)


def test_a_direct_swap_is_quoted_without_the_passphrase(parties, monkeypatch) -> None:  # noqa: F811
    """``swap quote ... --receive`` prices a direct swap (no pool: no price impact) from the
    chains alone: no passphrase source is set and no prompt is answered, yet it quotes."""
    user_home, *_ = parties
    monkeypatch.delenv("ETM_BRIDGE_PASSPHRASE")
    args = ["quote", "fakebtc", "fakeeth", "100000", "--receive", "5000000", "--home", user_home]
    quoted = _walk(_ok(swap, [*args, "--json"]))
    assert quoted["price_impact_ppm"] is None and quoted["pool_fee"]["base_units"] == "0"
    assert quoted["amount_out"]["base_units"] == "5000000"
    assert [leg["chain"] for leg in quoted["legs"]] == ["fakebtc", "fakeeth"]
    assert quoted["expected_s"] > 0
    text = _ok(swap, args)
    assert "pay 100000 base units on fakebtc -> receive 5000000 base units on fakeeth" in text
    assert "expected time" in text
    no_pool = _run(swap, ["quote", "fakebtc", "fakeeth", "100000", "--home", user_home])
    assert isinstance(no_pool.exception, ValidationError)  # exit code 2 through the root
    assert "--receive AMOUNT" in str(no_pool.exception)
    assert json.loads(_ok(swap, ["list", "--home", user_home, "--json"])) == []


def test_the_quote_only_wallet_is_not_the_users() -> None:
    """What ``swap quote`` opens adapters with: a public seed's keys, never the user's."""
    from etm_bridge.wallet.derive import QUOTE_ONLY_SEED, quote_only_wallet

    wallet = quote_only_wallet()
    assert wallet.unsafe_export_master_seed() == QUOTE_ONLY_SEED
    assert wallet.public().etm.address == quote_only_wallet().public().etm.address
