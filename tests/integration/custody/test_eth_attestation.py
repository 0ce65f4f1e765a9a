"""Issue 14 on real processes: one rogue committee member can no longer prove a fake ETH lock.

One ETM node process (4 genesis delegates, a custody genesis making them a 3-of-4 committee,
the Ethereum relay in committee mode, checkpointed at the session's anvil head) and real
anvil. The test holds member 3's delegate and agent keys: it builds a child of the attested tip
that passes every continuity rule, with the ``receiptsRoot`` of a trie holding a fake
EtherSwapHTLC ``Locked`` receipt (10 ETH to a claim address, a hashlock it knows), relays it
(111, accepted: stored) and attests it as member 3 (113, accepted); the receipt proof (112) is
refused ``spv_not_in_best_chain`` and the tip never names the forged block. Control: a real lock
made on anvil in the same test is refused while only two honest members' attesters have run,
and proven once the third has (m = 3). The paired legacy acceptance of the same forgery is the
unit test ``tests/unit/spv/test_eth_attested_forgery.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_ethereum import EthereumAdapter, deploy_contract
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_running

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chain.address import address_of
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chains.ethereum.attester import Attester, AttesterConfig, EthRpcHeaders
from etm_bridge.chains.ethereum.etm.relay_types import (
    ETH_ATTEST_HEADERS,
    ETH_RECEIPT_PROOF,
    ETH_RELAY_HEADERS,
    EthAttestation,
    EthReceiptProof,
)
from etm_bridge.chains.ethereum.etm.verifier import EthProof
from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv.rlp import build_receipt_proof, header_hash
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import registration as rg
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client.submit import Submitter
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

pytestmark = pytest.mark.integration

DEPLOYER, USER = 3, 4  # anvil accounts (the exchange ETH lock test uses them too, sequentially)
DOMAIN = bytes.fromhex("a1" * 32)
CHAINS = ("btc", "eth")
N = 4
ROGUE = 3
DELEGATES = [dev_key(f"delegate-{i}") for i in range(N)]  # node init's genesis delegates
AGENTS = [dev_key(f"custody-agent-{i}") for i in range(N)]
CLAIM = b"\xcc" * 20


def _member(i: int, network_id: int) -> dict[str, Any]:
    """Genesis custody member ``i`` with real proofs of possession (checked like tx 300)."""
    secrets = {t: bytes([0x40 + i, len(t)]) * 16 for t in CHAINS}
    keys = {t: chain_registry().by_ticker(t).binding.sign("probe", secrets[t])[0] for t in CHAINS}
    delegate, agent = DELEGATES[i].public_key, AGENTS[i]
    msg = rg.pop_message(network_id, DOMAIN, delegate, agent.public_key, keys)
    pops = {t: chain_registry().by_ticker(t).binding.sign(msg, secrets[t])[1] for t in CHAINS}
    return {
        "delegate": delegate.hex(), "agent": agent.public_key.hex(),
        "agent_pop": agent.sign(rg.agent_pop_digest(msg)).hex(), "bond": 50_000,
        "keys": {t: k.hex() for t, k in keys.items()},
        "pops": {t: s.hex() for t, s in pops.items()},
    }  # fmt: skip


def _custody_genesis(path: Path) -> None:
    """Turn ``node init``'s genesis into a custody chain with a committee-attested relay."""
    genesis = json.loads(path.read_text())
    params = genesis["params"]
    params["tx_plugins"] = ["etm_bridge.custody.txtypes", *params["tx_plugins"]]
    spv = genesis["plugins"]["spv"]
    spv["eth_attestation"], spv["eth_relayers"] = "committee", []
    genesis["plugins"]["custody"] = {
        "domain": DOMAIN.hex(), "chains": list(CHAINS), "min_bond": 1_000,
        "members": [_member(i, params["network_id"]) for i in range(N)],
    }  # fmt: skip
    for agent in AGENTS:  # the agents pay their relay and attestation fees
        genesis["balances"][address_of(agent.public_key)] = 10**12
    path.write_text(json.dumps(genesis))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, anvil_node: Any) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("eth-attestation")
    htlc = deploy_contract(anvil_node.rpc_url, anvil_node.private_keys[DEPLOYER], home / "d")
    data = home / "node"
    args = ["node", "init", "--data-dir", str(data), "--delegates", str(N), "--block-time", "1",
            "--funded", "2", "--port", "0", "--eth-rpc", anvil_node.rpc_url,
            "--eth-htlc", htlc.address, "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    _custody_genesis(data / "genesis.json")
    user = EthereumAdapter.from_config(
        {"rpc_url": anvil_node.rpc_url, "private_key": anvil_node.private_keys[USER],
         "htlc_address": htlc.address, "data_dir": str(home / "user"),
         "from_block": htlc.block_number, "receipt_timeout_s": 30}
    )  # fmt: skip
    with etm_node_running(data) as node:
        yield node, user
    user.close()


def _attester(node: EtmNodeProcess, anvil: Any, i: int) -> Attester:
    assert node.client is not None
    config = AttesterConfig(attest_depth=1, interval_s=2.0)
    return Attester(node.client, AGENTS[i], EthRpcHeaders(anvil.rpc_url), config,
                    member=DELEGATES[i].public_key)  # fmt: skip


def _be(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _forged_child(parent_rlp: bytes, htlc: bytes) -> tuple[bytes, tuple[bytes, ...]]:
    """A child of ``parent_rlp`` passing every continuity rule, whose receipts trie holds one
    fake ``Locked`` receipt: (header RLP, proof nodes of receipt 0)."""
    topics = [eth.LOCKED_EVENT.topic0, hashlock_of(b"\x07" * 32), b"\x5a" * 32, bytes(12) + CLAIM]
    data = (
        (10 * 10**18).to_bytes(32, "big") + bytes(44) + b"\xee" * 20 + (10**9).to_bytes(32, "big")
    )
    receipt = b"\x02" + rlp.encode([1, 21_000, bytes(256), [[htlc, topics, data]]])
    root, nodes = build_receipt_proof([receipt], 0)
    fields = list(rlp.decode(parent_rlp))
    number = int.from_bytes(fields[8], "big") + 1
    fields[0], fields[5] = header_hash(parent_rlp), root
    fields[8], fields[10] = _be(number), b""
    fields[11] = _be(int.from_bytes(fields[11], "big") + 1)
    return rlp.encode(fields), nodes


def _wait(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the attested tip did not reach the lock's block"
        time.sleep(0.2)


def _send(node: EtmNodeProcess, key: SigningKey, type_id: int, payload: bytes) -> None:
    assert node.client is not None
    Submitter(node.client, key).submit_raw(type_id, payload)


def test_one_rogue_relayer_cannot_prove_a_fake_lock(chain: Any, anvil_node: Any) -> None:
    node, user = chain
    client = node.client
    status = client.spv_relay("eth")
    assert status["mode"] == "committee" and status["trusted_relayers"] == []
    tip_number = status["tip"]["number"]
    parent = EthRpcHeaders(anvil_node.rpc_url).header(tip_number)

    # the rogue member relays and attests a forged child of the attested tip
    forged, nodes = _forged_child(parent, bytes.fromhex(user.htlc_address[2:]))
    forged_hash = header_hash(forged)
    _send(node, AGENTS[ROGUE], ETH_RELAY_HEADERS, rlp.encode([forged]))
    _send(
        node,
        AGENTS[ROGUE],
        ETH_ATTEST_HEADERS,
        EthAttestation(tip_number + 1, forged_hash).encode(),
    )
    status = client.spv_relay("eth")
    assert (
        status["attestations"][DELEGATES[ROGUE].public_key.hex()]["hash"]
        == "0x" + forged_hash.hex()
    )
    assert status["tip"]["number"] == tip_number
    fake = EthReceiptProof(forged_hash, 0, nodes).encode()
    with pytest.raises(TxRejectedError) as refused:
        _send(node, dev_key("user-0"), ETH_RECEIPT_PROOF, fake)
    assert refused.value.reason == "spv_not_in_best_chain"

    # control: a real lock on anvil, proven once m = 3 honest members attest it
    preimage = new_preimage()
    terms = HtlcTerms(
        amount=10**16, hashlock=hashlock_of(preimage), claim_key=CLAIM,
        refund_key=user.our_key(), timelock_height=user.tip().height + 10_000,
    )  # fmt: skip
    lock = user.lock(terms)
    proof = EthProof.from_adapter_proof(user.inclusion_proof(lock.lock_id))
    real = EthReceiptProof(proof.block_hash, proof.index, proof.nodes).encode()
    attesters = [_attester(node, anvil_node, i) for i in range(3)]
    for attester in attesters[:2]:
        assert attester.step().attested is not None
    with pytest.raises(TxRejectedError) as refused:
        _send(node, dev_key("user-0"), ETH_RECEIPT_PROOF, real)
    assert refused.value.reason == "spv_not_in_best_chain"
    loop = threading.Thread(target=attesters[2].run, daemon=True)  # the third runs its loop
    loop.start()
    try:
        _wait(lambda: client.spv_relay("eth")["tip"]["hash"] == "0x" + proof.block_hash.hex())
    finally:
        attesters[2].stop()
        loop.join(timeout=30)
    assert not loop.is_alive()
    _send(node, dev_key("user-0"), ETH_RECEIPT_PROOF, real)
    status = client.spv_relay("eth")
    assert status["tip"]["number"] >= user.tip().height - 1
    assert client.spv_best_hash("eth", tip_number + 1) != "0x" + forged_hash.hex()
    # the forgery is still refused after the honest tip moved past its height
    with pytest.raises(TxRejectedError, match="spv_not_in_best_chain"):
        _send(node, dev_key("user-0"), ETH_RECEIPT_PROOF, fake)
    # a stranger cannot attest at all
    with pytest.raises(TxRejectedError, match="not_committee_member"):
        _send(
            node,
            dev_key("user-1"),
            ETH_ATTEST_HEADERS,
            EthAttestation(tip_number, bytes.fromhex(status["tip"]["hash"][2:])).encode(),
        )
