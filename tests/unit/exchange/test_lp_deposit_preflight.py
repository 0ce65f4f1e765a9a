"""``lp deposit`` checks the ETM a deposit needs BEFORE the asset is paid.

The quote is the exchange's own ``lp_deposit_quote`` view over a real (in-memory) chain state
with a funded pool, the function the node serves at ``/api/exchange/pools/{asset}/deposit-quote``.
Too little ``--etm`` used to be refused by the chain (``deposit_etm_short``) only after the BTC
was paid; now it is refused up front, and an omitted ``--etm`` is the quote plus 1 %.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_txtypes import deposit, seeded_ledger

from etm_bridge.app.liquidity import DEFAULT_ETM_SLIPPAGE_PPM, _check_options, deposit_etm_max
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ValidationError
from etm_bridge.exchange import views


def _quoting(led: Any) -> Any:
    return lambda asset, amount: views.lp_deposit_quote(led.state, asset, amount)


def test_too_little_etm_is_refused_before_paying_and_the_quote_is_enough() -> None:
    led = seeded_ledger()
    pool, amount = views.show_pool(led.state, "btc"), 3_333_333
    needed = views.lp_deposit_quote(led.state, "btc", amount)["etm_needed"]
    with pytest.raises(ValidationError, match="deposit_etm_short"):
        deposit_etm_max(pool, amount, needed - 1, _quoting(led))
    assert deposit_etm_max(pool, amount, needed, _quoting(led)) == needed
    deposit(led, "alice", b"dep-alice", amount, needed)  # the chain accepts exactly the quote
    assert led.shares("alice") > 0


def test_omitted_etm_is_the_quote_plus_the_documented_slippage() -> None:
    led = seeded_ledger()
    pool, amount = views.show_pool(led.state, "btc"), 10**6
    needed = views.lp_deposit_quote(led.state, "btc", amount)["etm_needed"]
    etm_max = deposit_etm_max(pool, amount, None, _quoting(led))
    assert etm_max == needed + -(-needed * DEFAULT_ETM_SLIPPAGE_PPM // 1_000_000) > needed
    before = led.balance("alice")
    deposit(led, "alice", b"dep-alice", amount, etm_max)
    assert before - led.balance("alice") == needed  # the headroom stays in the wallet


def test_the_first_deposit_needs_an_explicit_etm() -> None:
    led = seeded_ledger()
    empty = {**views.show_pool(led.state, "btc"), "total_shares": 0}
    with pytest.raises(ValidationError, match="first deposit needs --etm"):
        deposit_etm_max(empty, 10**6, None, _quoting(led))
    assert deposit_etm_max(empty, 10**6, 5, _quoting(led)) == 5


def test_a_missing_vault_is_named_not_got_none() -> None:
    """Issue 15: the error read "an eth deposit needs --vault 0x<40 hex> (got None)"."""
    eth = chain_registry().find("eth")
    assert eth is not None
    with pytest.raises(ValidationError) as refused:
        _check_options(eth, "eth", None, None)
    assert "--vault" in str(refused.value) and "None" not in str(refused.value)
