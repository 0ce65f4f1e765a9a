"""Rounds: the forging order, missed slots, and what happens at each round boundary.

A round is ``delegates_per_round`` (N) consecutive blocks by height (round r = heights
(r-1)N+1 .. rN; genesis is round 0). The block at a slot must come from
``order[slot % len(order)]`` of its round's order.

Bookkeeping while a round runs (tables ``round_orders``, ``round_forged``, ``round_missed``,
``round_randao``): each block counts one forged block for its generator; every empty slot between
the previous block and this one counts a miss for the delegate scheduled there (at most one full
cycle is counted, so a long outage costs O(N), not O(outage)). A delegate that fails the hashing
test produces no valid block, so that too is a missed slot.

**RANDAO.** Each block carries its forger's reveal: the VRF proof (``vrf.py``, RFC 9381) of
``reveal_alpha(network_id, round)`` under its key. Its output ``beta`` is the *only* value that
verifies for that key and round, so no forger can choose it (no nonce, timestamp or transaction
changes it). The round's accumulator starts at the round's seed and absorbs every block's beta in
height order: ``acc = sha256("etm-randao" || acc || beta)``; the next round's seed is the final
accumulator, i.e. a hash of the previous seed and all the round's reveals in order.

At the last block of round r (``close_round``), from the state taken **before that block's
transactions** (but after its header is counted):

1. **Weights**: each tribunal's ``vote_weight(balance)`` is split equally over the (not slashed)
   delegates it backs; a delegate's weight is the sum of its shares. They are recorded
   (``round_weights``) for the *next* round's election.
2. **Tribunal rewards**: ``split_round_rewards(round_voter_reward, fixed share, tickets,
   productive tickets)`` on these weights; a tribunal's productive tickets are its shares that
   backed delegates which forged in round r. Exactly the paid amount is minted.
3. **Election**: ``elect(weights recorded at round r-1's close, N, ineligible = delegates that
   missed a slot in round r)`` (the election back-fills with ineligible delegates only when too
   few eligible remain). Slashed delegates are not candidates at all; delegates registered after
   that record are candidates from the next election on.
4. **Order** of round r+1: ``forging_order(seed = the round's RANDAO accumulator, elected)``.

**Why the election lags one round.** Whoever knows round r's seed before a block of round r is
published could pick, with that block's transactions (votes, transfers), among elected sets and
so among next orders. The closing forger knows the seed before its own block (it knows its own
beta), and so does any forger colluding with the forgers after it in the round (they tell it their
betas): with the weights of round r's own blocks, two colluding last forgers could choose among
as many next orders as their votes make elected sets (``test_chain_randao_coalition.py``). The
weights recorded at round r-1's close were fixed before any beta of round r was published, so
no transaction of round r moves the order of round r+1; a vote counts from the election after
the next round boundary.

What is left to a forger is withholding: not publishing its block (losing the slot's reward and
counting a miss, hence ineligible at the election) changes which reveals the round absorbs. See
docs/consensus.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from ..errors import ValidationError
from .codec import U32, U64, sha256
from .consensus import elect, forging_order, ranking, split_round_rewards, vote_weight
from .params import ChainParams
from .registry import RoundClose, RoundHook
from .state import State, StateView, TableSpec
from .tx_delegates import DELEGATES, VOTES

ORDERS, FORGED, MISSED = "round_orders", "round_forged", "round_missed"
RANDAO = "round_randao"
WEIGHTS = "round_weights"
TABLES = (
    TableSpec(ORDERS, "core", "round u64 -> concatenated 32-byte keys in slot order"),
    TableSpec(FORGED, "core", "round u64 || delegate key -> blocks forged (u64)"),
    TableSpec(MISSED, "core", "round u64 || delegate key -> slots missed (u64)"),
    TableSpec(RANDAO, "core", "round u64 -> RANDAO accumulator (32 B): seed, then reveals mixed"),
    TableSpec(WEIGHTS, "core", "round u64 -> JSON {delegate key hex: weight} at the round's close"),
)


def reveal_alpha(network_id: int, round_no: int) -> bytes:
    """What a forger's RANDAO reveal proves its VRF of: one value per network and round."""
    return b"ETM-RANDAO" + U32.pack(network_id) + U64.pack(round_no)


def mix(acc: bytes, beta: bytes) -> bytes:
    """One RANDAO step: the accumulator after absorbing one block's VRF output."""
    return sha256(b"etm-randao" + acc + beta)


def randao_seed(seed: bytes, betas: Iterable[bytes]) -> bytes:
    """The next round's seed from this round's ``seed`` and its blocks' VRF outputs in order
    (what ``close_round`` uses; for clients that recompute an order from block JSON)."""
    for beta in betas:
        seed = mix(seed, beta)
    return seed


def _accumulator(view: StateView, round_no: int) -> bytes:
    acc = view.get(RANDAO, U64.pack(round_no))
    if acc is None:
        raise ValidationError(f"state has no RANDAO accumulator for round {round_no}")
    return acc


def mix_reveal(state: State, params: ChainParams, height: int, beta: bytes) -> None:
    """Absorb the VRF output of the block at ``height`` into its round's accumulator."""
    r = params.round_of(height)
    state.put(RANDAO, U64.pack(r), mix(_accumulator(state, r), beta))


def round_order(view: StateView, round_no: int) -> list[bytes]:
    raw = view.get(ORDERS, U64.pack(round_no)) or b""
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def slot_delegate(order: list[bytes], slot: int) -> bytes:
    return order[slot % len(order)]


def _slashed(view: StateView, key: bytes) -> bool:
    raw = view.get(DELEGATES, key)
    return raw is not None and bool(json.loads(raw)["slashed"])


def slot_forfeited(view: StateView, order: list[bytes], generator: bytes) -> bool:
    """True if ``generator``, a delegate of the round's ``order``, was slashed since the order
    was set: its remaining slots of the round are missed (review a13d; before, a delegate slashed
    mid-round forged, and could double-forge for nothing, until the round's end). Liveness: when
    every delegate of the order is slashed, the order forges on (as the election's fallback)."""
    if not _slashed(view, generator):
        return False
    return any(not _slashed(view, key) for key in set(order))


def open_round(state: State, round_no: int, seed: bytes, elected: list[bytes]) -> None:
    state.put(ORDERS, U64.pack(round_no), b"".join(forging_order(seed, elected)))
    state.put(RANDAO, U64.pack(round_no), seed)


def _bump(state: State, table: str, key: bytes) -> None:
    state.put_u64(table, key, state.get_u64(table, key) + 1)


def record_slot(
    state: State, params: ChainParams, height: int, prev_slot: int, slot: int, generator: bytes
) -> None:
    """Count the generator's block and the misses of the empty slots since ``prev_slot``."""
    r = params.round_of(height)
    prefix = U64.pack(r)
    order = round_order(state, r)
    _bump(state, FORGED, prefix + generator)
    for missed in range(prev_slot + 1, min(slot, prev_slot + 1 + len(order))):
        _bump(state, MISSED, prefix + slot_delegate(order, missed))


def candidate_weights(view: StateView) -> tuple[dict[bytes, int], dict[bytes, list[bytes]]]:
    """(delegate key -> weight for every unslashed delegate, voter address -> backed keys)."""
    weights = {k: 0 for k, v in view.scan(DELEGATES) if not json.loads(v)["slashed"]}
    backed: dict[bytes, list[bytes]] = defaultdict(list)
    for key, _ in view.scan(VOTES):
        voter, delegate = key[:20], key[20:]
        if delegate in weights:
            backed[voter].append(delegate)
    return weights, backed


def round_weights(
    view: StateView,
) -> tuple[dict[bytes, int], dict[bytes, int], dict[bytes, list[bytes]]]:
    """(delegate key -> weight for every unslashed delegate, voter -> tickets, voter -> backed
    keys) from the balances and votes in ``view``."""
    weights, backed = candidate_weights(view)
    tickets: dict[bytes, int] = {}
    for voter, delegates in backed.items():
        share = vote_weight(view.account(voter).balance) // len(delegates)
        for d in delegates:
            weights[d] += share
        tickets[voter] = share * len(delegates)
    return weights, tickets, backed


def _record_weights(state: State, round_no: int, weights: dict[bytes, int]) -> None:
    state.put_json(WEIGHTS, U64.pack(round_no), {k.hex(): w for k, w in weights.items()})
    if round_no > 0:
        state.delete(WEIGHTS, U64.pack(round_no - 1))


def electorate(view: StateView, round_no: int, unslashed: dict[bytes, int]) -> dict[bytes, int]:
    """The weights recorded at round ``round_no``'s close, for the delegates still unslashed.

    Falls back to ``unslashed`` (the current weights) when nothing usable is recorded: a state
    written before this record existed, or every recorded delegate slashed since."""
    raw = view.get_json(WEIGHTS, U64.pack(round_no))
    if raw is None:
        return unslashed
    recorded = {bytes.fromhex(k): int(w) for k, w in raw.items()}
    return {k: w for k, w in recorded.items() if k in unslashed} or unslashed


def close_round(
    state: State,
    params: ChainParams,
    height: int,
    timestamp: int = 0,
    hooks: Sequence[RoundHook] = (),
) -> None:
    """Round-boundary processing (see module docstring); called at the round's last block, after
    its header is counted (``record_slot``, ``mix_reveal``) and before its transactions.

    Then each of ``hooks`` (the registry's round hooks, ``registry.py``) runs with the closing
    block's ``timestamp``, the election's ranking and the next round's elected set."""
    r = params.round_of(height)
    prefix = U64.pack(r)
    weights, tickets, backed = round_weights(state)
    forged = {k[8:] for k, _ in state.scan(FORGED, prefix)}
    missed = {k[8:] for k, _ in state.scan(MISSED, prefix)}
    productive = {
        voter: (tickets[voter] // len(ds)) * sum(1 for d in ds if d in forged)
        for voter, ds in backed.items()
    }
    payouts = split_round_rewards(
        params.round_voter_reward, params.fixed_reward_share_ppm, tickets, productive
    )
    for voter, amount in payouts.items():
        state.mint(voter, amount)
    voters = electorate(state, r - 1, weights)
    elected = elect(voters, params.delegates_per_round, missed) if voters else []
    _record_weights(state, r, weights)
    # liveness: with no unslashed delegate left, the last order forges on (documented)
    open_round(state, r + 1, _accumulator(state, r), elected or round_order(state, r))
    for table in (FORGED, MISSED):
        for key, _ in state.scan(table, prefix):
            state.delete(table, key)
    state.delete(RANDAO, prefix)
    if hooks:
        close = RoundClose(params, r, height, timestamp, tuple(ranking(voters)), tuple(elected))
        for hook in hooks:
            hook(state, close)


def open_first_round(state: State, params: ChainParams, genesis_id: bytes) -> None:
    weights, _ = candidate_weights(state)
    open_round(state, 1, genesis_id, elect(weights, params.delegates_per_round, set()))
    _record_weights(state, 0, round_weights(state)[0])
