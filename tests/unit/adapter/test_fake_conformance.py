"""The in-memory fake adapter passes the same conformance suite as the real adapters."""

from __future__ import annotations

import itertools

import pytest

from etm_bridge.adapter import Payment
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness
from etm_bridge.testing.fake import FakeAdapter, ScanningFakeAdapter
from etm_bridge.testing.fakechain import FakeChain

_chain_ids = itertools.count()
AMOUNT = 1_000_000


@pytest.fixture
def fake_harness() -> ConformanceHarness:
    name = f"conformance-{next(_chain_ids)}"
    chain = FakeChain.named(name)
    us = FakeAdapter.from_config({"chain": name, "secret_hex": "11" * 32})
    them = FakeAdapter.from_config({"chain": name, "secret_hex": "22" * 32})
    for adapter in (us, them):
        chain.credit(adapter.our_key(), 50 * AMOUNT)
        chain.credit(adapter.our_key(), 50 * AMOUNT, asset_id=b"TOKEN")
    chain.mine(1)
    config = us.config()
    yield ConformanceHarness(
        adapter=us,
        counterparty=them,
        mine=chain.mine,
        reopen=lambda: FakeAdapter.from_config(config),
        amount=AMOUNT,
        unknown_lock_id="00" * 32 + ":0",
        payment=lambda to: Payment(to.our_key(), 10_000),
        watch_config={"chain": name},
    )
    FakeChain.forget(name)


class TestFakeAdapterConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, fake_harness: ConformanceHarness) -> ConformanceHarness:
        return fake_harness


class TestFakeAdapterTokenConformance(AdapterConformance):
    """The same suite with a token (``asset_id``) lock instead of the native asset."""

    @pytest.fixture
    def harness(self, fake_harness: ConformanceHarness) -> ConformanceHarness:
        fake_harness.asset_id = b"TOKEN"
        return fake_harness


class TestScanningFakeAdapterConformance(AdapterConformance):
    """The fake with a block scanner (``htlc_activity``), as the real adapters have."""

    @pytest.fixture
    def harness(self, fake_harness: ConformanceHarness) -> ConformanceHarness:
        config = fake_harness.adapter.config()  # type: ignore[attr-defined]
        fake_harness.adapter = ScanningFakeAdapter.from_config(config)
        fake_harness.reopen = lambda: ScanningFakeAdapter.from_config(config)
        return fake_harness
