"""The signer's "headers" and "prove" duties (design-14 section 5.2): executes what
:func:`etm_bridge.custody.duties.decide` asks over a view this module reads.

Per custody chain with options in ``custody_signer.json``, the signer reads its own foreign node
through the chain's adapter (the ``etm_bridge.adapters`` plug-in the chain's signer part names,
``ADAPTER``; built lazily from the same ``rpc_url``/``rpc_user``/``rpc_password``, the network
of the genesis custody section, and a wallet key derived from the agent seed that is never
funded nor used). Each tick, for every open mandate's revision txids: where the spend is on
that node (``payment_status``, scanning only blocks not scanned before for it, from
:data:`LOOKBACK` below the tip the first time), ETM's relay tip, its policy, and whether the
relay's best chain holds the spend's block. Then:

* :class:`~etm_bridge.custody.duties.RelayHeaders`: the header feed the swap engine's relay step
  uses (:func:`etm_bridge.etm_client.header_feed.feed_missing_headers`: fork point, batches,
  ``spv_duplicate`` races), signed by the agent key, each batch waited for;
* :class:`~etm_bridge.custody.duties.ProveOutcome`: the adapter's ``custody_outcome_proof``,
  turned into the chain's tx 302 body (``outcome_body`` of its signer part), sent by the agent
  key without waiting (the mandate is then ``pending`` until the tx is in a block or gone).
  A refusal ``outcome_replayed`` (another signer proved it first) is success.

Every ETM fee is the agent key's (``custody_keys.json``'s ``agent``): fund its account.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..adapters_registry import create_adapter
from ..chain.keys import SigningKey
from ..chains.registry import chain_registry
from ..custody import duties, records
from ..custody.outcome import OutcomeProof
from ..custody.txtypes import OUTCOME
from ..errors import EtmBridgeError, LockNotFoundError, NotFoundError, TxRejectedError
from ..etm_client import header_feed
from ..etm_client.custody import CustodyClient
from ..etm_client.submit import NonceCache, Submitter
from ..node.client import NodeClient
from ..spv.relay_policy import RelayPolicy
from . import keys

log = logging.getLogger("etm_bridge.custody_signer")
#: How far below its node's tip the signer first looks for a revision's spend.
LOOKBACK = 144
#: Seconds each member waits after the one before it in a spend's turn order (``rank``).
DEFAULT_GRACE_S = 10.0
#: Tx 302's refusal of a mandate proven already (by another signer's proof): success.
REPLAYED = "outcome_replayed"


class Prover:
    def __init__(
        self,
        node: NodeClient,
        agent_seed: bytes,
        options: Mapping[str, Mapping[str, Any]],
        networks: Mapping[str, str],
        data_dir: Path,
        my_keys: Mapping[str, bytes] | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], float] = time.time,
    ):
        self.node = node
        self.custody = CustodyClient(node)
        self.my_keys, self.grace_s, self.clock = dict(my_keys or {}), grace_s, clock
        self.deep_since: dict[bytes, float] = {}  # txid -> when our node first had it deep
        self.agent = Submitter(node, SigningKey(agent_seed))
        self.wallet_hex = hashlib.sha256(
            b"etm-bridge signer adapter wallet" + agent_seed
        ).hexdigest()
        self.options, self.networks, self.data_dir = options, networks, data_dir
        self.adapters: dict[str, Any] = {}
        self.scanned: dict[bytes, int] = {}  # txid -> the highest block searched for it
        self.heights: dict[bytes, int] = {}  # txid -> block it was found in
        self.pending: dict[bytes, str] = {}  # mandate -> our 302's ETM tx id

    def _adapter(self, ticker: str) -> Any | None:
        kit = keys.signing_kit(ticker)
        if ticker not in self.options or kit is None or not hasattr(kit, "ADAPTER"):
            return None
        if ticker not in self.adapters:
            opts = dict(self.options[ticker])
            config = {**opts, "secret_hex": self.wallet_hex, "network": self.networks[ticker],
                      "data_dir": str(self.data_dir / "signer_adapters"),
                      "birth_height": 0}  # fmt: skip
            self.adapters[ticker] = create_adapter(kit.ADAPTER, config)
        return self.adapters[ticker]

    # --- the view -----------------------------------------------------------------------------

    def view(self, mandates: Sequence[records.Mandate]) -> duties.SignerView:
        chains: dict[str, duties.ChainView] = {}
        members: dict[str, tuple[bytes, ...]] = {}
        if any(self._adapter(m.ticker) is not None and m.revisions for m in mandates):
            data = self.custody.status()
            if data.get("committee") is not None:
                members = dict(records.decode(records.Committee, data["committee"]).keys)
        sightings: list[duties.SpendSighting] = []
        for m in mandates:
            adapter = self._adapter(m.ticker)
            if adapter is None or not m.revisions:
                continue
            if m.ticker not in chains:
                chains[m.ticker] = self._chain(m.ticker, adapter, members.get(m.ticker, ()))
            kit = keys.signing_kit(m.ticker)
            assert kit is not None
            for rev in m.revisions:
                if rev.txid is None:
                    continue
                height = self._height(adapter, rev.txid, chains[m.ticker].foreign_tip)
                relayed = height is not None and self._relayed(m.ticker, adapter, height)
                moved = kit.moved(rev.spend)
                sightings.append(duties.SpendSighting(
                    m.ticker, m.id, rev.rev, rev.txid, height, moved, relayed))  # fmt: skip
        return duties.SignerView(chains, tuple(sightings), frozenset(self.pending),
                                 self.clock(), self.deep_since, self.grace_s)  # fmt: skip

    def _chain(self, ticker: str, adapter: Any, members: tuple[bytes, ...]) -> duties.ChainView:
        tip = int(adapter.tip().height)
        profile = chain_registry().by_ticker(ticker)
        relay = profile.require_relay()
        me = self.my_keys.get(ticker, b"")
        try:
            status = self.node.spv_relay(ticker)
        except NotFoundError:
            return duties.ChainView(tip, None, RelayPolicy(1), members, me)
        relay_tip = int((status.get("tip") or {}).get(relay.tip_field, 0))
        return duties.ChainView(tip, relay_tip, RelayPolicy(**status["policy"]), members, me)

    def _height(self, adapter: Any, txid: bytes, tip: int) -> int | None:
        """The block holding ``txid`` on our node (None: mempool or not seen), searching only
        blocks not searched before for it."""
        ref = txid[::-1].hex()
        since = self.scanned.get(txid, max(0, tip - LOOKBACK) - 1) + 1
        known = self.heights.get(txid)
        if known is not None:
            since = min(since, known)
        try:
            status = adapter.payment_status(ref, since_height=min(since, tip))
        except LockNotFoundError:
            self.heights.pop(txid, None)
            self.scanned[txid] = tip
            return None
        if status.block_height is None:
            self.heights.pop(txid, None)
            return None
        self.heights[txid] = int(status.block_height)
        self.scanned[txid] = int(status.block_height) - 1  # a reorg: look again from there
        return int(status.block_height)

    def _relayed(self, ticker: str, adapter: Any, height: int) -> bool:
        relay = chain_registry().by_ticker(ticker).require_relay()
        ours = adapter.headers(height, 1)
        best = self.node.spv_best_hash(ticker, height)
        return bool(ours) and best is not None and relay.header_id(ours[0]) == best

    # --- the duties ---------------------------------------------------------------------------

    def tick(self, mandates: Sequence[records.Mandate]) -> None:
        self._settle_pending()
        view = self.view(mandates)
        deep = duties.deep_spends(view)
        for txid in deep:
            self.deep_since.setdefault(txid, view.now_s)
        for txid in set(self.deep_since) - deep:  # proven (no longer open) or reorganised
            del self.deep_since[txid]
        failed: set[str] = set()
        for duty in duties.decide(view):
            if duty.ticker in failed:
                continue
            try:
                if isinstance(duty, duties.RelayHeaders):
                    self._relay(duty)
                else:
                    self._prove(duty)
            except EtmBridgeError as exc:
                failed.add(duty.ticker)
                log.warning("custody %s duty %s failed: %s", duty.ticker, type(duty).__name__, exc)
                if not self.pending:  # a batch evicted after admission left its nonce unused
                    self.agent.nonces = NonceCache()

    def _relay(self, duty: duties.RelayHeaders) -> None:
        adapter = self.adapters[duty.ticker]
        profile = chain_registry().by_ticker(duty.ticker)
        sent = header_feed.feed_missing_headers(self.node, self.agent, adapter, profile)
        log.info("relayed %d %s headers (a spend needs %d)", sent, duty.ticker, duty.up_to)

    def _prove(self, duty: duties.ProveOutcome) -> None:
        kit = keys.signing_kit(duty.ticker)
        assert kit is not None
        proof = self.adapters[duty.ticker].custody_outcome_proof(duty.txid[::-1].hex(), None)
        payload = OutcomeProof(duty.ticker, duty.mandate_id, kit.outcome_body(proof)).encode()
        try:
            sent = self.agent.submit_raw(OUTCOME, payload, wait=False)
        except TxRejectedError as exc:
            if exc.reason != REPLAYED:
                raise
            log.info("mandate %s already proven (%s)", duty.mandate_id.hex()[:16], exc.reason)
            return
        self.pending[duty.mandate_id] = sent.id
        log.info("mandate %s outcome proof sent: %s", duty.mandate_id.hex()[:16], sent.id)

    def _settle_pending(self) -> None:
        for mid, tx_id in list(self.pending.items()):
            try:
                status = str(self.node.transaction(tx_id).get("status"))
            except NotFoundError:
                status = "gone"
            if status == "pending":
                continue
            del self.pending[mid]
            if (
                status != "confirmed"
            ):  # evicted (another signer's proof won the block): its nonce was never used
                self.agent.nonces = NonceCache()

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()
