"""A chain the core has never heard of, installed as two distributions living only in the test
tree (``toy_dists/``), runs on a real ETM node process with no edit to the core.

The module fixture lays out what ``pip install`` leaves behind for two packages built as
``adapters/README.md`` ("Add a chain") says: ``toy_chain`` (a profile through the entry-point
group ``etm_bridge.chains``, with its ETM relay as a tx plug-in) and ``etm_bridge_toy`` (an
adapter through ``etm_bridge.adapters``, over the in-memory fake chain). It puts them on
``sys.path`` and on the ``PYTHONPATH`` of the node process it starts, whose genesis starts the toy
relay at the fake chain's genesis header (``SpvSection({"toy": header})``). Then:

- ``etm-bridge chains list`` and ``adapters list`` show the toy chain from its distribution;
- the node has the toy relay (``/api/spv``), the generic header feed relays the fake chain's
  headers to it, and a reorganisation of the fake chain is followed by the fork point search;
- through the use cases of :mod:`etm_bridge.app` only: a toy pool created, the investor's and
  the user's toy keys bound, an LP deposit proven, and a pool swap toy -> ETM driven to
  ``claimed_both`` by the user's and the operator's watchers;
- the node refuses toy headers that do not link (the profile's relay rules, run generically);
- the token ``toy`` appears nowhere in ``etm_bridge/`` or ``cli/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from math import isqrt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.address import encode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.registry import reload_chain_registry
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client import header_feed
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.hashlock import sha256
from etm_bridge.testing.fakechain import FakeChain
from etm_bridge.units import ETM

DISTS = Path(__file__).parent / "toy_dists"
REPO = Path(__file__).resolve().parents[3]
PACKAGES = {"toy_chain": "toy-chain", "etm_bridge_toy": "etm-bridge-toy"}
ENTRY_POINTS = {
    "toy_chain": "[etm_bridge.chains]\ntoy = toy_chain:PROFILE\n",
    "etm_bridge_toy": "[etm_bridge.adapters]\ntoy = etm_bridge_toy:ToyAdapter\n",
}
CHAIN = "toy-throwaway"
DEPOSIT, SWAP_IN = 1_000_000, 100_000


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The two distributions installed on sys.path and PYTHONPATH for this module."""
    site = tmp_path_factory.mktemp("site-packages")
    for package, dist in PACKAGES.items():
        shutil.copytree(DISTS / package, site / package)
        dist_info = site / f"{package}-0.0.1.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n"
        )
        (dist_info / "entry_points.txt").write_text(ENTRY_POINTS[package])
    old_path = os.environ.get("PYTHONPATH")
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), old_path) if p)
    reload_chain_registry()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path
        for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
            del sys.modules[name]
        reload_chain_registry()


@pytest.fixture(scope="module")
def toy_chain(toy_site: Path) -> Iterator[object]:
    from etm_bridge_toy import toy_chain

    chain = toy_chain(CHAIN)
    yield chain
    FakeChain.forget(CHAIN)


@pytest.fixture(scope="module")
def etm_node(
    toy_site: Path, toy_chain: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EtmNodeProcess]:
    from etm_bridge.spv.genesis_section import SpvSection

    genesis_header = toy_chain.blocks[0].header  # type: ignore[attr-defined]
    spv = SpvSection({"toy": genesis_header})
    home = tmp_path_factory.mktemp("etm-toy")
    with etm_node_in(home, delegates=3, block_time_s=1, funded_accounts=1, spv=spv) as node:
        yield node


def test_the_cli_lists_the_toy_chain_and_adapter_from_their_distributions(toy_site: Path) -> None:
    chains = CliRunner().invoke(cli, ["chains", "list", "--json"])
    assert chains.exit_code == 0, chains.output
    [toy] = [row for row in json.loads(chains.output) if row["name"] == "toy"]
    assert toy["origin"] == "distribution toy-chain 0.0.1 (toy_chain:PROFILE)"
    assert (toy["ticker"], toy["relay"]) == ("toy", 190)
    adapters = CliRunner().invoke(cli, ["adapters", "list", "--json"])
    assert adapters.exit_code == 0, adapters.output
    [row] = [row for row in json.loads(adapters.output) if row["name"] == "toy"]
    assert (row["distribution"], row["ok"]) == ("etm-bridge-toy", True)


def _relay(node: EtmNodeProcess, source: object) -> int:
    assert node.client is not None
    return header_feed.relay_missing_headers(node.client, dev_key("user-0"), source, chain="toy")  # type: ignore[arg-type]


def test_the_node_relays_the_toy_chain_and_follows_a_reorg(
    etm_node: EtmNodeProcess, toy_chain: object
) -> None:
    from etm_bridge_toy import ToyAdapter
    from toy_chain import header_id

    client = etm_node.client
    assert client is not None
    assert client.spv_relay("toy")["tip"]["height"] == 0
    chain = toy_chain
    source = ToyAdapter(chain, b"s" * 32)  # type: ignore[arg-type]
    chain.mine(5)  # type: ignore[attr-defined]
    assert _relay(etm_node, source) == 5
    assert client.spv_relay("toy")["tip"]["height"] == 5
    assert client.spv_best_hash("toy", 5) == header_id(chain.blocks[5].header)  # type: ignore[attr-defined]

    # a 2-block reorganisation onto a longer branch: only the new branch is sent
    old = {h: header_id(chain.blocks[h].header) for h in (4, 5)}  # type: ignore[attr-defined]
    del chain.blocks[4:]  # type: ignore[attr-defined]
    chain.mine(3)  # type: ignore[attr-defined]
    assert _relay(etm_node, source) == 3
    assert client.spv_relay("toy")["tip"]["height"] == 6
    for height in (4, 5, 6):
        relayed = client.spv_best_hash("toy", height)
        assert relayed == header_id(chain.blocks[height].header)  # type: ignore[attr-defined]
        assert relayed not in old.values()
    assert _relay(etm_node, source) == 0


def test_the_node_refuses_toy_headers_that_do_not_link(
    etm_node: EtmNodeProcess, toy_chain: object
) -> None:
    """A batch from another toy chain (its genesis is not the relay's) and a batch whose
    headers do not link are refused by the toy relay's own rules, run by the generic node."""
    from etm_bridge_toy import toy_chain as make_chain
    from toy_chain import RELAY_HEADERS

    client = etm_node.client
    assert client is not None
    tip = client.spv_relay("toy")["tip"]["height"]
    other = make_chain("toy-elsewhere")
    try:
        other.mine(3)
        foreign = b"".join(b.header for b in other.blocks[1:])
        ours = [b.header for b in toy_chain.blocks[tip - 1 : tip + 1]]  # type: ignore[attr-defined]
        unlinked = ours[1] + ours[0]  # the tip's header, then its parent: no link
        for payload, reason in ((foreign, "spv_unknown_parent"), (unlinked, "spv_unlinked")):
            with pytest.raises(TxRejectedError) as exc:
                sign_and_submit(client, dev_key("user-0"), RELAY_HEADERS, payload, fee=10**6)
            assert exc.value.reason == reason, exc.value
    finally:
        FakeChain.forget("toy-elsewhere")
    assert client.spv_relay("toy")["tip"]["height"] == tip


def share_value(pool: dict[str, Any]) -> int:
    x, y = int(pool["effective_asset"]), int(pool["effective_etm"])
    return isqrt(x * y) * 1_000_000 // int(pool["total_shares"])


def test_a_toy_pool_takes_a_deposit_and_swaps_toy_for_etm(
    etm_node: EtmNodeProcess, toy_chain: object, tmp_path: Path
) -> None:
    from toy_world import ETM_FEE, LEG, ToyParty, ToyPoolSwaps, ToyWorld

    from etm_bridge.adapter import LockState, SpendKind
    from etm_bridge.app import binding, liquidity
    from etm_bridge.swaps.core.fsm import Role, SwapState

    assert etm_node.client is not None
    world = ToyWorld(etm_node.client.url, toy_chain)
    client = world.client
    operator, investor, user = (ToyParty.new(n, tmp_path) for n in ("operator", "investor", "user"))
    for party in (operator, investor, user):
        world.fund(party, 1_000 * ETM, 10 * DEPOSIT)
    op_ctx = world.context(operator)
    claim_key, _tx = liquidity.create_pool(
        op_ctx, "toy", fee_ppm=3_000, obligation_blocks=100, min_confirmations=1, fee=ETM_FEE
    )
    assert claim_key == operator.toy_key
    for party in (investor, user):
        binding.bind(world.home_context(party), "toy", fee=ETM_FEE)

    deposit = liquidity.lp_deposit(world.home_context(investor), "toy", DEPOSIT, etm_max=100 * ETM,
                                   fee=ETM_FEE, timeout_s=60)  # fmt: skip
    assert deposit.tx.status == "confirmed" and deposit.txid_key == "toy_txid"
    pool = client.pool("toy")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (DEPOSIT, 100 * ETM)
    [position] = deposit.positions
    assert int(position["shares"]) > 0

    swaps = ToyPoolSwaps(world, user, operator, tmp_path / "user.db", toy_chain.mine)  # type: ignore[arg-type, attr-defined]
    try:
        before = client.pool("toy")
        etm_before = int(client.account(encode_address(user.etm_address20))["balance"])
        terms = swaps.start_swap_in(SWAP_IN)
        swaps.run_until(terms.swap_id, {SwapState.CLAIMED_BOTH},
                        roles=(Role.USER, Role.OPERATOR), timeout_s=120)  # fmt: skip
        [lock] = swaps.op_ad[LEG].find_locks(terms.hashlock)
        assert lock.terms.claim_key == operator.toy_key and lock.state is LockState.CLAIMED
        spend = swaps.op_ad[LEG].find_spend(lock)
        assert spend is not None and spend.kind is SpendKind.CLAIM
        [etm_lock] = swaps.user_ad["etm"].find_locks(terms.hashlock)
        assert etm_lock.state is LockState.CLAIMED
        assert spend.preimage is not None and sha256(spend.preimage) == terms.hashlock
        etm_after = int(client.account(encode_address(user.etm_address20))["balance"])
        assert etm_lock.terms.amount >= terms.counter_leg.amount  # the pinned min_out
        # the user's ETM rose by the lock, less the fees of its two ETM transactions (proof, claim)
        assert 0 < etm_lock.terms.amount - (etm_after - etm_before) < 10 * ETM_FEE
        after = client.pool("toy")
        assert after["asset_reserve"] == DEPOSIT + SWAP_IN
        assert share_value(after) >= share_value(before)
    finally:
        print("\n".join(swaps.log))
        swaps.close()


def test_the_core_never_names_the_toy_chain() -> None:
    hits = []
    for folder in ("etm_bridge", "cli"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", line)
                if "toy" in (w.lower() for w in words):
                    hits.append(f"{path.relative_to(REPO)}:{number}")
    assert hits == []
