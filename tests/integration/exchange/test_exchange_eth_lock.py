"""An ETH HTLC lock on anvil, proven to the exchange through a real Ethereum header relay.

The user's lock (the committed EtherSwapHTLC, deployed here) is found by the Ethereum adapter,
its receipt proof built from the node, the headers relayed by a trusted relayer key, and
:class:`~etm_bridge.chains.ethereum.etm.verifier.EthVerifier` must return exactly the lock's terms;
the swap rules then accept it against an ETH pool and reserve the ETM output. A block the
relay never saw and an unrelayed tip are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from etm_bridge_ethereum import EthereumAdapter, deploy_contract

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.ethereum.etm.verifier import EthProof, EthVerifier
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay
from etm_bridge.chains.ethereum.spv.headers import ANVIL
from etm_bridge.errors import InclusionProofError
from etm_bridge.exchange import pool as pm
from etm_bridge.exchange import swap_rules as sr
from etm_bridge.exchange.binding import Binding
from etm_bridge.hashlock import hashlock_of
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.testing.preimages import new_preimage

DEPLOYER, USER, POOL = 3, 4, 2  # anvil dev accounts this test uses (others' areas use 5-9)
RELAYER = b"\x0b" * 32


@pytest.fixture
def setup(anvil_node: Any, tmp_path: Path) -> Any:
    htlc = deploy_contract(anvil_node.rpc_url, anvil_node.private_keys[DEPLOYER], tmp_path / "d")
    user = EthereumAdapter.from_config(
        {
            "rpc_url": anvil_node.rpc_url,
            "private_key": anvil_node.private_keys[USER],
            "htlc_address": htlc.address,
            "data_dir": str(tmp_path / "user"),
            "from_block": htlc.block_number,
            "receipt_timeout_s": 30,
        }
    )
    yield anvil_node, htlc, user
    user.close()


def test_eth_lock_proof_gives_the_lock_terms_and_passes_the_swap_rules(setup: Any) -> None:
    anvil, htlc, user = setup
    pool_key = bytes.fromhex(anvil.accounts[POOL][2:])
    start = user.tip().height
    relay = EthRelay.initialise(MemoryKeyValueStore(), ANVIL, user.headers(start, 1)[0], [RELAYER])
    preimage = new_preimage()
    terms = HtlcTerms(
        amount=10**16,
        hashlock=hashlock_of(preimage),
        claim_key=pool_key,
        refund_key=user.our_key(),
        timelock_height=start + 1 + sr.LONG_LEG_S // 12,
    )
    anvil.rpc.call("evm_increaseTime", 12)  # the relay wants strictly increasing timestamps
    lock = user.lock(terms)
    anvil.rpc.call("anvil_mine", hex(11), hex(12))  # 12 confirmations, 12 s apart
    tip = user.tip().height
    relay.submit_headers(user.headers(start + 1, tip - start), RELAYER)
    proof = EthProof.from_adapter_proof(user.inclusion_proof(lock.lock_id)).encode()
    assert EthProof.decode(proof) == EthProof.from_adapter_proof(user.inclusion_proof(lock.lock_id))

    verifier = EthVerifier(lambda view: relay, bytes.fromhex(htlc.address[2:]))
    params = pm.PoolParams("eth", "etm1operator", pool_key, min_confirmations=12)
    pool, _ = pm.add_liquidity(pm.Pool(params), 10**19, 10**13)
    got = verifier.verify_lock(None, pool, proof, None)  # type: ignore[arg-type]
    assert got.lock_id.hex() == lock.lock_id.removeprefix("0x")
    assert (got.amount, got.hashlock, got.claim_key, got.refund_key) == (
        10**16, terms.hashlock, pool_key, user.our_key(),
    )  # fmt: skip
    assert (got.timelock_height, got.confirmations, got.tip_height) == (
        terms.timelock_height, 12, tip,
    )  # fmt: skip
    # the depth the pool needs, and the timestamps that bound the lock's time left
    assert got.required_confirmations == 12 and got.lock_height == tip - 11
    assert got.tip_time_s == relay.tip().timestamp == got.lock_time_s + 11 * 12

    binding = Binding("etm1user", "eth", user.our_key(), 1, 1)
    request = sr.SwapInRequest("etm1user", 10**16, terms.hashlock, 1)
    reserved, accepted = sr.check_swap_in(
        got, request, pool, binding=binding, used_lock_ids=set(), etm_height=10, etm_block_s=10,
        etm_unix_s=got.tip_time_s,  # ETM's clock at the relay tip's time: a fresh relay
    )  # fmt: skip
    # a 12 h lock minus the confirmation time leaves under 6 h + margin: the leg is capped
    assert accepted.etm_leg_s == (terms.timelock_height - tip) * 12 - sr.MARGIN_S < sr.SHORT_LEG_S
    assert reserved.etm_reserved == accepted.quote.amount_out > 0

    ghost = EthProof(b"\x42" * 32, 0, EthProof.decode(proof).nodes).encode()
    with pytest.raises(InclusionProofError):
        verifier.verify_lock(None, pool, ghost, None)  # type: ignore[arg-type]
