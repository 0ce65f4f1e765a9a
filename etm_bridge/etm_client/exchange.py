"""The ETM exchange over a node's HTTP API: :class:`NodeExchange`, the swap engine's
:class:`~etm_bridge.swaps.core.ports.SwapGateway` and the use cases'
:class:`~etm_bridge.swaps.core.ports.EtmExchange`.

Pool swaps (whitepaper 6.2) need ETM facts and writes that are not HTLC facts:

- **relay**: the best height and headers of the ETM chain's relay of each foreign chain
  (``/api/spv/<ticker>``); missing headers are fed as the relay's headers transactions
  (:mod:`.header_feed`, which finds the fork point itself);
- **proof**: the SPV proof of the user's foreign lock is submitted as ``xchg_swap_in`` (the
  exchange checks it and locks pool ETM to the user with the same hashlock, for the short leg);
  the proof is *accepted* once an ETM HTLC with the swap's hashlock, funded by the pool, exists
  (read through the ETM leg adapter), *rejected* when the node refused the submission for a
  reason that waiting cannot fix (late proof, wrong amount, ...);
- **intent**: :meth:`NodeExchange.record_intent` records the user's pinned minimum output on
  ETM (``xchg_swap_intent``), so that anyone (the operator's watcher) may submit the proof;
- **swap out**: our ETM locked to a pool (``xchg_swap_out``), the user leg of an ETM -> foreign
  pool swap; pools, quotes, bindings, deposits, and the pools' swap log (what an operator
  follows).

The pool operator's side relays **continuously** (:meth:`NodeExchange.relay_chain` for each
chain, each tick of ``watch --operator``): every header of a permissionless relay (anyone may
feed those) and, with a trusted relayer's key, of the others. ETM refuses a lock proof while the
relay tip's timestamp lags the ETM block time by more than the relay's ``max_lag_s``
(``stale_relay``, issue 11 attack 2), so a relay kept fresh is what keeps proofs flowing; a
user's engine also relays what is missing right before it proves, and treats ``stale_relay``
as transient (retried after relaying).

Chain names are the engine's leg names; each is mapped to its foreign chain record
(``legs``), by its name, ticker or alias or by its adapter's entry point, so a chain configured
under a name of its own (``[chains.mine]`` with the adapter's entry point) works. Every write
of one key goes through the key's one :class:`~.submit.Submitter`, shared with the ETM leg
adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..adapter import ChainAdapter, HtlcLock, HtlcTerms, InclusionProof, KeyKind
from ..chain.address import encode_address
from ..chain.codec import U64
from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..errors import (
    ChainError,
    ConfigError,
    NotFoundError,
    SwapError,
    TxRejectedError,
    ValidationError,
)
from ..exchange import payloads, records, txtypes
from ..exchange.htlc import Htlc
from ..exchange.records import PoolSwap
from ..node.client import NodeClient
from ..swaps.core.model import SwapRecord
from ..swaps.core.pool_terms import PoolInfo, pool_leg_key
from ..swaps.core.ports import TxResult
from ..swaps.core.views import ProofStatus, ProofView
from . import header_feed
from .htlc_leg import EtmAdapter
from .submit import Submitter

#: Swap-in rejections that no amount of waiting or relaying fixes: the swap fails (the user
#: refunds its lock at its timelock). Every other rejection is transient and the proof is sent
#: again next tick, until ETM accepts it or says ``late_proof``: ``slippage`` (the pool's price
#: may come back; ``min_out`` stays pinned), ``insufficient_liquidity`` (reservations end),
#: ``pool_halted`` (the operator may pay late), ``not_bound`` (the user may bind again), SPV
#: and confirmation reasons (relaying catches up). ``hashlock_used`` / ``hashlock_reserved``
#: are final: a hashlock's use is permanent (issue 11), and with the intent in a block before
#: the lock no stranger can cause them (``exchange.hashlocks``).
FINAL_REJECTIONS = frozenset(
    {
        "late_proof",
        "wrong_amount",
        "wrong_hashlock",
        "wrong_claim_key",
        "wrong_refund_key",
        "wrong_chain",
        "unmarked_lock",
        "hashlock_used",
        "hashlock_reserved",
        "replayed_proof",
        "malformed_proof",
    }
)


def proof_bytes(asset: str, lock: HtlcLock, proof: InclusionProof) -> bytes:
    """The exchange's encoding (``xchg_swap_in`` proof bytes) of the adapter's inclusion proof
    of ``lock``, a lock on the chain of pool asset ``asset``."""
    return chain_registry().for_asset(asset).require_exchange().lock_proof(lock, proof)


class NodeExchange:
    """The exchange port over an ETM node (see the module docstring).

    ``submitter`` signs with our ETM key (relay batches anyone may send, proofs, intents,
    swap outs, ...); ``etm_leg`` is the ETM leg adapter (it reads the pool's HTLCs);
    ``sources`` are the foreign chains' adapters by leg name (headers come from them);
    ``relay_submitter`` signs the headers of relays only trusted relayers may feed (the pool
    operator's key). Without it (a user's engine) such a relay is left to the operator: asked
    to relay, the exchange sends nothing and reports the relay's tip, so the engine waits.
    """

    def __init__(
        self,
        submitter: Submitter,
        etm_leg: EtmAdapter,
        legs: Mapping[str, ChainProfile],
        sources: Mapping[str, ChainAdapter],
        relay_submitter: Submitter | None = None,
    ) -> None:
        self.submitter, self.etm_leg = submitter, etm_leg
        self.client: NodeClient = submitter.client
        self.legs, self.sources = dict(legs), sources
        self.relay_submitter = relay_submitter
        self.rejected: dict[bytes, str] = {}  # hashlock -> final rejection reason

    def _chain(self, chain: str) -> ChainProfile:
        try:
            return self.legs[chain]
        except KeyError:
            known = ", ".join(sorted(self.legs)) or "none"
            raise ConfigError(f"chain {chain!r} has no ETM pool (pool chains: {known})") from None

    def etm_address(self) -> str:
        return self.submitter.address

    def status(self) -> Mapping[str, Any]:
        return self.client.status()

    # --- relay ---------------------------------------------------------------------------------

    def relay_tip(self, chain: str) -> int:
        return header_feed.relay_tip(self.client, self._chain(chain)) or 0

    def relay_header_at(self, chain: str, height: int) -> bytes | None:
        """Our node's header at ``height`` if the relay's best chain has the same one there.
        (The API serves hashes; the engine compares raw headers, so equal hash -> our bytes.)"""
        fc = self._chain(chain)
        best = self.client.spv_best_hash(fc.ticker, height)
        ours = self.sources[chain].headers(height, 1)
        if best is None or not ours:
            return None
        return ours[0] if fc.require_relay().header_id(ours[0]) == best else None

    def _feeder(self, chain: str) -> Submitter | None:
        """Who feeds ``chain``'s relay from here: any key if it is permissionless, else only a
        trusted relayer's (None: we leave it to the operator)."""
        relay = self._chain(chain).require_relay()
        return self.submitter if relay.permissionless else self.relay_submitter

    def relay_headers(self, chain: str, start_height: int, headers: list[bytes]) -> int:
        """Relay everything the ETM relay lacks up to our node's tip (from the fork point the
        header feed finds, which is at or below ``start_height``)."""
        self.relay_chain(chain)
        return self.relay_tip(chain)

    def relay_chain(self, chain: str, *, batch: int | None = None, fee: int | None = None) -> int:
        """Feed ``chain``'s relay every header our node has and it lacks, if we may; how many
        headers were sent (0 when we may not, or have no source)."""
        feeder, source = self._feeder(chain), self.sources.get(chain)
        if feeder is None or source is None:
            return 0
        fc = self._chain(chain)
        return header_feed.feed_missing_headers(
            self.client, feeder, source, fc, batch=batch, fee=fee
        )

    def relayed_chains(self) -> list[str]:
        """The chains we can feed: a source, and a key the relay accepts."""
        return [c for c in sorted(self.legs) if c in self.sources and self._feeder(c)]

    def relay_all(self) -> dict[str, int]:
        return {chain: self.relay_chain(chain) for chain in self.relayed_chains()}

    def relay_confirmations(self, chain: str, height: int, header: bytes) -> int:
        """Confirmations the relay holds of ``chain``'s block ``header`` at ``height`` (0: not
        on its best chain, yet or any more)."""
        fc = self._chain(chain)
        if self.client.spv_best_hash(fc.ticker, height) != fc.require_relay().header_id(header):
            return 0
        return (header_feed.relay_tip(self.client, fc) or 0) - height + 1

    # --- proof ---------------------------------------------------------------------------------

    def proof_view(self, rec: SwapRecord, relay_tip: int) -> ProofView:
        t = rec.terms
        pool = pool_leg_key(self._chain(t.user_leg.chain).ticker)
        if any(lk.terms.refund_key == pool for lk in self.etm_leg.find_locks(t.hashlock)):
            return ProofView(relay_tip, ProofStatus.ACCEPTED)
        reason = self.rejected.get(t.hashlock)
        if reason is not None:
            return ProofView(relay_tip, ProofStatus.REJECTED, reason)
        return ProofView(relay_tip)

    def submit_proof(self, rec: SwapRecord, lock: HtlcLock, proof: InclusionProof) -> str:
        """``xchg_swap_in`` for ``rec``'s user lock: recipient = the counter leg's claim key,
        min_out = the counter leg's amount (the pinned quote). A final rejection is remembered
        (the proof view then says rejected); any other rejection raises, to be retried."""
        t = rec.terms
        fc = self._chain(t.user_leg.chain)
        self.relay_headers(t.user_leg.chain, 0, [])  # a fresh relay tip (else stale_relay)
        payload = payloads.SwapIn(
            fc.ticker,
            encode_address(t.counter_leg.claim_key),
            t.user_leg.amount,
            t.hashlock,
            t.counter_leg.amount,
            fc.require_exchange().lock_proof(lock, proof),
        )
        try:
            sent = self.submitter.submit(txtypes.SWAP_IN, payload, wait=False)
        except TxRejectedError as exc:
            if exc.reason not in FINAL_REJECTIONS:
                raise
            self.rejected[t.hashlock] = exc.reason
            return f"rejected:{exc.reason}"
        return sent.id

    def lock_swap_out(self, terms: HtlcTerms, asset: str, min_out: int) -> HtlcLock:
        """Lock our ETM to pool ``asset`` with ``xchg_swap_out`` (the pool reserves at least
        ``min_out`` of the asset for us); ``terms.claim_key`` must be the pool's leg key."""
        terms.check_key_kind(KeyKind.ETM_ADDRESS)
        if terms.claim_key != pool_leg_key(asset) or terms.refund_key != self.etm_leg.our_key():
            raise ValidationError(f"a swap out locks ETM from us to pool {asset!r}")
        out = payloads.SwapOut(asset, terms.amount, terms.hashlock, terms.timelock_height, min_out)
        txid = self.submitter.submit(txtypes.SWAP_OUT, out, fee=self.etm_leg.fee, wait=False).id
        return HtlcLock("etm", txid, txid, terms, None)

    # --- pools, quotes, bindings ---------------------------------------------------------------

    def pools(self) -> list[PoolInfo]:
        return [PoolInfo.from_api(p) for p in self.client.pools()]

    def pool(self, asset: str) -> dict[str, Any]:
        return self.client.pool(asset)

    def pool_info(self, asset: str) -> PoolInfo:
        try:
            return PoolInfo.from_api(self.client.pool(asset))
        except NotFoundError:
            raise SwapError(f"ETM has no {asset} pool yet (`etm-bridge pool list`)") from None

    def quote(self, asset: str, direction: str, amount_in: int) -> dict[str, Any]:
        return self.client.quote(asset, direction, amount_in)

    def deposit_quote(self, asset: str, amount: int) -> dict[str, Any]:
        return self.client.deposit_quote(asset, amount)

    def bound_key(self, address: str, ticker: str) -> bytes | None:
        bound = self.client.bindings(address).get(ticker)
        return None if bound is None else bytes.fromhex(str(bound["key"]).removeprefix("0x"))

    def last_binding_nonce(self, address: str, ticker: str) -> int | None:
        return self.client.last_binding_nonce(address, ticker)

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[PoolSwap, Htlc]], str | None]:
        """The swaps pool ``asset`` opened (open or ended) after cursor ``after`` (None: all),
        with their HTLC, in the order opened, and the cursor to poll from next: what a pool
        operator must act on. Paged reads of the node's swap log, so each request is small
        whatever the chain's history."""
        rows, cursor = self.client.swap_history(asset, after)
        swaps = [
            (records.decode(PoolSwap, row["swap"]), records.decode(Htlc, row["htlc"]))
            for row in rows
        ]
        return swaps, checked_log_cursor(asset, after, len(rows), cursor)

    def log_heights(self) -> tuple[int, int]:
        status = self.client.status()
        tip = int(status["height"])
        return tip, int(status.get("finalizedHeight") or 0)

    # --- writes ----------------------------------------------------------------------------------

    def submit(
        self, type_id: int, payload: Any, *, fee: int | None = None, wait: bool = True
    ) -> TxResult:
        return self.submitter.submit(type_id, payload, fee=fee, wait=wait)

    def record_intent(self, asset: str, hashlock: bytes, amount_in: int, min_out: int) -> TxResult:
        """``xchg_swap_intent`` (pins ``min_out``, reserves the hashlock), waited for."""
        intent = payloads.SwapIntentPayload(asset, hashlock, amount_in, min_out)
        return self.submitter.submit(txtypes.SWAP_INTENT, intent)

    def cancel_intent(self, hashlock: bytes) -> TxResult:
        """``xchg_swap_intent_cancel``: release our intent, its bond back less the cancel
        charge (issue 15), waited for."""
        return self.submitter.submit(
            txtypes.SWAP_INTENT_CANCEL, payloads.SwapIntentCancel(hashlock)
        )

    def swap_intent(self, hashlock: bytes) -> dict[str, Any] | None:
        """Our bonded intent for ``hashlock`` as the node shows it (None if none)."""
        return self.client.swap_intent(self.etm_address(), hashlock)

    def submit_deposit(
        self, asset: str, proof: bytes, *, etm_max: int, min_shares: int = 1, fee: int | None = None
    ) -> TxResult:
        """``xchg_lp_deposit`` with an encoded deposit proof and at most ``etm_max`` ETM."""
        deposit = payloads.LpDeposit(asset, etm_max, min_shares, proof)
        return self.submitter.submit(txtypes.LP_DEPOSIT, deposit, fee=fee)


def _log_seq(asset: str, cursor: str) -> int:
    """The swap number a cursor of pool ``asset``'s swap log names (``asset || 0x00 || seq``)."""
    prefix = records.asset_key(asset, b"")
    try:
        raw = bytes.fromhex(cursor)
    except ValueError:
        raw = b""
    if not raw.startswith(prefix) or len(raw) != len(prefix) + U64.size:
        raise ChainError(f"the ETM node answered {cursor[:80]!r}, not a cursor of the {asset} "
                         "pool's swap log: a broken or lying endpoint, use another")  # fmt: skip
    return int(U64.unpack(raw[len(prefix) :])[0])


def checked_log_cursor(asset: str, after: str | None, count: int, cursor: str | None) -> str | None:
    """``cursor`` if it is where ``count`` swaps of pool ``asset``'s log read after ``after``
    end (the log is numbered 0, 1, ... with no gaps); ChainError else.

    The operator saves this cursor and never reads below it again (review x5): a node that
    answered a cursor past the swaps it returned (``"ff..."``, or one far ahead) made the
    operator skip every swap up to it for ever, even after the node was replaced. A node can
    still withhold the newest swaps (a node behind does that too), which are read later."""
    start = -1 if after is None else _log_seq(asset, after)
    want = after if count == 0 else records.asset_key(asset, U64.pack(start + count)).hex()
    if cursor != want:
        raise ChainError(
            f"the ETM node's swap log of pool {asset} is inconsistent: {count} swap(s) after "
            f"cursor {after} end at {cursor}, not {want} (a broken or lying endpoint: use "
            "another; the saved cursor did not move)"
        )
    return cursor
