"""A Handshake node that goes away mid-swap: one clear error, no state lost.

Uses its own throwaway hsd (not the session's), so stopping it disturbs no other test.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_regtest.throwaway import hsd_node_in
from hns_support import adapter_config

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import NodeUnavailableError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage


def test_node_down_mid_swap_is_one_clear_error_and_the_index_survives(tmp_path: Path) -> None:
    with hsd_node_in(tmp_path / "hsd") as node:
        config = adapter_config(node, tmp_path / "us", secrets.token_hex(32), 0)
        us = HandshakeAdapter.from_config(config)
        node.fund(us.address(), 5_000_000)
        preimage = new_preimage()
        terms = HtlcTerms(1_000_000, hashlock_of(preimage), us.our_key(), us.our_key(),
                          us.tip().height + 5)  # fmt: skip
        lock = us.lock(terms)
        node.mine(1)
        lock = us.get_lock(lock.lock_id)
        saved = us.index_path.read_bytes()
    # the node is stopped now
    for action in (us.tip, lambda: us.get_lock(lock.lock_id), lambda: us.claim(lock, preimage),
                   lambda: us.refund(lock, unsafe_skip_checks=True), us.balance):  # fmt: skip
        with pytest.raises(NodeUnavailableError, match=r"127\.0\.0\.1"):
            action()
    assert us.index_path.read_bytes() == saved
    us.close()
