"""The custody signer process: ``etm-bridge node signer --data-dir D`` (design-14 section 5).

Beside a delegate's node, talking to it over HTTP only. Files in ``D``: the node's
``node.json`` and ``genesis.json`` (read), ``custody_keys.json`` (secrets), the record
``custody_signer.sqlite``, and ``custody_signer.json`` (optional: ``{"chains": {"<ticker>":
{adapter options, e.g. rpc_url, rpc_user, rpc_password}}, "tick_s": 1.0}``; a chain without
options is signed for but never submitted nor proven by this signer; ``prove_grace_s``, default
10: the wait between members' turns to relay and prove a spend, ``custody.duties.rank``).

Each tick (:meth:`Signer.tick`):

* read the node's finalized height and the open mandates;
* for the newest revision of each, if :func:`.checks.refusal` allows it (final, in its window,
  this member in its epoch, digests equal to this signer's rebuild), ask the record
  (:meth:`.record.SigningRecord.record_revision`: the never-sign-twice rule, committed and
  fsync'd before any signature leaves), then post the share to the node, which gossips it;
* when the node holds m valid shares over every input of a revision this signer signed, build
  the signed transaction and submit it to this signer's foreign node (``already in chain`` is
  success);
* the "headers" and "prove" duties (:mod:`.prover`, decided by
  :func:`etm_bridge.custody.duties.decide`): once an open mandate's spend has the relay
  policy's depth on this signer's foreign node, feed ETM's relay the headers it lacks and send
  tx 302 with the SPV proof, fees paid by the agent key.

Resume (design-14 section 5.4): on start the signer re-posts every stored share of a revision
that is still open, byte for byte, and signs nothing new for it (the record returns the stored
signature for the same digest and refuses any other). Test-only crash points
``ETM_CUSTODY_CRASH_AT=after_record|after_gossip`` exit the process right there; they are
honoured only when the genesis section ``plugins.custody`` has ``unsafe_test_behaviours: true``
(a ConfigError otherwise: a production signer never dies on purpose).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..chain.genesis import genesis_block
from ..chain.params import etm_time
from ..chains.registry import chain_registry
from ..custody import records
from ..errors import ConfigError, CustodyError, EtmBridgeError
from ..etm_client.custody import CustodyClient
from ..node.client import NodeClient
from ..node.config import NodeConfig
from ..node.p2p.custody_share import CustodyShare, encode_share
from ..node.server import load_genesis
from . import checks, keys
from .prover import DEFAULT_GRACE_S, Prover
from .record import FILE_NAME, InputToSign, SigningRecord
from .submit import Submitter

log = logging.getLogger("etm_bridge.custody_signer")
CONFIG_FILE = "custody_signer.json"
CRASH_ENV = "ETM_CUSTODY_CRASH_AT"
CRASH_POINTS = ("after_record", "after_gossip")
CRASH_EXIT_CODE = 70


def _custody_section(genesis: Any) -> dict[str, Any]:
    for name, text in genesis.plugin_sections:
        if name == records.GENESIS_SECTION:
            section = json.loads(text)
            if isinstance(section, dict):
                return section
    raise ConfigError("this node's genesis has no plugins.custody section: not a custody chain")


def _spec(ticker: str) -> Any:
    for profile in chain_registry():
        if profile.ticker == ticker and profile.custody is not None:
            return profile.custody
    raise ConfigError(f"chain {ticker!r} has no custody on this version")


class Signer:
    def __init__(
        self,
        data_dir: Path,
        node_url: str | None = None,
        env: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.time,
    ):
        self.data_dir = Path(data_dir)
        config = NodeConfig.load(self.data_dir)
        genesis = load_genesis(config)
        self.genesis_id = genesis_block(genesis).id
        section = _custody_section(genesis)
        self.crash_at = env.get(CRASH_ENV, "")
        if self.crash_at:
            if not section.get("unsafe_test_behaviours"):
                raise ConfigError(
                    f"{CRASH_ENV} is a test-only switch, honoured only on chains whose genesis"
                    " has plugins.custody.unsafe_test_behaviours: unset it"
                )
            if self.crash_at not in CRASH_POINTS:
                raise ConfigError(f"{CRASH_ENV} must be one of {', '.join(CRASH_POINTS)}")
        host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
        url = node_url or f"http://{host}:{config.port}"
        self.node = NodeClient(url, admin_token=config.admin_token)
        self.custody = CustodyClient(self.node)
        self.keys = keys.load(self.data_dir)
        self.record = SigningRecord(self.data_dir / FILE_NAME, self.genesis_id)
        self.clock = clock
        options = self._options()
        self.tick_s = float(options.get("tick_s", 1.0))
        self.submitters: dict[str, Any] = {}
        for ticker, opts in dict(options.get("chains", {})).items():
            kit = keys.signing_kit(ticker)
            if kit is None:
                raise ConfigError(f"{CONFIG_FILE}: chain {ticker!r} has no custody signer")
            self.submitters[ticker] = Submitter(ticker, kit, opts)
        networks = {t: str(dict(section.get(t) or {}).get("network", "regtest"))
                    for t in self.submitters}  # fmt: skip
        mine = {t: self.keys.public_key(t) for t in self.submitters if t in self.keys.secrets}
        grace = float(options.get("prove_grace_s", DEFAULT_GRACE_S))
        self.prover = Prover(self.node, self.keys.agent_seed, dict(options.get("chains", {})),
                             networks, self.data_dir, mine, grace, clock)  # fmt: skip
        self.committees: dict[int, records.Committee] = {}
        self.submitted: set[tuple[bytes, int]] = set()
        self.refused: dict[tuple[bytes, int], str] = {}

    def _options(self) -> dict[str, Any]:
        path = self.data_dir / CONFIG_FILE
        if not path.exists():
            return {}
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must be a JSON object")
        return raw

    # --- start --------------------------------------------------------------------------------

    def check_node(self) -> None:
        status = self.node.status()
        if status.get("genesisId") != self.genesis_id.hex():
            raise ConfigError(
                f"the node at {self.node.url} is on genesis {status.get('genesisId')}, this data"
                f" directory's genesis is {self.genesis_id.hex()}: point the signer at its node"
            )

    def resume(self) -> int:
        """Re-post every stored share of a still-open revision (the exact recorded bytes)."""
        sent = 0
        for stored in self.record.stored():
            try:
                mandate = records.decode(records.Mandate, self.custody.mandate(stored.mandate_id))
            except EtmBridgeError:
                continue
            if mandate.status is not records.MandateStatus.OPEN:
                continue
            self._post(mandate.ticker, stored.mandate_id, stored.revision, stored.signatures)
            self.record.mark_gossiped(stored.ticker, stored.mandate_id, stored.revision)
            sent += 1
        return sent

    # --- the loop -----------------------------------------------------------------------------

    def tick(self) -> None:
        finalized = int(self.node.status()["finalizedHeight"])
        open_now = [
            records.decode(records.Mandate, raw) for raw in self.custody.mandates(("open",))
        ]
        for mandate in open_now:
            if not mandate.revisions or mandate.ticker not in self.keys.secrets:
                continue
            rev = mandate.revisions[-1]
            mine = self._sign(mandate, rev, finalized)
            if mine:
                self._assemble(mandate, rev)
        self.prover.tick(open_now)

    def _committee(self, epoch: int) -> records.Committee | None:
        if epoch not in self.committees:
            data = self.custody.status(epoch)
            if data.get("committee") is None or data.get("epoch") != epoch:
                return None
            self.committees[epoch] = records.decode(records.Committee, data["committee"])
        return self.committees[epoch]

    def _sign(self, mandate: records.Mandate, rev: records.Revision, finalized: int) -> bool:
        """Sign ``rev`` if allowed, or re-post the stored share of it (exact bytes, nothing
        new signed) if the node lacks it; True if this signer holds a share of it."""
        key_id, ticker = (mandate.id, rev.rev), mandate.ticker
        my_key = self.keys.public_key(ticker)
        stored = self.record.signed_revision(ticker, mandate.id, rev.rev)
        if stored:
            if not self._node_has(mandate.id, rev.rev, my_key):
                self._post(ticker, mandate.id, rev.rev, stored)
            return True
        committee = self._committee(rev.epoch)
        if committee is None:
            return False
        now = etm_time(self.clock())
        why = checks.refusal(mandate, rev, committee, my_key, finalized, now, _spec(ticker))
        if why is not None:
            self._note_refusal(key_id, why)
            return False
        kit = keys.signing_kit(ticker)
        assert kit is not None
        outpoints = kit.outpoints(rev.spend)
        items = [InputToSign(i, d, outpoints[i]) for i, d in enumerate(rev.digests)]
        secret = self.keys.secrets[ticker]
        try:
            sigs = self.record.record_revision(
                ticker, mandate.id, rev.rev, items, mandate.replaces,
                lambda digest: bytes(kit.sign(secret, digest)),
            )  # fmt: skip
        except CustodyError as exc:
            self._note_refusal(key_id, str(exc))
            return False
        self._crash("after_record")
        self._post(ticker, mandate.id, rev.rev, sigs)
        self.record.mark_gossiped(ticker, mandate.id, rev.rev)
        self._crash("after_gossip")
        log.info("signed mandate %s revision %d", mandate.id.hex()[:16], rev.rev)
        return True

    def _note_refusal(self, key_id: tuple[bytes, int], why: str) -> None:
        if self.refused.get(key_id) != why:
            self.refused[key_id] = why
            log.warning("not signing mandate %s revision %d: %s", key_id[0].hex()[:16],
                        key_id[1], why)  # fmt: skip

    def _crash(self, point: str) -> None:
        if self.crash_at == point:
            log.warning("test-only crash point %s reached: exiting", point)
            logging.shutdown()
            os._exit(CRASH_EXIT_CODE)

    def _post(self, ticker: str, mid: bytes, rev: int, sigs: Mapping[int, bytes]) -> None:
        share = CustodyShare(ticker, mid, rev, self.keys.public_key(ticker),
                             tuple(sorted(sigs.items())))  # fmt: skip
        self.custody.post_share(encode_share(share))

    def _node_has(self, mid: bytes, rev: int, key: bytes) -> bool:
        return any(s["revision"] == rev and s["key"] == key.hex() for s in self.custody.shares(mid))

    def _assemble(self, mandate: records.Mandate, rev: records.Revision) -> None:
        submitter = self.submitters.get(mandate.ticker)
        if submitter is None or (mandate.id, rev.rev) in self.submitted:
            return
        by_key: dict[bytes, dict[int, bytes]] = {}
        for row in self.custody.shares(mandate.id):
            if row["revision"] == rev.rev:
                sigs = {int(i): bytes.fromhex(s) for i, s in row["signatures"].items()}
                by_key[bytes.fromhex(row["key"])] = sigs
        full = [k for k, s in by_key.items() if len(s) == len(rev.digests)]
        committee = self._committee(rev.epoch)
        if committee is None or len(full) < committee.m:
            return
        kit = keys.signing_kit(mandate.ticker)
        assert kit is not None
        try:
            raw = kit.assemble(rev.spend, by_key)
            txid = submitter.submit(raw)
        except EtmBridgeError as exc:
            log.warning("mandate %s: assembly or submission failed: %s", mandate.id.hex()[:16], exc)
            return
        self.submitted.add((mandate.id, rev.rev))
        log.info("mandate %s revision %d submitted: %s", mandate.id.hex()[:16], rev.rev, txid)

    def run(
        self, stop: threading.Event | None = None, announce: Callable[[str], None] = print
    ) -> None:
        stop = stop or threading.Event()
        self.check_node()
        sent = self.resume()
        announce(f"custody signer running (node {self.node.url}, re-posted {sent} shares)")
        while not stop.is_set():
            try:
                self.tick()
            except EtmBridgeError as exc:
                log.warning("signer tick failed: %s", exc)
            stop.wait(self.tick_s)
        self.prover.close()
        self.record.close()
