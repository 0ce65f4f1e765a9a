"""The node's custody share pool and the ``custody_share`` gossip (message 10), in-process (a
real Bitcoin mandate in custody state, real secp256k1 shares, the peer layer without sockets).

Attacks performed: a share by a key outside the revision's committee, a share signing another
mandate's digest (replayed onto this mandate), a share for an input the revision lacks, a
share naming another chain, a flood of invalid shares from one peer (banned), a share flood
over the rate limit; a share for an unknown mandate costs nothing (the node may be behind)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import pytest
from asgi_call import asgi_request
from test_p2p_gossip import QuietLink, _chains

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chains.bitcoin.custody import ecdsa
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.custody import mandate_store as ms
from etm_bridge.custody import records as cr
from etm_bridge.errors import ValidationError
from etm_bridge.node.custody_pool import DROPPED, KNOWN, MAX_WAITING, NEW, SharePool
from etm_bridge.node.p2p.custody_share import CustodyShare, decode_share, encode_share
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import Peer
from etm_bridge.node.p2p.settings import P2PSettings

pytestmark = pytest.mark.unit

CFG = BtcCustodyConfig("regtest")
SECRETS = [bytes([0x60 + i]) * 32 for i in range(5)]  # 4 members and a stranger
KEYS = sorted(ecdsa.pubkey(s) for s in SECRETS[:4])
BY_KEY = {ecdsa.pubkey(s): s for s in SECRETS}
STRANGER = ecdsa.pubkey(SECRETS[4])
DELEGATES = tuple(bytes([i + 1]) * 32 for i in range(4))
COMMITTEE = cr.Committee(0, DELEGATES, 3, 4, {"btc": tuple(KEYS)}, 1, "first")
USER = ecdsa.pubkey(b"\x77" * 32)


def _state() -> tuple[State, cr.Mandate, cr.Mandate]:
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.custody.txtypes",)))
    s = State(EmptyBackend(), registry.table_names)
    s.put_json(cr.EPOCHS, cr.epoch_key(0), cr.encode(COMMITTEE))
    s.put(cr.CURRENT, b"epoch", cr.epoch_key(0))
    vault = SPEC.vault(COMMITTEE, CFG)
    out = []
    for n, source in ((1, b"\x01" * 32), (2, b"\x02" * 32)):
        utxo = cr.CustodyUtxo("btc", bytes([n]) * 36, 150_000, 0, cr.UtxoStatus.UNSPENT)
        ms.put_utxo(s, utxo)
        terms = {"amount": 40_000, "claim_key": USER.hex()}
        req = ms.vault_request(cr.MandateKind.LP_WITHDRAW, "btc", source, COMMITTEE, vault,
                               terms, 2)  # fmt: skip
        out.append(ms.open_mandate(s, SPEC, CFG, req, "btc", "btc", source, [utxo], 5, None))
    return s, out[0], out[1]


def share(m: cr.Mandate, key: bytes, digest: bytes | None = None, **over: object) -> CustodyShare:
    d = digest if digest is not None else m.revisions[0].digests[0]
    base = CustodyShare("btc", m.id, 0, key, ((0, ecdsa.sign(BY_KEY[key], d)),))
    return replace(base, **over)  # type: ignore[arg-type]


def test_a_valid_share_is_kept_once_and_served() -> None:
    s, m, _ = _state()
    pool = SharePool(lambda: s)
    first = share(m, KEYS[0])
    assert decode_share(encode_share(first)) == first
    assert pool.add(first) == NEW
    assert pool.add(first) == KNOWN
    [row] = pool.shares(m.id)
    assert row == {"revision": 0, "key": KEYS[0].hex(),
                   "signatures": {"0": first.signatures[0][1].hex()}}  # fmt: skip
    assert SharePool(lambda: s, enabled=False).add(first) == DROPPED


def test_unknown_mandates_revisions_and_fraud_contexts_are_dropped_without_blame() -> None:
    s, m, _ = _state()
    pool = SharePool(lambda: s)
    assert pool.add(share(m, KEYS[0], mandate_id=b"\x09" * 32)) == DROPPED
    assert pool.add(share(m, KEYS[0], revision=1)) == DROPPED
    assert pool.add(share(m, KEYS[0], context=b"fraud body")) == DROPPED
    assert pool.shares(m.id) == []


@pytest.mark.parametrize("attack", ["stranger", "other_digest", "bad_input", "other_chain",
                                    "high_s", "garbage"])  # fmt: skip
def test_invalid_shares_are_refused(attack: str) -> None:
    s, m, other = _state()
    pool = SharePool(lambda: s)
    digest = m.revisions[0].digests[0]
    bad = {
        "stranger": share(m, STRANGER),
        # replay: a member's valid share over another mandate's digest, presented as this one's
        "other_digest": share(m, KEYS[1], digest=other.revisions[0].digests[0]),
        "bad_input": replace(
            share(m, KEYS[1]), signatures=((1, ecdsa.sign(BY_KEY[KEYS[1]], digest)),)
        ),
        "other_chain": share(m, KEYS[1], ticker="eth"),
        "high_s": share(
            m, KEYS[1], signatures=((0, _high_s(ecdsa.sign(BY_KEY[KEYS[1]], digest))),)
        ),
        "garbage": share(m, KEYS[1], signatures=((0, b"\x30" * 71 + b"\x01"),)),
    }[attack]
    with pytest.raises(ValidationError):
        pool.add(bad)
    assert pool.shares(m.id) == []


def _high_s(sig: bytes) -> bytes:
    der = sig[:-1]
    len_r = der[3]
    r, s = der[4 : 4 + len_r], int.from_bytes(der[6 + len_r :], "big")
    s_bytes = (ecdsa.ORDER - s).to_bytes(33, "big").lstrip(b"\x00")
    if s_bytes[0] & 0x80:
        s_bytes = b"\x00" + s_bytes
    body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    return b"\x30" + bytes([len(body)]) + body + sig[-1:]


def test_gossip_relays_a_new_share_once_and_bans_a_peer_sending_invalid_ones() -> None:
    s, m, other = _state()
    pool = SharePool(lambda: s)
    (chain,), _ = _chains(1)

    async def run() -> tuple[P2PNetwork, list[Peer], list[QuietLink]]:
        net = P2PNetwork(chain, P2PSettings(), shares=pool)
        links = [QuietLink(f"192.0.2.{i}") for i in range(3)]
        peers = [Peer(link, outbound=False) for link in links]
        net.ready_peers = lambda: peers  # type: ignore[method-assign]
        good = share(m, KEYS[2])
        net.custody.on_share(peers[0], good)
        net.custody.on_share(peers[1], good)  # a second copy: not relayed again
        for n in range(5):  # 5 x 20 = the ban threshold
            forged = share(m, KEYS[3], digest=other.revisions[0].digests[0],
                           revision=0, signatures=((0, _sig_variant(n, other)),))  # fmt: skip
            net.custody.on_share(peers[2], forged)
        await asyncio.sleep(0.05)
        return net, peers, links

    net, peers, links = asyncio.run(run())
    relayed = [_queued_shares(p) for p in peers]  # no writer task runs here
    assert relayed == [0, 1, 1]  # relayed once to each peer but its origin
    assert links[2].closed is not None and "invalid_share" in links[2].closed[1]
    assert net.bans.banned("192.0.2.2", time.time())
    assert [r["key"] for r in pool.shares(m.id)] == [KEYS[2].hex()]


def _queued_shares(peer: Peer) -> int:
    frames = []
    while not peer._outbox.empty():
        frames.append(peer._outbox.get_nowait())
    return sum(1 for f in frames if f is not None and f[:1] == b"\x0a")


def _sig_variant(n: int, other: cr.Mandate) -> bytes:
    """Distinct bytes each time (so the seen-set does not swallow the repeats)."""
    return ecdsa.sign(BY_KEY[KEYS[3]], bytes([n]) + other.revisions[0].digests[0][1:])


def test_a_share_flood_is_rate_limited() -> None:
    s, m, _ = _state()
    pool = SharePool(lambda: s)
    (chain,), _ = _chains(1)

    async def run() -> QuietLink:
        net = P2PNetwork(chain, P2PSettings(), shares=pool)
        link = QuietLink()
        peer = Peer(link, outbound=False)
        for n in range(2_000):
            net.custody.on_share(peer, share(m, KEYS[0], mandate_id=n.to_bytes(32, "big")))
            if peer.closed:
                break
        await asyncio.sleep(0.05)
        return link

    link = asyncio.run(run())
    assert link.closed is not None and "rate_limited" in link.closed[1]


def test_a_share_replayed_onto_another_revision_is_refused() -> None:
    """Attack: a member's valid share over revision 0, presented as revision 1 (a bump with
    other digests)."""
    s, m, other = _state()
    bumped = replace(m, revisions=(*m.revisions, replace(other.revisions[0], rev=1)))
    s.put_json(cr.MANDATES, m.id, cr.encode(bumped))
    pool = SharePool(lambda: s)
    with pytest.raises(ValidationError):
        pool.add(share(m, KEYS[0], revision=1))
    assert pool.add(share(m, KEYS[0])) == NEW


def _app(s: State, pool: SharePool, relayed: list[CustodyShare], enabled: bool = True) -> Any:
    from starlette.applications import Starlette

    from etm_bridge.node.custody_api import custody_routes

    tables = {cr.MANDATES} if enabled else set()
    return Starlette(routes=custody_routes(lambda: s, tables, pool, relayed.append))


def test_the_custody_routes() -> None:
    s, m, other = _state()
    relayed: list[CustodyShare] = []
    pool = SharePool(lambda: s)
    app = _app(s, pool, relayed)
    status, body = asgi_request(app, "GET", "/api/custody")
    assert status == 200 and body["epoch"] == 0 and body["committee"]["m"] == 3
    assert asgi_request(app, "GET", "/api/custody?epoch=7")[1]["epoch"] == 0  # the newest
    assert asgi_request(app, "GET", "/api/custody?epoch=x")[0] == 400
    status, body = asgi_request(app, "GET", "/api/custody/mandates?status=open&limit=1")
    assert status == 200 and [r["id"] for r in body["mandates"]] == [m.id.hex()]
    status, body = asgi_request(
        app, "GET", f"/api/custody/mandates?status=open&after={body['next']}"
    )
    assert [r["id"] for r in body["mandates"]] == [other.id.hex()]
    status, body = asgi_request(app, "GET", "/api/custody/mandates?status=proven")
    assert (status, body["mandates"]) == (200, [])
    for bad in ("status=stolen", "after=zz", "after=00", "limit=0"):
        status, _ = asgi_request(app, "GET", f"/api/custody/mandates?{bad}")
        assert status == 400, bad
    status, body = asgi_request(app, "GET", f"/api/custody/mandates/{m.id.hex()}")
    assert status == 200 and body["revisions"][0]["txid"] == (m.revisions[0].txid or b"").hex()
    status, _ = asgi_request(app, "GET", f"/api/custody/mandates/{'00' * 32}")
    assert status == 404
    post = json.dumps({"share": encode_share(share(m, KEYS[1])).hex()}).encode()
    hdr = {"content-type": "application/json"}
    assert asgi_request(app, "POST", "/api/custody/shares", post, hdr) == (200, {"result": "new"})
    assert asgi_request(app, "POST", "/api/custody/shares", post, hdr) == (200, {"result": "known"})
    assert len(relayed) == 1
    bad_share = encode_share(share(m, STRANGER)).hex()
    for body_bytes in (json.dumps({"share": bad_share}).encode(), b'{"share": "0102"}',
                       b'{"share": 5}', b'{"share": "zz"}'):  # fmt: skip
        status, reply = asgi_request(app, "POST", "/api/custody/shares", body_bytes, hdr)
        assert status == 400 and reply["error"]["code"] == "invalid_request", body_bytes
    status, body = asgi_request(app, "GET", f"/api/custody/shares?mandate={m.id.hex()}")
    assert status == 200 and [r["key"] for r in body["shares"]] == [KEYS[1].hex()]
    assert asgi_request(app, "GET", "/api/custody/shares")[0] == 400
    off = _app(s, pool, relayed, enabled=False)
    assert asgi_request(off, "GET", "/api/custody")[0] == 404


def test_a_share_that_arrives_before_its_mandate_waits_and_is_relayed_later() -> None:
    """A node behind its peers gets a share for a mandate it does not know yet: no blame, and
    once the block with the mandate arrives the share is kept and passed on."""
    s, m, _ = _state()
    early = SharePool(lambda: later)
    later = State(EmptyBackend(), ())  # nothing yet
    early_share = share(m, KEYS[2])
    assert early.add(early_share) == DROPPED
    assert early.retry_waiting() == []  # still unknown: waits on
    later = s  # the block with the mandate arrived
    (chain,), _ = _chains(1)

    async def run() -> Peer:
        net = P2PNetwork(chain, P2PSettings(), shares=early)
        peer = Peer(QuietLink(), outbound=False)
        net.ready_peers = lambda: [peer]  # type: ignore[method-assign]
        net.custody.retry_waiting()
        return peer

    peer = asyncio.run(run())
    assert _queued_shares(peer) == 1
    assert [r["key"] for r in early.shares(m.id)] == [KEYS[2].hex()]
    assert early.retry_waiting() == []  # judged once


def test_waiting_shares_are_bounded() -> None:
    s, m, _ = _state()
    pool = SharePool(lambda: s)
    for n in range(MAX_WAITING + 300):
        assert pool.add(share(m, KEYS[0], mandate_id=(n + 7).to_bytes(32, "big"))) == DROPPED
    assert len(pool._waiting) == MAX_WAITING


def _wide_mandate(s: State, inputs: int) -> cr.Mandate:
    """An LP withdrawal spending ``inputs`` vault outputs (one signature per input)."""
    vault = SPEC.vault(COMMITTEE, CFG)
    utxos = []
    for n in range(inputs):
        utxo = cr.CustodyUtxo("btc", bytes([0x40, n]) * 18, 20_000, 0, cr.UtxoStatus.UNSPENT)
        ms.put_utxo(s, utxo)
        utxos.append(utxo)
    source = b"\x33" * 32
    terms = {"amount": 20_000 * inputs // 2, "claim_key": USER.hex()}
    req = ms.vault_request(cr.MandateKind.LP_WITHDRAW, "btc", source, COMMITTEE, vault, terms, 2)
    return ms.open_mandate(s, SPEC, CFG, req, "btc", "btc", source, utxos, 5, None)


def test_replayed_subsets_of_a_held_share_cost_no_signature_check(monkeypatch: Any) -> None:
    """Attack (CPU): a member's share over a 40-input revision is public once gossiped; every
    subset of its signatures is a distinct, canonical, *valid* body (2^40 of them), so the
    seen-set never dedupes them and the pool answers ``known`` (no blame). Before the fix the
    pool re-checked every signature of every subset (~250 us each in coincurve: one peer's
    burst of 200 subsets held the event loop ~1 s, and 50 a second kept a core busy, for
    free). A signature byte-identical to one already held was checked when it was kept: it is
    not checked again."""
    s, _, _ = _state()
    wide = _wide_mandate(s, 40)
    pool = SharePool(lambda: s)
    secret = BY_KEY[KEYS[1]]
    sigs = tuple((i, ecdsa.sign(secret, d)) for i, d in enumerate(wide.revisions[0].digests))
    honest = CustodyShare("btc", wide.id, 0, KEYS[1], sigs)
    checks: list[bytes] = []
    real = ecdsa.verify_share

    def counting(digest: bytes, key: bytes, sig: bytes) -> bool:
        checks.append(sig)
        return real(digest, key, sig)

    monkeypatch.setattr(ecdsa, "verify_share", counting)
    assert pool.add(honest) == NEW
    assert len(checks) == 40  # each kept signature checked once
    (chain,), _ = _chains(1)

    async def run() -> QuietLink:
        net = P2PNetwork(chain, P2PSettings(), shares=pool)
        link = QuietLink()
        peer = Peer(link, outbound=False)
        for n in range(1, 200):  # within the burst: no rate-limit penalty either
            subset = tuple(sig for i, sig in enumerate(sigs) if (n >> (i % 8)) & 1 or i > 30)
            net.custody.on_share(peer, replace(honest, signatures=subset))
        await asyncio.sleep(0.01)
        return link

    link = asyncio.run(run())
    assert link.closed is None  # valid bodies: no blame
    assert len(checks) == 40, f"{len(checks) - 40} signature checks spent on replays"
    # a new signature (other bytes) for a held input is still checked, and a bad one refused
    forged = replace(honest, signatures=((0, _high_s(sigs[0][1])),))
    with pytest.raises(ValidationError):
        pool.add(forged)


def _forked_state() -> tuple[State, cr.Mandate]:
    """The same withdrawal (same mandate id) in a block of a non-final fork, where the vault
    selected another output: revision 0 has other digests there."""
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.custody.txtypes",)))
    s = State(EmptyBackend(), registry.table_names)
    s.put_json(cr.EPOCHS, cr.epoch_key(0), cr.encode(COMMITTEE))
    s.put(cr.CURRENT, b"epoch", cr.epoch_key(0))
    utxo = cr.CustodyUtxo("btc", b"\x09" * 36, 150_000, 0, cr.UtxoStatus.UNSPENT)
    ms.put_utxo(s, utxo)
    terms = {"amount": 40_000, "claim_key": USER.hex()}
    vault = SPEC.vault(COMMITTEE, CFG)
    source = b"\x01" * 32
    req = ms.vault_request(cr.MandateKind.LP_WITHDRAW, "btc", source, COMMITTEE, vault, terms, 2)
    return s, ms.open_mandate(s, SPEC, CFG, req, "btc", "btc", source, [utxo], 6, None)


def test_a_peer_relaying_a_final_share_is_not_blamed_by_a_node_on_a_non_final_fork() -> None:
    """Attack (x7c, an honest peer banned): a node whose tip is on a short fork holds the same
    mandate (same id: same withdrawal) with another revision 0 (other inputs, other digests),
    in a block it has not finalized. An honest peer relays the members' valid shares over the
    final revision: before the fix each cost it 20 (not a valid signature over *this* node's
    digest), so five shares banned the honest peer the forked node needs to get back. A share
    is blamed only against a revision this node has finalized (a final revision is the same on
    every honest node); against a non-final one it is dropped at no cost."""
    _, m, _ = _state()
    forked, fm = _forked_state()
    assert fm.id == m.id and fm.revisions[0].digests != m.revisions[0].digests
    finalized = [fm.revisions[0].height - 1]
    pool = SharePool(lambda: forked, finalized_of=lambda: finalized[0])
    (chain,), _ = _chains(1)

    async def run() -> QuietLink:
        net = P2PNetwork(chain, P2PSettings(), shares=pool)
        link = QuietLink("192.0.2.9")
        peer = Peer(link, outbound=False)
        for key in KEYS:  # 4 members' honest shares, plus one more copy each of two
            net.custody.on_share(peer, share(m, key))
        for key in KEYS[:2]:
            net.custody.on_share(peer, replace(share(m, key), signatures=((0, _high_s(
                ecdsa.sign(BY_KEY[key], m.revisions[0].digests[0]))),)))  # fmt: skip
        await asyncio.sleep(0.01)
        return link

    link = asyncio.run(run())
    assert link.closed is None and _kept(pool) == []
    # once this node has finalized its revision, a share not over it is blamed as before
    finalized[0] = fm.revisions[0].height
    with pytest.raises(ValidationError):
        pool.add(share(m, KEYS[0]))


def _kept(pool: SharePool) -> list[dict[str, Any]]:
    """Nothing was kept for the mandate (the shares do not fit this node's revision)."""
    return pool.shares(next(iter(pool._by_revision), (b"", 0))[0])


def test_a_share_evicted_from_the_waiting_list_is_taken_again_from_a_later_copy() -> None:
    """Attack (x7c): a node behind its peers gets a member's honest share before the block
    with its mandate (it waits). Peers flood shares for invented mandates (free: the node may
    be behind; 6 peers x a burst of 200 fills the 1,024 waiting slots), evicting it. When the
    block arrives, and a second copy of the honest share comes from another peer, the seen-set
    of frame hashes swallowed that copy before the fix: this node never held the share. A
    dropped share now leaves the seen-set, so the later copy is judged (the eviction itself
    remains: the waiting list has no per-peer quota; a share with no later copy is lost here)."""
    s, m, _ = _state()
    later: list[State] = [State(EmptyBackend(), ())]
    pool = SharePool(lambda: later[0])
    (chain,), _ = _chains(1)
    honest = share(m, KEYS[2])

    async def run() -> list[QuietLink]:
        net = P2PNetwork(chain, P2PSettings(), shares=pool)
        links = [QuietLink(f"192.0.2.{20 + i}") for i in range(8)]
        peers = [Peer(link, outbound=False) for link in links]
        net.ready_peers = lambda: peers  # type: ignore[method-assign]
        net.custody.on_share(peers[0], honest)
        for n in range(MAX_WAITING + 50):
            junk = share(m, KEYS[0], mandate_id=(n + 99).to_bytes(32, "big"))
            net.custody.on_share(peers[1 + n // 200], junk)
        later[0] = s  # the block with the mandate arrives
        net.custody.retry_waiting()
        net.custody.on_share(peers[7], honest)  # another peer's copy
        await asyncio.sleep(0.01)
        return links

    links = asyncio.run(run())
    assert all(link.closed is None for link in links)  # the flood cost nothing
    assert [r["key"] for r in pool.shares(m.id)] == [KEYS[2].hex()]
