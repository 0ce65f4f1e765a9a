"""Starting a swap through an ETM pool, and following pools as their operator (I/O edge).

:func:`start_pool_swap` is what ``etm-bridge swap start btc etm 0.01`` does when no
counterparty keys are given: it reads the pool and the user's binding from the ETM node, pins
the quote (the counter leg's amount is the minimum output: the pool's current output less
``slippage_bps``, or the user's ``--receive``), records the swap intent on ETM for a swap in
(so anyone may submit the proof with that minimum) and waits for its block, and returns the
user's record; the watcher does the rest (:mod:`.gateway_node`). The intent also reserves the
swap's hashlock for the user (``exchange.hashlocks``) *before* anything is locked: if someone
used or reserved that hashlock first, the intent is refused while nothing is at stake and a new
secret is drawn (up to :data:`SECRET_ATTEMPTS` times), so nobody can strand the user's lock.
:func:`operator_pools` tells an operator's watcher which pools are theirs (their key is the
pool's claim key), for :class:`.pool_swaps.PoolFollower`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..adapter import ChainAdapter
from ..chain.address import encode_address
from ..errors import ConfigError, NotFoundError, SwapError, TxRejectedError
from ..etm_client.exchange import ASSETS, NodeExchange, submit_swap_intent
from ..etm_client.htlc_leg import EtmAdapter
from ..hashlock import sha256
from ..swaps.core.fsm import Role
from ..swaps.core.model import SwapRecord, SwapTerms
from ..swaps.core.pool_terms import LegChain, PoolInfo, swap_in_terms, swap_out_terms
from ..testing.preimages import new_preimage

#: A swap intent refused for these reasons leaves nothing locked: start again with a new secret.
HASHLOCK_TAKEN = frozenset({"hashlock_used", "hashlock_reserved"})
SECRET_ATTEMPTS = 3


def etm_side(adapters: Mapping[str, ChainAdapter]) -> tuple[str, EtmAdapter]:
    """The configured ETM leg adapter (name, adapter)."""
    for name, adapter in adapters.items():
        if isinstance(adapter, EtmAdapter):
            return name, adapter
    raise ConfigError("pool swaps need the ETM chain configured (adapter 'etm')")


def pool_asset(chain: str, adapter: ChainAdapter) -> str:
    return ASSETS.get(chain) or adapter.info().asset.lower()


def chain_of(name: str, adapter: ChainAdapter) -> LegChain:
    return LegChain(name, adapter.tip().height, adapter.info().block_time_s)


def operator_chain_of(name: str, adapter: ChainAdapter) -> LegChain:
    """A pool's foreign chain as its operator sizes counter locks on it: the block time is the
    slower of the nominal one and the recent spacing (``recent_block_time_s``). At the nominal
    rate a swap out's lock of 35 blocks outlived the user's 12 h ETM lock whenever blocks came
    21 minutes apart: the user claimed it after the ETM deadline and refunded the ETM too (after
    a hash-rate drop to 15-minute blocks, about 1 swap in 50; at 18 minutes, 1 in 5; review
    a11b). Measured, the lock lasts its hours at the rate blocks actually come."""
    nominal = adapter.info().block_time_s
    return LegChain(name, adapter.tip().height, max(nominal, adapter.recent_block_time_s() or 0))


def make_gateway(
    adapters: Mapping[str, ChainAdapter], *, trusted_relayer: bool = False
) -> NodeExchange | None:
    """A gateway over the configured ETM node, signing with our ETM key (None without ETM).

    ``trusted_relayer``: our ETM key is one of the Ethereum relay's trusted relayers (the pool
    operator's); it then also signs Ethereum headers. A user's gateway leaves that relay to the
    operator and waits for it."""
    try:
        _, etm = etm_side(adapters)
    except ConfigError:
        return None
    sources = {n: a for n, a in adapters.items() if a is not etm}
    relay_key = etm.key if trusted_relayer else None
    return NodeExchange(etm.client, etm.key, etm, sources, relay_key)


def _check_bound(etm: EtmAdapter, asset: str, foreign_key: bytes) -> None:
    address = encode_address(etm.our_key())
    bound = etm.client.bindings(address).get(asset)
    if bound is None or bytes.fromhex(str(bound["key"]).removeprefix("0x")) != foreign_key:
        raise SwapError(
            f"{address} has not bound this wallet's {asset} key on ETM: the pool refunds and "
            f"pays only the bound key (run `etm-bridge bind --chain {asset}` first)"
        )


def start_pool_swap(
    adapters: Mapping[str, ChainAdapter],
    from_chain: str,
    to_chain: str,
    amount_in: int,
    *,
    min_out: int | None = None,
    slippage_bps: int = 50,
    lock_within_s: int = 3600,
) -> tuple[SwapRecord, dict[str, Any]]:
    """The user's record of a pool swap of ``amount_in`` (base units of ``from_chain``) and the
    quote it pinned. One of the chains must be ETM."""
    etm_name, etm = etm_side(adapters)
    if etm_name not in (from_chain, to_chain) or from_chain == to_chain:
        raise SwapError(f"a pool swap goes between ETM ({etm_name}) and another chain")
    foreign_name = to_chain if from_chain == etm_name else from_chain
    foreign = adapters[foreign_name]
    asset = pool_asset(foreign_name, foreign)
    try:
        pool = PoolInfo.from_api(etm.client.pool(asset))
    except NotFoundError:
        raise SwapError(f"ETM has no {asset} pool yet (`etm-bridge pool list`)") from None
    _check_bound(etm, asset, foreign.our_key())
    swap_in = to_chain == etm_name
    direction = "asset_to_etm" if swap_in else "etm_to_asset"
    quote = etm.client.quote(asset, direction, amount_in)
    offered = int(quote["amount_out"])
    if not 0 <= slippage_bps < 10_000:
        raise SwapError(f"slippage must be 0..9999 basis points, got {slippage_bps}")
    wanted = offered * (10_000 - slippage_bps) // 10_000 if min_out is None else min_out
    if wanted > offered or wanted <= 0:
        raise SwapError(f"the {asset} pool pays {offered} base units now, not {wanted}: "
                        "lower --receive or wait")  # fmt: skip
    # swap out: the operator's lock must be as deep as the relay's policy asks for its value
    # before we claim it (reveal); the quote sizes it on the offered output (>= ours)
    depth = {} if swap_in else {"counter_confirmations": _depth_of(quote)}
    for attempt in range(1, SECRET_ATTEMPTS + 1):
        preimage = new_preimage()
        hashlock, now = sha256(preimage), int(time.time())
        build = swap_in_terms if swap_in else swap_out_terms
        terms = build(
            hashlock.hex()[:16], hashlock, pool, chain_of(foreign_name, foreign),
            chain_of(etm_name, etm), amount_in=amount_in, min_out=wanted,
            user_foreign_key=foreign.our_key(), user_etm_address20=etm.our_key(), now_s=now,
            lock_within_s=lock_within_s, **depth,
        )  # fmt: skip
        if swap_in:
            try:  # reserve the hashlock before anything is locked (exchange.hashlocks)
                submit_swap_intent(etm.client, etm.key, asset, hashlock, amount_in, wanted)
            except TxRejectedError as exc:
                if exc.reason not in HASHLOCK_TAKEN or attempt == SECRET_ATTEMPTS:
                    raise
                continue  # someone used or reserved it first: nothing is locked, new secret
        return SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=now), quote
    raise AssertionError("unreachable")  # the loop returns or raises


def _depth_of(quote: Mapping[str, Any]) -> int:
    """The confirmations a quote's ``depth`` names (1 from a node that names none)."""
    depth = quote.get("depth")
    return int(depth["confirmations"]) if isinstance(depth, Mapping) else 1


#: The form of the operator's record ids of pool swaps (:func:`.pool_swaps.operator_swap_id`).
_POOL_RECORD_ID = re.compile(r"^[0-9a-f]{64}$")


def refuse_colliding_direct_swap(
    terms: SwapTerms, pools: Iterable[PoolInfo], known_hashlocks: Iterable[bytes]
) -> None:
    """Raise :class:`SwapError` unless the operator may accept these direct-swap terms next to
    the pools it operates (review a11a, docs/security.md). Refused:

    - a lock we would claim with a pool's claim key: the same lock (same key, hashlock and
      terms) could also be proven to the pool as a swap in, and the user, knowing the secret,
      would claim both our counter lock and the pool's ETM while we can claim the one lock
      once. Direct swaps need another wallet (another engine home);
    - a swap id of the form the operator's pool records use (64 lowercase hex digits, an ETM
      HTLC id anyone can compute before the swap in exists): the follower would take that
      record for the pool swap's and never follow the pool swap;
    - a hashlock one of our swaps already has: a secret revealed for one would open the other.
    """
    claim = terms.user_leg.claim_key
    shared = sorted(p.asset for p in pools if p.claim_key == claim)
    if shared:
        raise SwapError(
            f"these terms have us claim with {claim.hex()}, the claim key of the ETM "
            f"{', '.join(shared)} pool we operate: a lock paying it could be paid out twice "
            "(once here, once by the pool). Accept direct swaps with another wallet (home)"
        )
    if _POOL_RECORD_ID.match(terms.swap_id):
        raise SwapError(
            f"swap id {terms.swap_id} has the form of a pool swap's record (an ETM HTLC id): "
            "ask for terms with another id (`swap start` makes 16 hex digits)"
        )
    if terms.hashlock in set(known_hashlocks):
        raise SwapError(
            f"we already have a swap with hashlock {terms.hashlock.hex()}: a hashlock serves "
            "one swap (its secret, once revealed, would open the other)"
        )


def operator_pools(adapters: Mapping[str, ChainAdapter]) -> dict[str, tuple[PoolInfo, LegChain]]:
    """The pools whose claim key is one of our foreign keys: asset -> (pool, its chain)."""
    etm_name, etm = etm_side(adapters)
    ours = {}
    for data in etm.client.pools():
        pool = PoolInfo.from_api(data)
        for name, adapter in adapters.items():
            if name != etm_name and adapter.our_key() == pool.claim_key:
                ours[pool.asset] = (pool, operator_chain_of(name, adapter))
    return ours
