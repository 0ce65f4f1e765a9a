"""Review a13d: one peer's false height claim must not stop a node (real node process).

A node that believes a peer is more than 2 blocks ahead is ``syncing``: it does not forge, drops
gossiped transactions and answers 503 for reads of state. The belief came from the peer's own
``hello``/``status`` (bounded only by the current slot), and a ``get_blocks`` the peer left
unanswered (20 s timeout) or answered with no block only lowered it until the next ``status``.
So one connection that claims the current slot and sends ``status`` again after each request
stopped a delegate's node from forging for as long as it liked, at no cost: on every delegate
node, the chain halts. Performed here against a real node forging every slot: before the fix
the node forged nothing while the attacker was connected; now a claim counts towards
``syncing`` only from a peer that has delivered a new valid block since its last failed request
(and during the startup grace), and a peer that answers a range it claimed with no block is
penalized (``bad_claim``) until banned."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from etm_bridge.chain.params import etm_time
from etm_bridge.errors import NodeUnavailableError
from etm_bridge.node.p2p.messages import (
    PROTOCOL_VERSION,
    Blocks,
    GetBlocks,
    Hello,
    Status,
    decode_frame,
    encode_frame,
)
from etm_bridge.node.setup import init_node

ATTACK_S = 8.0


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNodeProcess]:
    home: Path = tmp_path_factory.mktemp("claims") / "node"
    with etm_node_in(home, delegates=1, block_time_s=1, funded_accounts=1) as proc:
        yield proc


@pytest.mark.parametrize("answer", ["silent", "empty"])
def test_a_peer_claiming_blocks_it_does_not_have_cannot_stop_forging(
    node: EtmNodeProcess, answer: str
) -> None:
    client = node.client
    assert client is not None
    s = client.status()
    genesis = bytes.fromhex(s["genesisId"])

    def claim() -> int:  # the highest height the node accepts: the current slot + 1
        return (etm_time(time.time()) - s["genesisTime"]) // s["blockTimeS"] + 1

    url = client.url.replace("http://", "ws://") + "/p2p"
    ws = connect(url, max_size=None, compression=None, open_timeout=10)
    node_id = os.urandom(16)
    ws.send(encode_frame(Hello(network=s["networkId"], genesis=genesis, protocol=PROTOCOL_VERSION,
                               height=claim(), tip=os.urandom(32), finalized=0, port=0,
                               node_id=node_id)))  # fmt: skip
    assert isinstance(decode_frame(ws.recv(timeout=10)), Hello)
    start = int(client.status()["height"])
    requests, closed = 0, None
    deadline = time.monotonic() + ATTACK_S
    while time.monotonic() < deadline and closed is None:
        try:
            ws.send(encode_frame(Status(claim(), os.urandom(32), 0)))
            try:
                msg = decode_frame(ws.recv(timeout=0.1))
            except TimeoutError:
                continue
            if isinstance(msg, GetBlocks):
                requests += 1
                if answer == "empty":
                    ws.send(encode_frame(Blocks(msg.request_id, ())))
        except ConnectionClosed as exc:
            closed = exc.rcvd.code if exc.rcvd else 1006
    assert requests >= 1  # the node did ask the claimant for the blocks
    # 8 one-second slots go by during the attack; before the fix the node forged none of them
    with contextlib.suppress(NodeUnavailableError):
        client.wait_for_height(start + 4, timeout_s=max(0.0, deadline - time.monotonic()))
    forged = int(client.status()["height"]) - start
    ws.close()
    assert forged >= 4, f"{forged} blocks in {ATTACK_S} s while a peer lied about its height"
    if answer == "empty":
        assert closed == 4004  # every empty answer to a claimed range costs, up to a ban
        bans = client.peers()["banned"]
        assert any(node_id.hex() in b["peer"] and "bad_claim" in b["reason"] for b in bans)
    assert client.status()["syncing"] is False


def _outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (connections from it are not
    local, as another machine's are), or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: picks the outgoing interface
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def _refusal(ws: ClientConnection, within_s: float = 0.5) -> int | None:
    """The close code if the node closes the connection within ``within_s``, else None."""
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                ws.recv(timeout=max(0.05, deadline - time.monotonic()))
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else 1006
    return None


def test_one_address_cannot_take_every_inbound_slot(tmp_path: Path) -> None:
    """Review a13d: inbound slots (32) were counted per node, never per address, and only once
    the handshake was done: one machine opening 32 connections (each a hello with a fresh node
    id) took them all, so no other node could connect; on every node, the network could not
    (re)connect at all. Now one non-loopback address holds at most 4 inbound connections,
    handshaking ones included."""
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with etm_node_in(tmp_path / "node", delegates=1, block_time_s=1, funded_accounts=1,
                     host="0.0.0.0") as proc:  # fmt: skip
        assert proc.client is not None
        port = proc.port
        s = proc.client.status()

        def hello() -> bytes:
            genesis = bytes.fromhex(s["genesisId"])
            return encode_frame(Hello(network=s["networkId"], genesis=genesis,
                                      protocol=PROTOCOL_VERSION, height=0, tip=genesis,
                                      finalized=0, port=0, node_id=os.urandom(16)))  # fmt: skip

        held, refused = [], 0
        for _ in range(40):  # the attacker, from the machine's outside address
            ws = connect(
                f"ws://{outside}:{port}/p2p", compression=None, open_timeout=10, close_timeout=0.1
            )
            with contextlib.suppress(ConnectionClosed):  # refused before its hello
                ws.send(hello())
            code = _refusal(ws)
            if code is None:
                held.append(ws)
            else:
                assert code == 1013, code
                refused += 1
        honest = connect(f"ws://127.0.0.1:{port}/p2p", compression=None, open_timeout=10)
        with contextlib.suppress(ConnectionClosed):
            honest.send(hello())
        assert _refusal(honest, 1.0) is None  # before the fix: 1013, too many inbound peers
        try:
            peers = proc.client.peers()["peers"]
        finally:
            for ws in [*held, honest]:
                ws.close()
        assert len(held) <= 4 and refused >= 36, (len(held), refused)
        assert any(p["remoteHost"] == "127.0.0.1" for p in peers)


def test_strangers_filling_the_inbound_slots_cannot_keep_a_configured_peer_out(
    tmp_path: Path,
) -> None:
    """Review a13d: with every inbound slot (32) taken by strangers, a node refused its own
    configured peers too (1013 before any hello), so strangers spread over enough addresses
    could keep the delegates of a network apart. Now a peer that listens where a configured
    peer is (its address and the port its hello names) always gets a slot; a 33rd stranger is
    still refused. On loopback every local process shares the address, so here the test plays
    both; between machines the address is the peer's own."""
    with socket.socket() as s:  # a configured peer address where nothing listens yet
        s.bind(("127.0.0.1", 0))
        configured_port = s.getsockname()[1]
    init_node(tmp_path / "node", port=0, delegates=1, block_time_s=1, funded_accounts=1,
              tx_plugins=())  # fmt: skip
    proc = EtmNodeProcess(tmp_path / "node")
    proc.args = ["--peer", f"127.0.0.1:{configured_port}"]
    proc.start()
    held: list[ClientConnection] = []
    try:
        assert proc.client is not None
        s = proc.client.status()
        url = proc.client.url.replace("http://", "ws://") + "/p2p"

        def join(port: int) -> tuple[ClientConnection, int | None]:
            # these clients read nothing, so a close must not wait for the node's answer
            ws = connect(url, compression=None, open_timeout=10, close_timeout=0.1)
            genesis = bytes.fromhex(s["genesisId"])
            hello = Hello(network=s["networkId"], genesis=genesis, protocol=PROTOCOL_VERSION,
                          height=0, tip=genesis, finalized=0, port=port,
                          node_id=os.urandom(16))  # fmt: skip
            with contextlib.suppress(ConnectionClosed):
                ws.send(encode_frame(hello))
            return ws, _refusal(ws, 0.3)

        for _ in range(32):
            ws, code = join(0)
            assert code is None, code
            held.append(ws)
        stranger, code = join(0)
        stranger.close()
        assert code == 1013  # the slots are full for strangers
        configured, code = join(configured_port)
        held.append(configured)
        assert code is None, f"the configured peer was refused ({code})"  # before: 1013
        peers = proc.client.peers()["peers"]
        assert any(p["address"] == f"127.0.0.1:{configured_port}" for p in peers)
    finally:
        for ws in held:
            ws.close()
        print(proc.log_tail())
        proc.stop()
