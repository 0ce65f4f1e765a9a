"""`swap start btc etm 0.01`: asset tickers name the engine's chains, configured names win."""

from __future__ import annotations

import pytest
from etm_bridge_cli.swap import chain_name

STACK = ("bitcoin", "ethereum", "etm")


@pytest.mark.parametrize(
    ("typed", "chain"),
    [("btc", "bitcoin"), ("BTC", "bitcoin"), ("eth", "ethereum"), ("etm", "etm"),
     ("bitcoin", "bitcoin"), ("Ethereum", "ethereum")],
)  # fmt: skip
def test_tickers_and_chain_names_both_select_the_chain(typed: str, chain: str) -> None:
    assert chain_name(STACK, typed) == chain


def test_a_config_that_names_its_chains_btc_and_eth_keeps_those_names() -> None:
    assert chain_name(("btc", "eth"), "btc") == "btc"
    assert chain_name(("btc", "eth"), "ETH") == "eth"


def test_an_unknown_name_passes_through_for_the_engine_to_refuse() -> None:
    assert chain_name(STACK, "doge") == "doge"
