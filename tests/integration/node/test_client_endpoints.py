"""The client on several ETM endpoints (``etm_client.endpoints.NodeSet``) against a real network
of 4 delegate nodes, one module-wide network (1-second blocks), node 0 an attacker: it runs
with ``--unsafe-censor tx-types=transfer,htlc_claim`` (accepts such transactions, never relays
nor includes them).

Each attack is performed on real processes, in file order:

* a transaction accepted by the censoring node only (the user's connections to the others are
  cut while it is sent) is not gossiped, is re-sent to every endpoint after 3 produced blocks
  and lands; sent to a set of the censoring node alone, it is reported as CensorshipSuspected
  after 10 produced blocks, never as included;
* a node cut off from its peers (a 1|3 partition) is flagged (minority fork or behind) and no
  read goes to it although it is listed first;
* an endpoint that lies about its chain (a fake finalized block; a fake tip on the real
  history) is flagged and never read from;
* a killed node: reads and writes go on through the others;
* endpoints that accept connections and never answer: marked down, the others serve;
* every endpoint down: one error naming every URL; every endpoint refusing a transaction: that
  refusal.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.etm_network import EtmNetwork, PeerProxy, wait_for

from etm_bridge.chain.address import address_hash, address_of
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import NodeUnavailableError, NotFoundError, TxRejectedError
from etm_bridge.etm_client.crosscheck import CrossCheckPolicy, Verdict
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.submit import Submitter
from etm_bridge.node.client import NodeClient

CENSOR = "tx-types=transfer,htlc_claim"
FAST = CrossCheckPolicy(refresh_s=0.0)  # every read re-assesses: the tests see each change


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNetwork]:
    net = EtmNetwork(tmp_path_factory.mktemp("etm-endpoints"), 4, 4, block_time_s=1,
                     funded_accounts=6)  # fmt: skip
    net.nodes[0].args += ["--unsafe-censor", CENSOR]
    try:
        net.start()
        yield net
    finally:
        net.stop()


class Counting(NodeClient):
    """A client of a real node that counts the reads other than the cross-check's own."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.reads: list[str] = []

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if path != "/api/status" and not path.startswith("/api/blocks/"):
            self.reads.append(path)
        return super()._request(method, path, **kwargs)


class Liar(NodeClient):
    """An endpoint that lies about its chain: a real node's answers, with its status (and its
    block at ``fake_at``) rewritten."""

    def __init__(self, url: str, *, add_height: int, add_final: int, fake_ids: bool) -> None:
        super().__init__(url)
        self.add_height, self.add_final, self.fake_ids = add_height, add_final, fake_ids
        self.reads: list[str] = []

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        data = super()._request(method, path, **kwargs)
        if path == "/api/status":
            data["height"] += self.add_height
            data["finalizedHeight"] += self.add_final
        elif path.startswith("/api/blocks/"):
            if self.fake_ids:
                data["fullId"] = "ee" * 32
        else:
            self.reads.append(path)
        return data


def _transfer(sub: Submitter, amount: int = 1000) -> str:
    to = address_hash(dev_key("user-5").public_key)
    return sub.submit_raw(TRANSFER, TransferPayload(to, amount).encode(), wait=False).id


def _confirmed(client: NodeClient, tx_id: str) -> int | None:
    try:
        tx = client.transaction(tx_id)
    except NotFoundError:
        return None
    return int(tx["height"]) if tx.get("status") == "confirmed" else None


def _height(net: EtmNetwork) -> int:
    return int(net.client(1).status()["height"])


class SaysConfirmed(NodeClient):
    """The censoring node, which also says every transaction it dropped is in a block."""

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        data = super()._request(method, path, **kwargs)
        if method == "GET" and path.startswith("/api/transactions/"):
            data = {**data, "status": "confirmed", "height": 1}
        return data


@pytest.mark.parametrize("lies", [False, True], ids=["drops", "drops-and-says-included"])
def test_a_tx_only_the_censor_accepted_is_rebroadcast_and_lands(net: EtmNetwork, lies) -> None:
    cut = [PeerProxy(net.proxy_loop, lambda i=i: net.nodes[i].port) for i in (1, 2, 3)]
    censor = SaysConfirmed(net.client(0).url) if lies else net.client(0)
    clients = [censor, *(NodeClient(f"http://{p.address}") for p in cut)]
    nodes = NodeSet(clients, FAST)
    sub = Submitter(nodes, dev_key("user-4" if lies else "user-0"))
    sub.network()  # read while every endpoint answers
    nodes.assess(force=True)
    for proxy in cut:
        proxy.cut()
    tx_id = _transfer(sub)
    [tracked] = nodes.tracker.tracked()
    assert tracked.accepted_by == (net.client(0).url,)
    for proxy in cut:
        proxy.heal()
    start = _height(net)
    wait_for(lambda: _height(net) >= start + 2, "two blocks")
    assert net.client(0).transaction(tx_id)["status"] == "pending"  # kept, answered pending
    for i in (1, 2, 3):  # ...and never gossiped
        with pytest.raises(NotFoundError):
            net.client(i).transaction(tx_id)

    def landed() -> bool:
        assert not nodes.check_inclusion(), "reported as censored although re-sent"
        return tx_id not in nodes.tracker

    wait_for(landed, "the re-sent transaction in a block", timeout_s=40)
    height = _confirmed(net.client(1), tx_id)
    assert height is not None and height - start >= 3  # re-sent only after 3 produced blocks
    censor_key = net.client(0).forging_status()["publicKeys"]
    assert net.client(1).block(height)["generatorPublicKey"] not in censor_key


def test_the_censor_alone_is_reported_before_anything_lands(net: EtmNetwork) -> None:
    nodes = NodeSet([net.client(0)], FAST)
    sub = Submitter(nodes, dev_key("user-1"))
    tx_id = _transfer(sub)
    start = _height(net)
    found: list[Any] = []

    def reported() -> bool:
        found.extend(nodes.check_inclusion())
        return bool(found)

    wait_for(reported, "censorship reported", timeout_s=40)
    [suspected] = found[:1]
    assert suspected.tx_id == tx_id and suspected.blocks_waited >= 10
    assert suspected.endpoints == (net.client(0).url,)
    assert "censorship suspected" in suspected.message()
    assert _height(net) - start < 10 + 6  # reported about when due, not at the end of time
    assert all(_confirmed(net.client(i), tx_id) is None for i in range(4))
    # the same set with honest endpoints added: re-sent there, it lands
    more = NodeSet([net.client(0), net.client(2)], FAST)
    more.tracker.track(tx_id, nodes.tracker.tracked()[0].encoded, _height(net) - 3, ())

    def lands() -> bool:
        more.check_inclusion()
        return tx_id not in more.tracker

    wait_for(lands, "the transaction re-sent to an honest node in a block", timeout_s=30)
    assert _confirmed(net.client(2), tx_id) is not None


def test_a_partitioned_node_is_flagged_and_never_read_from(net: EtmNetwork) -> None:
    first = Counting(net.client(3).url)
    nodes = NodeSet([first, net.client(1), net.client(2), net.client(0)], FAST)
    assert nodes.assess(force=True).verdict_of(first.url).trusted
    net.partition({3}, {0, 1, 2})
    try:
        bad = {Verdict.MINORITY_FORK, Verdict.BEHIND}
        wait_for(
            lambda: nodes.assess(force=True).verdict_of(first.url).verdict in bad,
            "the partitioned node flagged",
            timeout_s=40,
        )
        row = next(r for r in nodes.health() if r["url"] == first.url)
        assert row["verdict"] in {"minority_fork", "behind"}
        first.reads.clear()
        for _ in range(5):
            nodes.account(_address("user-2"))
            nodes.delegates()
        assert first.reads == []
    finally:
        net.heal()
    wait_for(lambda: nodes.assess(force=True).verdict_of(first.url).trusted, "healed", 60)


def _address(name: str) -> str:
    return address_of(dev_key(name).public_key)


@pytest.mark.parametrize(
    ("add_height", "add_final", "fake_ids", "verdict"),
    [
        (1000, 1000, True, Verdict.MINORITY_FORK),  # a fake finalized block far ahead
        (1000, 0, False, Verdict.AHEAD),  # the real history, a fake tip nobody else has
    ],
)
def test_a_lying_endpoint_is_flagged_and_never_read_from(
    net: EtmNetwork, add_height: int, add_final: int, fake_ids: bool, verdict: Verdict
) -> None:
    liar = Liar(net.client(2).url, add_height=add_height, add_final=add_final, fake_ids=fake_ids)
    nodes = NodeSet([liar, net.client(1), net.client(3)], FAST)
    assessment = nodes.assess(force=True)
    assert assessment.verdict_of(liar.url).verdict is verdict
    assert assessment.canonical_tip is not None and assessment.canonical_tip < 1000
    for _ in range(3):
        nodes.account(_address("user-2"))
    assert liar.reads == []


def test_a_killed_node_reads_and_writes_go_on(net: EtmNetwork) -> None:
    killed = net.client(1)
    nodes = NodeSet([killed, net.client(2), net.client(3)], FAST)
    net.nodes[1].stop()
    try:
        assert nodes.assess(force=True).verdict_of(killed.url).verdict is Verdict.DOWN
        sub = Submitter(nodes, dev_key("user-3"))
        tx_id = _transfer(sub)
        wait_for(lambda: _confirmed(nodes, tx_id) is not None, "the transfer in a block")
        assert nodes.account(_address("user-3"))["nonce"] >= 1
    finally:
        net.restart(1)
        net.wait_connected(60)


class Tarpit:
    """An endpoint that accepts connections and never answers."""

    def __init__(self, net: EtmNetwork) -> None:
        self.held: list[asyncio.StreamWriter] = []
        self.loop = net.proxy_loop
        self.server = self.loop.run(asyncio.start_server(self._hold, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.held.append(writer)  # read nothing, answer nothing

    def close(self) -> None:
        async def shut() -> None:
            for writer in self.held:
                writer.close()
            self.server.close()

        self.loop.run(shut())


def test_silent_endpoints_do_not_stop_reads_and_writes(net: EtmNetwork) -> None:
    pits = [Tarpit(net), Tarpit(net)]
    try:
        silent = [NodeClient(p.url, timeout_s=2) for p in pits]
        nodes = NodeSet([*silent, net.client(2), net.client(3)], FAST)
        verdicts = {r["url"]: r["verdict"] for r in nodes.health()}
        assert [verdicts[p.url] for p in pits] == ["down", "down"]
        tx_id = _transfer(Submitter(nodes, dev_key("user-5")))
        wait_for(lambda: _confirmed(nodes, tx_id) is not None, "the transfer in a block")
    finally:
        for pit in pits:
            pit.close()


def test_the_cli_takes_several_endpoints(net: EtmNetwork, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--etm-url`` repeated: a dead endpoint listed first changes nothing; all dead: one
    error naming each (exit 4)."""
    dead = [PeerProxy(net.proxy_loop, lambda: None) for _ in range(2)]
    env = {"ETM_STACK_DIR": str(tmp_path / "no-stack"), "XDG_DATA_HOME": str(tmp_path / "x"),
           "XDG_CONFIG_HOME": str(tmp_path / "y")}  # fmt: skip
    urls = [f"http://{dead[0].address}", net.client(2).url]
    args = ["pool", "list", "--json", *(a for u in urls for a in ("--etm-url", u))]
    done = CliRunner(env=env).invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == []
    all_dead = ["pool", "list", *(a for p in dead for a in ("--etm-url", f"http://{p.address}"))]
    failed = CliRunner(env=env).invoke(cli, all_dead)
    assert failed.exit_code == 4
    assert all(p.address in failed.output for p in dead), failed.output


def test_all_endpoints_down_names_every_url(net: EtmNetwork) -> None:
    dead = [PeerProxy(net.proxy_loop, lambda: None) for _ in range(2)]  # refuse every connection
    nodes = NodeSet([NodeClient(f"http://{p.address}", timeout_s=2) for p in dead], FAST)
    with pytest.raises(NodeUnavailableError) as read:
        nodes.status()
    assert all(p.address in str(read.value) for p in dead) and "down" in str(read.value)
    with pytest.raises(NodeUnavailableError) as write:
        nodes.submit_tx(b"\x00" * 10)
    assert all(p.address in str(write.value) for p in dead)


def test_a_transaction_every_endpoint_refuses_raises_that_refusal(net: EtmNetwork) -> None:
    nodes = NodeSet([net.client(i) for i in (1, 2, 3)], FAST)
    sub = Submitter(nodes, dev_key("user-2"))
    tx = sub.sign(TRANSFER, TransferPayload(address_hash(dev_key("user-5").public_key), 1).encode())
    bad = tx.encoded[:-1] + bytes([tx.encoded[-1] ^ 1])  # the signature no longer verifies
    with pytest.raises(TxRejectedError) as refused:
        nodes.submit_tx(bad)
    assert refused.value.reason == "bad_signature"
    assert len(nodes.tracker) == 0


# --- review w14k: endpoints that answer too slowly, too much, nonsense or with a false id -----


class Evil:
    """An endpoint that answers every request in one of these ways (attacks on the client):

    * ``trickle-body``: headers at once, then the body one byte every 0.1 s (20 s in all): no
      socket read ever waits the client's 2 s timeout;
    * ``trickle-head``: the status line, then header bytes one every 0.1 s;
    * ``flood``: a JSON status padded without end (up to 128 MiB); ``sent``: the most bytes one
      connection took;
    * ``infinity``: a status whose heights are ``1e999`` (Python's JSON decodes it to inf).
    """

    def __init__(self, net: EtmNetwork, mode: str) -> None:
        self.mode, self.sent = mode, 0
        self.loop = net.proxy_loop
        self.writers: list[asyncio.StreamWriter] = []
        self.server = self.loop.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        if self.mode == "infinity":
            body = b'{"height": 1e999, "finalizedHeight": 1e999, "syncing": false}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        elif self.mode == "flood":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            writer.write(b'{"height": 5, "finalizedHeight": 1, "pad": "')
            chunk, sent = b" " * (1 << 20), 0
            while sent < 128 << 20:
                writer.write(chunk)
                sent += len(chunk)
                self.sent = max(self.sent, sent)
                await writer.drain()
            writer.write(b'"}')
        else:
            head = b"HTTP/1.1 200 OK\r\n"
            trickled = b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
            if self.mode == "trickle-body":
                head, trickled = head + b"Content-Length: 200\r\n\r\n", b" " * 200
            writer.write(head)
            for byte in trickled:
                await writer.drain()
                writer.write(bytes([byte]))
                await asyncio.sleep(0.1)
        await writer.drain()

    def close(self) -> None:
        async def shut() -> None:
            for writer in self.writers:
                writer.close()
            self.server.close()

        self.loop.run(shut())


def test_trickling_flooding_and_nonsense_endpoints_cost_one_timeout(net: EtmNetwork) -> None:
    """Before: a trickling endpoint held every assessment (so every read, write and watcher
    tick) for as long as it trickled (20 s here, for ever in an attack), a flood was read
    whole into memory, and a status of ``1e999`` raised OverflowError out of the assessment
    (no read at all through any endpoint)."""
    evil = [Evil(net, m) for m in ("trickle-body", "trickle-head", "flood", "infinity")]
    try:
        bad = [NodeClient(e.url, timeout_s=2) for e in evil]
        nodes = NodeSet([*bad, net.client(2), net.client(3)], FAST)
        for _ in range(2):  # the second time, the tricklers are still busy: not asked again
            began = time.monotonic()
            verdicts = {r["url"]: r["verdict"] for r in nodes.health()}
            assert time.monotonic() - began < 2 * 2 + 2  # one timeout per round, not 20 s
            assert [verdicts[e.url] for e in evil] == ["down"] * 4, verdicts
        assert evil[2].sent < 64 << 20  # stopped reading after the 32 MiB cap
        tx_id = _transfer(Submitter(nodes, dev_key("user-4")))
        wait_for(lambda: _confirmed(nodes, tx_id) is not None, "the transfer in a block")
    finally:
        for e in evil:
            e.close()


class SlowReads(NodeClient):
    """A real node on the canonical chain (so trusted, listed first) whose account reads take
    20 s, as if trickled: a read through it held the caller 20 s (before)."""

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if path.startswith("/api/accounts/"):
            time.sleep(20)
        return super()._request(method, path, **kwargs)


def test_a_trusted_endpoint_stalling_a_read_costs_its_timeout_then_the_next_answers(
    net: EtmNetwork,
) -> None:
    slow = SlowReads(net.client(1).url, timeout_s=2)
    nodes = NodeSet([slow, net.client(2), net.client(3)], FAST)
    assert nodes.assess(force=True).verdict_of(slow.url).trusted
    began = time.monotonic()
    assert nodes.account(_address("user-2"))["address"] == _address("user-2")
    assert time.monotonic() - began < 2 + 3
    assert nodes.assess(force=True).verdict_of(slow.url).verdict is Verdict.DOWN  # still busy


class FalseId(NodeClient):
    """A real node that accepts the transaction and answers with another id (or nonsense)."""

    def __init__(self, url: str, answer: Any) -> None:
        super().__init__(url)
        self.answer = answer

    def submit_tx(self, signed: bytes) -> Any:
        super().submit_tx(signed)
        return self.answer


@pytest.mark.parametrize("answer", [{"id": "ab" * 32, "status": "pending"}, ["nonsense"]],
                         ids=["another-id", "not-an-object"])  # fmt: skip
def test_an_endpoint_answering_a_false_tx_id_is_flagged_and_the_real_id_tracked(
    net: EtmNetwork, answer: Any
) -> None:
    """Before: the first acceptance's id was tracked: another id made the tracker wait for a
    transaction that never comes (censorship reported after 10 blocks, so no reveal on any
    swap), and a reply that is no JSON object raised TypeError out of the write."""
    liar = FalseId(net.client(1).url, answer)
    nodes = NodeSet([liar, net.client(2), net.client(3)], FAST)
    tx_id = _transfer(Submitter(nodes, dev_key("user-4")))
    assert [t.tx_id for t in nodes.tracker.tracked()] == [tx_id]
    assert liar.url in {r["url"] for r in nodes.health() if "flag" in r}
    wait_for(lambda: _confirmed(nodes, tx_id) is not None, "the transfer in a block")
    assert nodes.check_inclusion() == () and len(nodes.tracker) == 0


class AcceptsAnything(NodeClient):
    """An endpoint that answers ``pending`` to every transaction and keeps none."""

    def submit_tx(self, signed: bytes) -> dict[str, Any]:
        return {"id": Tx.decode(bytes(signed)).id.hex(), "status": "pending"}


def test_a_transaction_most_endpoints_refuse_is_not_reported_as_censored(net: EtmNetwork) -> None:
    """Before: one endpoint accepting a transaction the others refuse (here: more than the
    sender has; for an engine: a refund sent early) kept it tracked, re-sent and, after 10
    blocks, reported censored for 200 blocks, so the engine revealed on no swap."""
    liar = AcceptsAnything(net.client(1).url)
    nodes = NodeSet([liar, net.client(2), net.client(3)], FAST)
    sub = Submitter(nodes, dev_key("user-0"))
    to = address_hash(dev_key("user-5").public_key)
    tx_id = sub.submit_raw(TRANSFER, TransferPayload(to, 10**17).encode(), wait=False).id
    [tracked] = nodes.tracker.tracked()
    assert tracked.tx_id == tx_id and tracked.submitted_at is not None
    wait_for(lambda: _height(net) >= tracked.submitted_at + 3, "3 blocks produced")
    assert nodes.check_inclusion() == ()
    assert tx_id not in nodes.tracker  # re-sent, refused by most: not censorship
