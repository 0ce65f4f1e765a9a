"""The ETM exchange seen by the swap engine through a node's HTTP API: an :class:`SwapGateway`.

Pool swaps (whitepaper 6.2) need ETM facts and writes that are not HTLC facts:

- **relay**: the best height and headers of the ETM chain's Bitcoin / Ethereum SPV relay
  (``/api/spv/...``); missing headers are sent as ``btc_relay_headers`` / ``eth_relay_headers``
  transactions (:mod:`etm_bridge.node.relaying`, which finds the fork point itself);
- **proof**: the SPV proof of the user's foreign lock is submitted as ``xchg_swap_in`` (the
  exchange checks it and locks pool ETM to the user with the same hashlock, for the short leg);
  the proof is *accepted* once an ETM HTLC with the swap's hashlock, funded by the pool, exists
  (read through the ETM leg adapter), *rejected* when the node refused the submission for a
  reason that waiting cannot fix (late proof, wrong amount, ...);
- **intent**: :func:`submit_swap_intent` records the user's pinned minimum output on ETM
  (``xchg_swap_intent``), so that anyone (the operator's watcher) may submit the proof for them.

The pool operator's side relays **continuously** (:meth:`NodeExchange.relay_all`, each tick of
``watch --operator`` / ``stack operator``): every Bitcoin header its node has (anyone may relay
those) and every Ethereum header (its trusted relayer key). ETM refuses a lock proof while the
relay tip's timestamp lags the ETM block time by more than the relay's ``max_lag_s``
(``stale_relay``, issue 11 attack 2), so a relay kept fresh is what keeps proofs flowing; a
user's engine also relays what is missing right before it proves, and treats ``stale_relay``
as transient (retried after relaying).

Chain names are the engine's (``bitcoin``/``btc``, ``ethereum``/``eth``); assets are the
exchange's (``btc``, ``eth``). Signing uses one ETM key (the user's or the operator's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etm_bridge.chains.bitcoin.etm.verifier import BtcProof, htlc_witness_script
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.ethereum.etm.verifier import EthProof
from etm_bridge.chains.ethereum.spv.rlp import header_hash

from ..adapter import ChainAdapter, HtlcLock, HtlcTerms, InclusionProof
from ..chain.address import encode_address
from ..chain.keys import SigningKey
from ..errors import ConfigError, NotFoundError, TxRejectedError
from ..exchange import payloads as pl
from ..exchange import txtypes as xt
from ..exchange.htlc import Htlc
from ..exchange.records import SwapRecord as PoolSwap
from ..node import relaying
from ..node.client import NodeClient
from ..swaps.core.model import SwapRecord
from ..swaps.core.pool_terms import pool_leg_key
from ..swaps.core.views import ProofStatus, ProofView
from .htlc_leg import EtmAdapter

#: Engine chain name -> exchange asset / relay name.
ASSETS = {"bitcoin": "btc", "btc": "btc", "ethereum": "eth", "eth": "eth"}

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


def asset_of(chain: str) -> str:
    try:
        return ASSETS[chain]
    except KeyError:
        raise ConfigError(f"chain {chain!r} has no ETM pool (known: bitcoin, ethereum)") from None


def submit_swap_intent(
    client: NodeClient, key: SigningKey, asset: str, hashlock: bytes, amount_in: int, min_out: int
) -> dict[str, Any]:
    """Record ``xchg_swap_intent`` (pins ``min_out``) and wait for its block."""
    payload = pl.SwapIntentPayload(asset, hashlock, amount_in, min_out)
    return relaying.sign_and_submit(client, key, xt.SWAP_INTENT, pl.encode_payload(payload))


def proof_bytes(asset: str, lock: HtlcLock, proof: InclusionProof) -> bytes:
    """The exchange's encoding of the adapter's inclusion proof of ``lock``."""
    if asset == "btc":
        vout = int(lock.lock_id.split(":")[1])
        t = lock.terms
        script = htlc_witness_script(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)
        return BtcProof.from_adapter_proof(proof, vout, script).encode()
    return EthProof.from_adapter_proof(proof).encode()


class NodeExchange:
    """:class:`~etm_bridge.swaps.runtime.observe.SwapGateway` over an ETM node's HTTP API.

    ``sources`` are the foreign chains' adapters by engine chain name (headers come from them);
    ``etm`` is the ETM leg adapter (it reads the pool's HTLCs); ``key`` signs Bitcoin relay and
    proof transactions (anyone may send those). ``relay_key`` signs Ethereum headers, which only
    the relay's trusted relayers (named in the ETM genesis) may send: the pool operator's side
    holds it and relays every tick (:meth:`relay_trusted`). Without it (a user's engine) the
    Ethereum relay is left to the operator: asked to relay, the gateway sends nothing and
    reports the relay's tip, so the engine waits until the relay reaches its lock's block.
    """

    def __init__(
        self,
        client: NodeClient,
        key: SigningKey,
        etm: EtmAdapter,
        sources: Mapping[str, ChainAdapter],
        relay_key: SigningKey | None = None,
    ) -> None:
        self.client, self.key, self.etm = client, key, etm
        self.relay_key = relay_key  # Ethereum headers: a trusted relayer's key (or None)
        self.sources = dict(sources)
        self.rejected: dict[bytes, str] = {}  # hashlock -> final rejection reason

    # --- relay ---------------------------------------------------------------------------------

    def relay_tip(self, chain: str) -> int:
        relay = asset_of(chain)
        try:
            status = self.client.spv_relay(relay)
        except NotFoundError:
            return 0  # the btc_regtest relay starts with the first batch
        tip = status.get("tip") or {}
        return int(tip.get("height" if relay == "btc" else "number", 0))

    def relay_header_at(self, chain: str, height: int) -> bytes | None:
        """Our node's header at ``height`` if the relay's best chain has the same one there.
        (The API serves hashes; the engine compares raw headers, so equal hash -> our bytes.)"""
        relay = asset_of(chain)
        best = self.client.spv_best_hash(relay, height)
        ours = self.sources[chain].headers(height, 1)
        if best is None or not ours:
            return None
        mine = dsha256(ours[0])[::-1].hex() if relay == "btc" else "0x" + header_hash(ours[0]).hex()
        return ours[0] if mine == best else None

    def relay_headers(self, chain: str, start_height: int, headers: list[bytes]) -> int:
        """Relay everything the ETM relay lacks up to our node's tip (from the fork point the
        relaying helper finds, which is at or below ``start_height``)."""
        relay = asset_of(chain)
        key = self.key if relay == "btc" else self.relay_key
        if key is not None:  # no trusted key: the operator relays Ethereum, we wait for it
            relaying.relay_missing_headers(self.client, key, self.sources[chain], chain=relay)
        return self.relay_tip(chain)

    def relay_trusted(self) -> int:
        """With a trusted relayer key: relay every Ethereum header the ETM relay lacks (the
        operator's side does this each tick, so users' engines never need that key); how many
        headers were sent (0 without a key or an Ethereum source)."""
        source = self._source("eth")
        if self.relay_key is None or source is None:
            return 0
        return relaying.relay_missing_headers(self.client, self.relay_key, source, chain="eth")

    def relay_bitcoin(self) -> int:
        """Relay every Bitcoin header our node has and the ETM relay lacks (anyone may); how
        many were sent (0 without a Bitcoin source)."""
        source = self._source("btc")
        if source is None:
            return 0
        return relaying.relay_missing_headers(self.client, self.key, source, chain="btc")

    def relay_all(self) -> dict[str, int]:
        """The operator's continuous relaying: ``{"btc": sent, "eth": sent}`` this call."""
        return {"btc": self.relay_bitcoin(), "eth": self.relay_trusted()}

    def _source(self, relay: str) -> ChainAdapter | None:
        return next((a for n, a in self.sources.items() if ASSETS.get(n) == relay), None)

    def lock_swap_out(self, terms: HtlcTerms, asset: str, min_out: int) -> HtlcLock:
        return self.etm.lock_swap_out(terms, asset, min_out)

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[PoolSwap, Htlc]], str | None]:
        return self.etm.exchange_swaps(asset, after)

    # --- proof ---------------------------------------------------------------------------------

    def proof_view(self, rec: SwapRecord, relay_tip: int) -> ProofView:
        t = rec.terms
        pool = pool_leg_key(asset_of(t.user_leg.chain))
        if any(lk.terms.refund_key == pool for lk in self.etm.find_locks(t.hashlock)):
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
        asset = asset_of(t.user_leg.chain)
        self.relay_headers(t.user_leg.chain, 0, [])  # a fresh relay tip (else stale_relay)
        payload = pl.SwapIn(
            asset,
            encode_address(t.counter_leg.claim_key),
            t.user_leg.amount,
            t.hashlock,
            t.counter_leg.amount,
            proof_bytes(asset, lock, proof),
        )
        try:
            sent = relaying.sign_and_submit(
                self.client, self.key, xt.SWAP_IN, pl.encode_payload(payload), wait=False
            )
        except TxRejectedError as exc:
            if exc.reason not in FINAL_REJECTIONS:
                raise
            self.rejected[t.hashlock] = exc.reason
            return f"rejected:{exc.reason}"
        return str(sent["id"])
