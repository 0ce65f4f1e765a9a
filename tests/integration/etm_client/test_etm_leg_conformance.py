"""The shared adapter conformance suite on the ETM leg (``EtmAdapter``) against a REAL ETM node
process (issue 12, design §5): the ETM HTLC leg passes the same sections as every foreign chain
adapter, one per capability it declares (``htlc_activity``, ``watch_only_balance``,
``claims_by_anyone``), and skips the others.

The node forges only when told (``POST /api/admin/forging {"enabled": true, "blocks": n}``,
``NodeClient.forge``), so ``mine(n)`` is exact, as on a regtest chain: a test that refunds one
block early does not race a forger that runs by itself every second.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.keys import dev_key
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness
from etm_bridge.units import ETM


@pytest.fixture(scope="module")
def etm_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNodeProcess]:
    home: Path = tmp_path_factory.mktemp("etm-leg")
    with etm_node_in(home, delegates=3, block_time_s=1, funded_accounts=3) as node:
        assert node.client is not None
        node.client.set_forging(False)  # from here on, blocks come only from mine(n)
        yield node


def _adapter(node: EtmNodeProcess, name: str) -> EtmAdapter:
    assert node.url is not None
    return EtmAdapter.from_config({"url": node.url, "secret_hex": dev_key(name).seed.hex()})


class TestEtmLegConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, etm_chain: EtmNodeProcess) -> ConformanceHarness:
        client = etm_chain.client
        assert client is not None and etm_chain.url is not None
        return ConformanceHarness(
            adapter=_adapter(etm_chain, "user-1"),
            counterparty=_adapter(etm_chain, "user-2"),
            mine=lambda n: client.forge(n) and None,
            reopen=lambda: _adapter(etm_chain, "user-1"),
            amount=10 * ETM,
            unknown_lock_id="00" * 32,
            timelock_blocks=6,
            watch_config={"url": etm_chain.url},
        )
