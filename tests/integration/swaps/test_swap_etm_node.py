"""An ETM -> BTC swap through the watcher with the ETM leg on a REAL ETM node: the user locks
ETM in a native ETM HTLC (exchange tx types, the node's genesis lists the plug-in), the operator
counter-locks BTC on the regtest node, the user claims the BTC (revealing the secret) and the
operator claims the ETM with it. Nothing is faked: every lock and claim is a transaction
accepted by the ETM node or the Bitcoin node."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_runs import run_until_done
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.adapters_registry import create_adapter
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.preimages import new_preimage
from etm_bridge.units import ETM

ETM_AMOUNT, BTC_SAT = 10 * ETM, 1_000_000
FUNDING_ETM = 100 * ETM  # what _fund_etm sends each party
#: The BTC counter lock lasts about 12 regtest blocks (one is mined per tick, and the operator
#: locks only once the user's ETM lock is final): margins to match (2 blocks left to reveal, at
#: least 3 blocks of lock), where the defaults ask for hours.
CONFIG = WatcherConfig(
    policy=PolicyConfig(
        leg_margin_s=3600, retry_after_s=0, reveal_margin_s=1200, min_counter_lock_s=1800
    )
)


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    plugins = ("etm_bridge.exchange.txtypes",)
    init = {"delegates": 3, "block_time_s": 1, "funded_accounts": 1, "tx_plugins": plugins}
    with etm_node_in(tmp_path / "etm", **init) as proc:
        yield proc


def _fund_etm(node: EtmNodeProcess, seeds: list[bytes]) -> None:
    client = node.client
    assert client is not None
    network = int(client.status()["networkId"])
    funder = dev_key("user-0")
    for nonce, seed in enumerate(seeds):
        to = address_hash(SigningKey(seed).public_key)
        payload = TransferPayload(to, FUNDING_ETM).encode()
        tx = Tx.create(
            funder, network=network, type_id=TRANSFER, nonce=nonce, fee=100_000, payload=payload
        )
        client.submit_tx(tx.encoded)


def _setup(etm_node, bitcoin_node, tmp_path):
    """Funded parties; returns (per-role chain specs, terms, preimage)."""
    seeds = {role: secrets.token_bytes(32) for role in Role}
    _fund_etm(etm_node, list(seeds.values()))
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    specs = {}
    for role in Role:
        btc_config = {
            "rpc_url": bitcoin_node.rpc_url,
            "rpc_user": bitcoin_node.rpc_user,
            "rpc_password": bitcoin_node.rpc_password,
            "secret_hex": secrets.token_hex(32),
            "data_dir": str(tmp_path / f"btc-{role.value}"),
            "birth_height": bitcoin_node.height(),
        }
        etm_config = {
            "url": etm_node.client.url,  # no data_dir: HTLC state comes from the node API
            "secret_hex": seeds[role].hex(),
        }
        specs[role] = {
            "bitcoin": {"adapter": "bitcoin", "config": btc_config},
            "etm": {"adapter": "etm", "config": etm_config},
        }
    user_ad, op_ad = (_adapters(specs[role]) for role in (Role.USER, Role.OPERATOR))
    try:
        bitcoin_node.fund(op_ad["bitcoin"].address(), 5 * BTC_SAT, confirm=False)
        bitcoin_node.mine(1)
        # wait for BOTH funding transfers: they may be forged in different blocks, and the
        # test measures the operator's ETM balance from here (a transfer landing later was
        # once counted as swap proceeds: +100 ETM)
        deadline = time.monotonic() + 30
        while [a["etm"].balance() for a in (user_ad, op_ad)] != [FUNDING_ETM] * 2:
            assert time.monotonic() < deadline, etm_node.log_tail()
            time.sleep(0.3)
        preimage = new_preimage()
        terms = SwapTerms(
            "etm1",
            SwapDirection.ETM_TO_FOREIGN,
            sha256(preimage),
            LegTerms(
                "etm",
                ETM_AMOUNT,
                op_ad["etm"].our_key(),
                user_ad["etm"].our_key(),
                user_ad["etm"].tip().height + 20_000,
            ),
            LegTerms(
                "bitcoin",
                BTC_SAT,
                user_ad["bitcoin"].our_key(),
                op_ad["bitcoin"].our_key(),
                bitcoin_node.height() + 12,  # the operator waits for ETM finality first
            ),
            int(time.time()),
            int(time.time()) + 3600,
            2,
        )
    finally:
        for a in (*user_ad.values(), *op_ad.values()):
            a.close()
    for role in Role:
        store = SwapStore(tmp_path / f"{role.value}.db")
        store.create(SwapRecord(terms, role, preimage=preimage if role is Role.USER else None))
        store.close()
    return specs, terms, preimage


def _adapters(spec):
    return {name: create_adapter(c["adapter"], c["config"]) for name, c in spec.items()}


def test_etm_to_btc_swap_with_a_real_etm_node(etm_node, bitcoin_node, tmp_path) -> None:
    specs, terms, preimage = _setup(etm_node, bitcoin_node, tmp_path)
    adapters = {role: _adapters(specs[role]) for role in Role}
    op_ad = adapters[Role.OPERATOR]
    watchers = {}
    for role in Role:
        store = SwapStore(tmp_path / f"{role.value}.db")
        watchers[role] = Watcher(store, adapters[role], owner=role.value, config=CONFIG)
        watchers[role].start()
    op_etm_before = op_ad["etm"].balance()
    try:
        assert op_etm_before == FUNDING_ETM  # funded, and nothing else moved it
        for _ in range(60):
            states = {role: w.store.get("etm1").state for role, w in watchers.items()}
            if set(states.values()) == {SwapState.CLAIMED_BOTH}:
                break
            for w in watchers.values():
                w.tick()
            bitcoin_node.mine(1)
            time.sleep(1.0)  # one ETM block
        assert set(states.values()) == {SwapState.CLAIMED_BOTH}, (states, etm_node.log_tail())
        deadline = time.monotonic() + 10
        while op_ad["etm"].balance() < op_etm_before + ETM_AMOUNT - 100_000:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert op_ad["etm"].balance() == op_etm_before + ETM_AMOUNT - 100_000  # minus claim fee
        [lock] = op_ad["etm"].find_locks(terms.hashlock)
        assert lock.state.value == "claimed"
        assert watchers[Role.OPERATOR].store.get("etm1").preimage == preimage
        # the block scanner sees this swap's lock and claim, and nothing for other hashlocks
        tip = op_ad["etm"].tip().height
        assert op_ad["etm"].htlc_activity(lock.block_height, tip) == {terms.hashlock}
        assert op_ad["etm"].htlc_activity(0, lock.block_height - 1) == set()
    finally:
        for role, w in watchers.items():
            w.stop()
            for a in adapters[role].values():
                a.close()


@pytest.mark.bitcoin_long
@pytest.mark.parametrize("point", ["state_saved", "intent_saved"])
def test_sigkill_after_every_save_with_the_etm_node(etm_node, bitcoin_node, tmp_path, point):
    """The watcher process is SIGKILLed after each save of kind ``point`` (once each) and
    restarted; the ETM -> BTC swap still ends claimed on both sides, each lock made once."""
    specs, terms, _ = _setup(etm_node, bitcoin_node, tmp_path)
    spec = {
        "swap_id": "etm1",
        "roles": {
            role.value: {"db": str(tmp_path / f"{role.value}.db"), "chains": specs[role]}
            for role in Role
        },
        "btc_url": bitcoin_node.rpc_url,
        "btc_user": bitcoin_node.rpc_user,
        "btc_password": bitcoin_node.rpc_password,
        "btc_mine_to": bitcoin_node.faucet_address(),
        "sleep_s": 1.0,
    }
    kills = run_until_done(spec, point, tmp_path, max_ticks=40)
    crashed = tmp_path / "crashed.txt"
    for role in Role:
        store = SwapStore(tmp_path / f"{role.value}.db")
        rec = store.get("etm1")
        store.close()
        assert rec.state is SwapState.CLAIMED_BOTH, (role, rec.state, crashed.read_text())
        assert all(i.result is not None for i in rec.intents)
    assert kills >= 4, crashed.read_text()
    op = _adapters(specs[Role.OPERATOR])
    try:
        assert [lk.state.value for lk in op["etm"].find_locks(terms.hashlock)] == ["claimed"]
        assert len(op["bitcoin"].find_locks(terms.hashlock)) == 1
    finally:
        for a in op.values():
            a.close()
