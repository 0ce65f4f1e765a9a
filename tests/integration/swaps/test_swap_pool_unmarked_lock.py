"""A pool swap in whose Bitcoin lock the operator's engine cannot see (review a11a), on real
nodes: an ETM node process (``node init`` chain), the session's Bitcoin regtest node (bcoin, or
bitcoind with ``BITCOIND``), the operator's engine (``PoolSwaps``: its real watcher and
``PoolFollower``).

A P2WSH output hides its script: the Bitcoin adapter finds locks through the marker output
(``OP_RETURN "ETM\\x01" || claim || refund || timelock``) that its own lock transactions carry,
and only through the *first* marker of a transaction. The exchange's SPV check of a swap in read
only the P2WSH output and the witness script handed in with the proof. So an attacker:

1. pays the HTLC (claim: the pool's key, refund: its own bound key, timelock 72 blocks) from
   its own coins with *no* marker, or with a decoy marker first;
2. proves it to ETM (``xchg_swap_in``): pool ETM is locked to the attacker;
3. claims the ETM at once with its preimage;
4. refunds the BTC at its timelock: the operator's engine, which found the swap in ETM state
   and pinned its lock, never saw that lock, so it never claimed it. The pool paid ETM for
   nothing.

Now the exchange accepts a lock only if its transaction carries exactly one marker, and that
marker names the lock's keys and timelock (``exchange.btc_proofs``, ``lock_marker``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_bitcoin.deposits import wait_proof
from etm_bridge_regtest.demo.engines import PoolSwaps
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from test_swap_pool_real_nodes import _setup

from etm_bridge.chains.bitcoin.etm.verifier import BtcProof, htlc_witness_script, lock_marker, p2wsh
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client import header_feed
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.pool_terms import PoolInfo
from etm_bridge.testing.preimages import new_preimage

SWAP_SAT = 100_000


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def test_a_lock_the_operator_cannot_see_opens_no_pool_swap(etm_node, bitcoin_node, tmp_path):
    world, operator, user = _setup(etm_node, bitcoin_node, tmp_path)
    client = world.client
    swaps = PoolSwaps(world, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    try:
        btc = swaps.user_ad["bitcoin"]
        pool_key = PoolInfo.from_api(client.pool("btc")).claim_key
        pool_before = client.pool("btc")
        cases = {
            "no marker": lambda lock, t: [(lock, SWAP_SAT)],
            "a decoy marker first": lambda lock, t: [
                (lock, SWAP_SAT),
                (lock_marker(pool_key, user.btc_pubkey, t + 1), 0),
                (lock_marker(pool_key, user.btc_pubkey, t), 0),
            ],
        }
        for case, outputs in cases.items():
            hashlock = sha256(new_preimage())
            timelock = btc.tip().height + 72
            script = htlc_witness_script(hashlock, pool_key, user.btc_pubkey, timelock)
            height = int(btc.rpc.call("getblockcount"))
            txid = btc.pay(outputs(p2wsh(script), timelock))
            bitcoin_node.mine(2)
            found = wait_proof(btc, txid, height + 1, 2, timeout_s=60)
            proof = BtcProof(found.tx_proof, 0, script)
            header_feed.relay_missing_headers(client, user.etm_key, btc, chain="btc")
            assert btc.find_locks(hashlock) == []  # the adapter (any engine's) cannot see it
            swap_in = pl.SwapIn("btc", user.etm_address, SWAP_SAT, hashlock, 1, proof.encode())
            with pytest.raises(TxRejectedError) as exc:
                world.send(user, xt.SWAP_IN, swap_in)
            assert exc.value.reason == "unmarked_lock", (case, exc.value)
            assert client.htlcs(hashlock) == []
        assert client.pool("btc") == pool_before
        swaps.tick()  # the operator's engine has nothing to follow, and nothing it cannot
        assert swaps.op_store.list_swaps() == [] and swaps.unfollowed == []
    finally:
        print("\n".join(swaps.log))
        swaps.close()
