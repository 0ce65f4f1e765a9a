"""Fees, inclusion proofs and node failures of the Handshake adapter (pure or no node)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_handshake.codec import Input, Output, Tx
from etm_bridge_handshake.fees import FeePolicy, doo_vb_from_estimate
from etm_bridge_handshake.proofs import (
    HEADER_LEN,
    SENTINEL,
    merkle_branch,
    merkle_root,
    node_hash,
    verify_handshake_merkle_proof,
)
from etm_bridge_handshake.sighash import WalletKey

from etm_bridge.adapter import InclusionProof
from etm_bridge.errors import ConfigError, NodeUnavailableError, ProofError, ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage


@pytest.mark.parametrize(
    ("reply", "rate"),
    [
        ({"fee": -1, "blocks": 2}, None),
        ({"fee": 0.02, "blocks": 2}, 20),  # HNS/kB -> doo/vB
        ({"fee": 0.0000001}, 1),  # rounded up, never 0
        ({"fee": True}, None),
        ({"fee": "nan"}, None),
        ([], None),
    ],
)
def test_estimate_parsing(reply: object, rate: int | None) -> None:
    assert doo_vb_from_estimate(reply) == rate


def test_fee_bounds_and_config_errors() -> None:
    policy = FeePolicy.from_config({"max_fee_doo_vb": 100})
    assert policy.choose(10**6).rate == 100 and policy.choose(10**6).bounded
    assert policy.choose(0).rate == 1 and policy.choose(None).source == "fallback"
    with pytest.raises(ConfigError, match="min_fee_doo_vb <= fallback"):
        FeePolicy.from_config({"fallback_fee_doo_vb": 5, "min_fee_doo_vb": 10})
    with pytest.raises(ConfigError, match="integer"):
        FeePolicy.from_config({"max_fee_doo_vb": "lots"})


def _txs(n: int) -> list[Tx]:
    return [
        Tx(
            (Input(hashlib.sha256(bytes([i])).digest(), i),),
            (Output(i + 1, WalletKey(bytes([7]) * 32).address),),
        )
        for i in range(n)
    ]


def _proof(txs: list[Tx], index: int) -> InclusionProof:
    txids = [t.txid for t in txs]
    header = bytes(164) + merkle_root(txids) + bytes(HEADER_LEN - 196)
    return InclusionProof(
        "handshake-merkle", 1, header, txs[index].encode_base(), merkle_branch(txids, index),
        index, len(txs),
    )  # fmt: skip


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9])
def test_every_leaf_of_trees_of_any_size_verifies(count: int) -> None:
    txs = _txs(count)
    for index in range(count):
        verify_handshake_merkle_proof(_proof(txs, index))


def test_odd_levels_pad_with_the_sentinel_not_a_duplicate() -> None:
    txids = [t.txid for t in _txs(3)]
    from etm_bridge_handshake.proofs import leaf_hash

    leaves = [leaf_hash(t) for t in txids]
    expected = node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], SENTINEL))
    assert merkle_root(txids) == expected and hashlib.blake2b(digest_size=32).digest() == SENTINEL


def test_forged_proofs_are_refused_rule_by_rule() -> None:
    txs = _txs(5)
    good = _proof(txs, 3)
    forged = {
        "index beyond the count": replace(good, index=3 + 8),
        "index of another leaf": replace(good, index=2),
        "a branch too short": replace(good, branch=good.branch[:-1]),
        "a branch too long": replace(good, branch=(*good.branch, bytes(32))),
        "a tampered sibling": replace(good, branch=(bytes(32), *good.branch[1:])),
        "a tampered leaf": replace(good, leaf=good.leaf[:-1] + b"\x01"),
        "a leaf that is not a tx": replace(good, leaf=b"\x00" * 10),
        "a header of another root": replace(good, header=bytes(HEADER_LEN)),
        "no tx count": replace(good, tx_count=None),
        "another kind": replace(good, kind="bitcoin-merkle-x"),
    }
    for name, proof in forged.items():
        with pytest.raises(ProofError):
            verify_handshake_merkle_proof(proof)
            pytest.fail(name)
    # a short header is refused before any verifier sees it: the profile's proof kind gives
    # the observation its exact header length, as for every chain's Merkle kind
    with pytest.raises(ValidationError, match=f"header must be {HEADER_LEN} bytes"):
        replace(good, header=good.header[:-1])


def _adapter(tmp_path, url: str = "http://127.0.0.1:1") -> HandshakeAdapter:
    return HandshakeAdapter.from_config(
        {"rpc_url": url, "rpc_password": "k", "secret_hex": "11" * 32, "data_dir": str(tmp_path)}
    )


def test_node_down_gives_one_clear_error(tmp_path) -> None:
    adapter = _adapter(tmp_path)
    with pytest.raises(NodeUnavailableError, match=r"127\.0\.0\.1:1"):
        adapter.tip()
    with pytest.raises(NodeUnavailableError, match=r"127\.0\.0\.1:1"):
        adapter.find_locks(hashlock_of(new_preimage()))
    tx = Tx((Input(bytes(32), 0),), (Output(1000, adapter.key.address),))
    with pytest.raises(NodeUnavailableError, match="is it running"):
        adapter.node.broadcast(tx)


def test_bad_config_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="secret_hex"):
        HandshakeAdapter.from_config({"rpc_url": "http://x", "data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="network"):
        HandshakeAdapter.from_config(
            {"rpc_url": "http://x", "secret_hex": "11" * 32, "data_dir": str(tmp_path),
             "network": "mainnet"}
        )  # fmt: skip
