"""``header_feed.relay_missing_headers`` after a reorg of the header source, against a real ETM
node process: the fork point is found through ``/api/spv/btc/best/{h}`` and only the new branch
is sent; the relay's tip follows the branch with more work and keeps the old tip as a fork.

The source is a list of valid regtest headers (regtest's easy proof of work is mined here), so
the fork can be chosen exactly without touching the shared regtest node.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.adapter import Tip
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.bitcoin.spv.header_relay import Checkpoint
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.chains.registry import chain_registry
from etm_bridge.etm_client import header_feed

GENESIS = Checkpoint.genesis(params_for("regtest")).header


def child(parent: bytes, salt: int) -> bytes:
    """A valid regtest header on ``parent``; ``salt`` makes sibling branches differ."""
    time = struct.unpack_from("<I", parent, 68)[0] + 600
    root = salt.to_bytes(32, "little")
    for nonce in range(100_000):
        header = struct.pack("<I", 0x20000000) + dsha256(parent) + root
        header += struct.pack("<III", time, 0x207FFFFF, nonce)
        if int.from_bytes(dsha256(header), "little") <= 0x7FFFFF << (8 * 29):
            return header
    raise AssertionError("no nonce")


class Headers:
    """A header chain from the regtest genesis block (a HeaderSource)."""

    def __init__(self, chain: list[bytes]) -> None:
        self.chain = [GENESIS, *chain]

    def tip(self) -> Tip:
        return Tip(len(self.chain) - 1, dsha256(self.chain[-1])[::-1].hex())

    def headers(self, start_height: int, count: int) -> list[bytes]:
        return self.chain[start_height : start_height + count]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "node", delegates=3, block_time_s=1, funded_accounts=2) as proc:
        yield proc


def test_after_a_reorg_only_the_new_branch_is_relayed(node: EtmNodeProcess) -> None:
    client, key = node.client, dev_key("user-0")
    assert client is not None
    a1 = child(GENESIS, 1)
    a2, b2 = child(a1, 2), child(a1, 20)
    a3, b3 = child(a2, 3), child(b2, 30)
    b4 = child(b3, 40)

    assert (
        header_feed.relay_missing_headers(client, key, Headers([a1, a2, a3]), chain="btc", batch=2)
        == 3
    )
    assert client.spv_relay("btc")["tip"]["hash"] == dsha256(a3)[::-1].hex()
    assert header_feed.relay_missing_headers(client, key, Headers([a1, a2, a3]), chain="btc") == 0

    branch = Headers([a1, b2, b3, b4])
    assert header_feed.fork_point(client, chain_registry().find("btc"), branch) == 1
    assert header_feed.relay_missing_headers(client, key, branch, chain="btc") == 3
    relay = client.spv_relay("btc")
    assert relay["tip"]["height"] == 4 and relay["tip"]["hash"] == dsha256(b4)[::-1].hex()
    assert client.spv_best_hash("btc", 2) == dsha256(b2)[::-1].hex()
    assert [f["hash"] for f in relay["forks"]] == [dsha256(a3)[::-1].hex()]


class RacedHeaders(Headers):
    """A source whose first batch read lets another relayer send the same headers first:
    what 50 users relaying at once do to each other between reading the relay's tip and
    sending."""

    def __init__(self, chain: list[bytes], rival: Callable[[], object]) -> None:
        super().__init__(chain)
        self.rival: Callable[[], object] | None = rival

    def headers(self, start_height: int, count: int) -> list[bytes]:
        if count > 1 and self.rival is not None:
            rival, self.rival = self.rival, None
            rival()
        return super().headers(start_height, count)


def test_headers_another_relayer_sent_first_are_skipped_not_an_error(
    node: EtmNodeProcess,
) -> None:
    """Before: the relay's ``spv_duplicate`` refusal went up to the swap engine, whose proof
    step failed and retried with backoff (every BTC -> ETM swap of bench/swap_load.py)."""
    client = node.client
    assert client is not None
    a1 = child(GENESIS, 5)
    a2 = child(a1, 6)
    a3 = child(a2, 7)
    a4 = child(a3, 8)

    def rival() -> object:  # another key relays the first three while we hold our batch
        return header_feed.relay_missing_headers(
            client, dev_key("user-1"), Headers([a1, a2, a3]), chain="btc"
        )

    source = RacedHeaders([a1, a2, a3, a4], rival)
    assert header_feed.relay_missing_headers(client, dev_key("user-0"), source, chain="btc") == 1
    assert source.rival is None  # the race happened
    assert client.spv_relay("btc")["tip"]["hash"] == dsha256(a4)[::-1].hex()
