"""Several ETM endpoints as one client: writes to all, reads from the ones the majority backs.

:class:`NodeSet` is a :class:`~etm_bridge.node.client.NodeClient` (every read method of the
client works unchanged, so the HTLC leg, the exchange port, the header feed and the CLI do not
know whether they talk to one node or to several):

* **writes** (:meth:`NodeSet.submit_tx`) go to every endpoint. Accepted by at least one: done
  (an endpoint that refused what another accepted is flagged in :meth:`NodeSet.health`);
  refused by every endpoint that answered: the refusal is raised (one message naming each
  endpoint's reason when they differ); no endpoint answered: NodeUnavailableError naming every
  URL. Each submitted transaction is tracked until it is in a block (:meth:`check_inclusion`,
  :mod:`~etm_bridge.etm_client.inclusion`): re-sent after 3 produced blocks, reported as
  censorship after 10; it counts as included only once a majority of the trusted endpoints
  show it in a block (the node that dropped it cannot end the tracking by saying it is in).
* **reads** go to the first *trusted* endpoint (:mod:`~etm_bridge.etm_client.crosscheck`: on
  the majority's final block, not behind, not ahead, not syncing); on a connection error the
  next trusted endpoint is asked and the assessment is redone. It is redone at most every
  ``refresh_s`` anyway. No trusted endpoint: NodeUnavailableError naming each verdict.
* **admin routes** (forging control in tests and the stack) go to the first endpoint, whose
  admin token the set holds.

Every endpoint is asked at once (a thread each), so a slow or silent one costs its timeout
once per round of questions: its ``timeout_s`` in all, however slowly it trickles its answer,
and while such a late answer is still coming that endpoint counts as down without being asked
again. A reply's transaction id is checked against the transaction's own: an endpoint that
answers another id is flagged and not counted as accepting. One URL gives a set of one: the
same code path, and a single node is trusted whenever it answers (nothing to cross-check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..chain.tx import Tx
from ..errors import (
    ConfigError,
    EtmBridgeError,
    NodeUnavailableError,
    NotFoundError,
    TxRejectedError,
    ValidationError,
)
from ..node.client import NodeClient
from .calls import Call, Late
from .crosscheck import (
    Assessment,
    CrossCheckPolicy,
    EndpointStatus,
    EndpointView,
    assess,
    majority,
    reference_height,
)
from .inclusion import CensorshipSuspected, InclusionPolicy, InclusionTracker

log = logging.getLogger(__name__)
T = TypeVar("T")


def _status_of(client: NodeClient) -> EndpointStatus:
    try:
        s = client.status()
        return EndpointStatus(
            client.url,
            True,
            _height(s, "height"),
            _height(s, "finalizedHeight"),
            bool(s.get("syncing", False)),
        )
    except (EtmBridgeError, KeyError, TypeError, ValueError) as exc:
        return EndpointStatus(client.url, False, error=str(exc) or type(exc).__name__)


def _height(status: dict[str, Any], name: str) -> int:
    """``status[name]`` if it is a height (an integer >= 0); ValueError else (``1e999``
    decodes to an infinite float, whose int() raised OverflowError out of the assessment)."""
    value = status[name]
    if type(value) is not int or value < 0:
        raise ValueError(f"its status says {name} {str(value)[:40]!r}, not a height")
    return value


def _view_of(client: NodeClient, status: EndpointStatus, ref: int) -> EndpointView:
    if not status.votes or status.height < ref:
        return EndpointView(status)
    try:
        return EndpointView(status, str(client.block(ref)["fullId"]))
    except NotFoundError:
        return EndpointView(status)
    except (EtmBridgeError, KeyError, TypeError) as exc:
        error = f"block {ref} unreadable: {exc}"
        return EndpointView(EndpointStatus(client.url, False, error=error))


class NodeSet(NodeClient):
    """Several ETM nodes behind the NodeClient surface (see the module docstring)."""

    def __init__(
        self,
        clients: Sequence[NodeClient],
        policy: CrossCheckPolicy | None = None,
        *,
        inclusion: InclusionPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not clients:
            raise ConfigError("an ETM node set needs at least one endpoint ([etm] urls)")
        urls = [c.url for c in clients]
        if len(set(urls)) != len(urls):
            raise ConfigError(f"ETM endpoints listed twice: {', '.join(urls)}")
        first = clients[0]
        super().__init__(first.url, admin_token=first.admin_token, timeout_s=first.timeout_s)
        self.clients = list(clients)
        self.policy = policy or CrossCheckPolicy()
        self.tracker = InclusionTracker(inclusion)
        self.clock = clock
        self.flags: dict[str, str] = {}  # url -> why its last write answer is suspect
        self.suspected: tuple[CensorshipSuspected, ...] = ()
        self._assessment: Assessment | None = None
        self._assessed_at = float("-inf")
        self._late: dict[str, Call] = {}  # url -> a call past its deadline, still running
        self._lock = threading.Lock()

    @classmethod
    def from_urls(
        cls,
        urls: Sequence[str],
        *,
        admin_token: str | None = None,
        policy: CrossCheckPolicy | None = None,
        inclusion: InclusionPolicy | None = None,
        timeout_s: float = 10.0,
    ) -> NodeSet:
        """A set of ``urls`` (the first gets ``admin_token``)."""
        clients = [
            NodeClient(u, admin_token=admin_token if i == 0 else None, timeout_s=timeout_s)
            for i, u in enumerate(urls)
        ]
        return cls(clients, policy, inclusion=inclusion)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(c.url for c in self.clients)

    # --- asking the endpoints -----------------------------------------------------------------

    def _each(
        self,
        clients: Sequence[NodeClient],
        fn: Callable[[NodeClient], T],
        late: Callable[[NodeClient, str], T],
    ) -> list[T]:
        """``fn`` of every client at once, results in the clients' order; ``late(client, why)``
        for one that did not finish within its ``timeout_s`` (in all), or that is still busy
        with such a late call (not asked again meanwhile: one stuck thread per endpoint at
        most). ``fn`` must not raise."""
        start = time.monotonic()
        calls: list[Call | str] = []
        with self._lock:
            for client in clients:
                stuck = self._late.get(client.url)
                if stuck is not None and stuck.running:
                    calls.append(f"ETM endpoint {client.url} is still answering an earlier request")
                    continue
                self._late.pop(client.url, None)
                calls.append(Call(fn, client))
        out: list[T] = []
        for client, call in zip(clients, calls, strict=True):
            if isinstance(call, str):
                out.append(late(client, call))
                continue
            try:
                out.append(call.result(start + client.timeout_s))
            except Late as exc:
                with self._lock:
                    self._late[client.url] = call
                out.append(late(client, str(exc)))
        return out

    # --- the cross-check ----------------------------------------------------------------------

    def assess(self, *, force: bool = False) -> Assessment:
        """The current verdicts (redone when older than ``refresh_s`` or ``force``)."""
        now = self.clock()
        if force or self._assessment is None or now - self._assessed_at >= self.policy.refresh_s:
            statuses = self._each(
                self.clients, _status_of, lambda c, why: EndpointStatus(c.url, False, error=why)
            )
            ref = reference_height(statuses)
            by_url = {st.url: st for st in statuses}
            views = (
                [EndpointView(st) for st in statuses]
                if ref is None
                else self._each(
                    self.clients,
                    lambda c: _view_of(c, by_url[c.url], ref),
                    lambda c, why: EndpointView(EndpointStatus(c.url, False, error=why)),
                )
            )
            assessment = assess(views, self.policy, ref)
            self._log_changes(assessment)
            self._assessment, self._assessed_at = assessment, now
        return self._assessment

    def _log_changes(self, new: Assessment) -> None:
        old = {v.url: v.verdict for v in self._assessment.verdicts} if self._assessment else {}
        for v in new.verdicts:
            if not v.trusted and old.get(v.url) is not v.verdict:
                log.warning("ETM endpoint %s is not read from: %s (%s)", v.url, v.verdict, v.detail)

    def health(self) -> list[dict[str, Any]]:
        """Each endpoint's verdict (JSON-ready), with a flag when a write answer was suspect."""
        out = []
        for v in self.assess().verdicts:
            row = v.to_json()
            if v.url in self.flags:
                row["flag"] = self.flags[v.url]
            out.append(row)
        return out

    def canonical_height(self) -> int | None:
        """The majority's tip (None: no trusted view now)."""
        try:
            return self.assess().canonical_tip
        except EtmBridgeError:
            return None

    # --- reads --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if path.startswith("/api/admin"):
            return self.clients[0]._request(method, path, **kwargs)
        if method != "GET":
            raise ValidationError(f"NodeSet: {method} {path} is not a read; use submit_tx")
        return self._read(method, path, **kwargs)

    def _trusted_clients(self, assessment: Assessment) -> list[NodeClient]:
        by_url = {c.url: c for c in self.clients}
        return [by_url[u] for u in assessment.trusted]

    def _read(self, method: str, path: str, **kwargs: Any) -> Any:
        assessment = self.assess()
        tried: list[str] = []
        for attempt in range(2):  # a second pass on a fresh assessment after errors
            for client in self._trusted_clients(assessment):
                if client.url in tried:
                    continue
                try:
                    return self._read_one(client, method, path, **kwargs)
                except NodeUnavailableError as exc:
                    tried.append(client.url)
                    log.warning("ETM endpoint %s failed a read (%s); next", client.url, exc)
            if attempt == 0:
                assessment = self.assess(force=True)
        raise NodeUnavailableError(
            f"no trusted ETM endpoint answered {path}: {assessment.describe()}"
            + (f"; failed just now: {', '.join(tried)}" if tried else "")
        )

    def read_everywhere(self, path: str) -> dict[str, Any]:
        """GET ``path`` from every trusted endpoint at once: url -> its answer, or the
        EtmBridgeError it gave (a late one: NodeUnavailableError). For what a client must not
        take on one endpoint's word (the vault an LP deposit pays)."""
        assessment = self.assess()
        clients = self._trusted_clients(assessment)
        if not clients:
            raise NodeUnavailableError(f"no trusted ETM endpoint to read {path}: "
                                       f"{assessment.describe()}")  # fmt: skip

        def ask(c: NodeClient) -> Any:
            try:
                return c._request("GET", path)
            except EtmBridgeError as exc:
                return exc

        answers = self._each(clients, ask, lambda c, why: NodeUnavailableError(why))
        return {c.url: a for c, a in zip(clients, answers, strict=True)}

    def _read_one(self, client: NodeClient, method: str, path: str, **kwargs: Any) -> Any:
        """One endpoint's answer, within its timeout in all (else NodeUnavailableError)."""

        def ask(c: NodeClient) -> Any:
            try:
                return c._request(method, path, **kwargs)
            except EtmBridgeError as exc:
                return exc

        answer = self._each([client], ask, lambda c, why: NodeUnavailableError(why))[0]
        if isinstance(answer, EtmBridgeError):
            raise answer
        return answer

    # --- writes -------------------------------------------------------------------------------

    def submit_tx(self, signed: bytes) -> dict[str, Any]:
        """Send to every endpoint (module docstring); the first acceptance's answer."""
        accepted, refused, down = self._send_all(bytes(signed))
        if not accepted:
            raise _write_failure(refused, down)
        for url, exc in refused.items():
            self.flags[url] = f"refused a transaction others accepted: {exc}"
            log.warning("ETM endpoint %s refused what others accepted: %s", url, exc)
        reply = accepted[0][1]
        height = self.canonical_height()
        self.tracker.track(reply["id"], bytes(signed), height, tuple(u for u, _ in accepted))
        return reply

    def _send_all(
        self, signed: bytes
    ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, EtmBridgeError], dict[str, str]]:
        accepted: list[tuple[str, dict[str, Any]]] = []
        refused: dict[str, EtmBridgeError] = {}
        down: dict[str, str] = {}
        outcomes = self._each(
            self.clients, _submit(signed), lambda c, why: NodeUnavailableError(why)
        )
        tx_id: str | None = None
        for client, outcome in zip(self.clients, outcomes, strict=True):
            if isinstance(outcome, NodeUnavailableError):
                down[client.url] = str(outcome)
            elif isinstance(outcome, EtmBridgeError):
                refused[client.url] = outcome
            else:
                # bytes no node can decode raise ValidationError here, whoever accepted them
                tx_id = tx_id or Tx.decode(signed).id.hex()
                if isinstance(outcome, dict) and outcome.get("id") == tx_id:
                    accepted.append((client.url, outcome))
                    continue
                # the id is the transaction's, not the endpoint's word: a false one would have
                # the tracker wait for a transaction that never comes (a false censorship)
                why = f"accepted the transaction {tx_id} with a false answer {str(outcome)[:80]}"
                self.flags[client.url] = why
                log.warning("ETM endpoint %s %s", client.url, why)
                down[client.url] = why
        return accepted, refused, down

    # --- inclusion ----------------------------------------------------------------------------

    def check_inclusion(self) -> tuple[CensorshipSuspected, ...]:
        """Look at every tracked transaction: included ones are dropped, late ones re-sent to
        every endpoint, very late ones returned (and kept in :attr:`suspected`) as
        CensorshipSuspected. Needs a trusted view (else the last suspicions are kept)."""
        if not len(self.tracker):
            self.suspected = ()
            return self.suspected
        height = self.canonical_height()
        if height is None:
            return self.suspected
        for tracked in self.tracker.tracked():
            if self._in_block(tracked.tx_id):
                self.tracker.included(tracked.tx_id)
        due = self.tracker.due(height)
        for tx_id in due.forget:
            log.warning("ETM transaction %s: no longer tracked after %d blocks", tx_id, height)
            self.tracker.forget(tx_id)
        for tracked in due.rebroadcast:
            self._rebroadcast(tracked.tx_id, tracked.encoded, height)
        self.suspected = tuple(s for s in due.suspected if s.tx_id in self.tracker)
        for s in self.suspected:
            log.warning("%s", s.message())
        return self.suspected

    def _in_block(self, tx_id: str) -> bool:
        """In a block by a majority of the trusted endpoints that answer: one endpoint (the one
        that dropped it, say) saying "confirmed" does not stop the re-sending."""

        def confirmed(client: NodeClient) -> bool | None:
            try:
                return client.transaction(tx_id).get("status") == "confirmed"
            except NotFoundError:
                return False
            except (EtmBridgeError, AttributeError):
                return None  # no answer (or no JSON object): no vote

        answers = self._each(self._trusted_clients(self.assess()), confirmed, lambda c, why: None)
        votes = [a for a in answers if a is not None]
        return bool(votes) and sum(votes) >= majority(len(votes))

    def _rebroadcast(self, tx_id: str, encoded: bytes, height: int) -> None:
        accepted, refused, _ = self._send_all(encoded)
        log.warning(
            "ETM transaction %s not in a block yet: re-sent to every endpoint (accepted by %s)",
            tx_id,
            ", ".join(u for u, _ in accepted) or "none",
        )
        if refused and len(refused) >= majority(len(refused) + len(accepted)):
            # most endpoints that answered say it can never apply (its nonce was used, its HTLC
            # spent): not censorship, even if one endpoint (a liar that accepts anything, a
            # lagging one) still takes it
            log.warning("ETM transaction %s refused by most endpoints: no longer tracked", tx_id)
            self.tracker.forget(tx_id)
            return
        self.tracker.resent(tx_id, height, tuple(u for u, _ in accepted))


def _submit(signed: bytes) -> Callable[[NodeClient], dict[str, Any] | EtmBridgeError]:
    """One endpoint's answer to ``signed``: its reply, or the error it gave (not raised)."""

    def send(client: NodeClient) -> dict[str, Any] | EtmBridgeError:
        try:
            return client.submit_tx(signed)
        except (NodeUnavailableError, TxRejectedError, ValidationError) as exc:
            return exc

    return send


def _write_failure(refused: dict[str, EtmBridgeError], down: dict[str, str]) -> EtmBridgeError:
    """The one error of a write no endpoint accepted."""
    if not refused:
        listed = "; ".join(f"{u}: {e}" for u, e in down.items())
        return NodeUnavailableError(f"no ETM endpoint accepted the transaction: {listed}")
    first = next(iter(refused.values()))
    if len({str(e) for e in refused.values()}) == 1 and not down:
        return first
    listed = "; ".join([*(f"{u}: {e}" for u, e in refused.items()), *(f"{u}: down" for u in down)])
    if isinstance(first, TxRejectedError):
        return TxRejectedError(first.reason, f"{first.detail} (endpoints: {listed})")
    return ValidationError(f"every ETM endpoint that answered refused the transaction: {listed}")
