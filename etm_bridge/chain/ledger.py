"""``Chain``: the public API the node calls (mempool, forging, block application, queries).

Orchestration only: the rules are in ``rules``/``rounds``/the tx types, persistence is an injected
store (``etm_bridge.store.ChainStore`` satisfies :class:`LedgerStore`), and time is always an
argument (ETM-epoch seconds), so this module does no I/O of its own::

    chain = Chain(ChainStore.open(path), genesis_config)
    chain.submit_tx(tx) -> bytes                      # tx id; TxRejectedError(reason)
    chain.forge_next(now, keys, guard=None) -> Block | None
        # forge + apply when a key owns the slot; ``guard`` (slashing protection, see
        # signing_guard.py) approves every signature first: SigningRefusedError if it refuses
    chain.apply_block(block, now=None) -> bool        # BlockRejectedError(reason); False if known
    with chain.batch(): chain.apply_block(...) ...    # many blocks, one store transaction (sync)
    chain.preverify(block) -> Preverified             # thread-safe: signatures and reveal ahead
    chain.note_preverified(results)                   # ... handed in before apply_block
    chain.note_evidence(header_a, header_b) -> bool   # double-forging evidence (evidence.py)
    chain.pending_evidence() -> list[tuple[bytes, bytes]]   # encoded header pairs to gossip
    chain.block_by_height(h) / block_by_id(id32) / block_by_short_id(str) -> Block
    chain.tx_by_id(id32) -> tuple[Tx, int]            # (tx, height); pending txs give height -1
    chain.latest_blocks(n) -> list[Block]
    chain.account(address20) -> AccountInfo           # .to_json()
    chain.delegates() -> list[DelegateInfo]           # .to_json()
    chain.round_order() -> list[bytes]                # keys in slot order for the next block
    chain.status() -> dict[str, Any]
    chain.finalized_height() -> int

Fork choice: the longest valid chain. A block whose parent is a known block other than the tip is
kept as a side block; when a side branch becomes longer than the main chain, the chain reverts
to the fork point and applies the branch inside one store transaction (all or nothing), never
reverting below the finalized height. Finality: a block is final once blocks built on it were
forged by more than two thirds of the distinct delegates of the tip's round.

Speed (syncing history): the tip and every other hot state record come from the store's read
cache (``Chain.tip`` parses the tip record only when it changed); ``batch()`` applies many blocks
in one store transaction, each in its own savepoint (a failing block or reorg rolls back exactly
its own writes); ``preverify`` results (``preverify.py``) spare the block signature, RANDAO reveal
and transaction signature checks that worker threads already did for exactly that block.

Every block signature is checked in this chain's signing domain, its genesis id
(``BlockHeader.signing_root``), as blocks, side blocks and double-forging evidence.

Double forging: every block that reaches ``apply_block`` is compared with the header seen before
from the same delegate for the same slot; two different signed headers become evidence
(``evidence.py``), and every block this chain forges carries a slashing transaction for the
evidence it knows.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import (
    BlockRejectedError,
    ConfigError,
    EvidenceRejectedError,
    NotFoundError,
    TxRejectedError,
    ValidationError,
)
from .address import address_hash, encode_address
from .block import Block, BlockHeader
from .codec import MAX_U64
from .evidence import DoubleForgingEvidence, EvidencePool, HeaderIndex, check_pair
from .forging import append_evidence_txs, forged_header, open_forged_block
from .genesis import (
    GenesisConfig,
    apply_genesis,
    apply_plugin_sections,
    genesis_block,
    signing_genesis_id,
)
from .keys import SigningKey
from .mempool import Mempool
from .preverify import Preverified, PreverifiedCache, preverify
from .registry import TxContext, build_registry
from .rounds import (
    candidate_weights,
    open_first_round,
    round_order,
    slot_delegate,
    slot_forfeited,
)
from .rules import TIP_KEY, Tip, apply_block, apply_tx, parse_tip, write_tip
from .side_blocks import check_side_block
from .signing_guard import MemorySigningGuard, SigningGuard
from .state import META, Changes, State, next_state_digest
from .tx import Tx
from .tx_delegates import DELEGATES, VOTES, delegate_record

#: Rejections that say nothing about whether the header's signature is valid.
_UNSIGNED_REJECTIONS = frozenset({"bad_signature", "wrong_network", "wrong_version"})


class LedgerStore(Protocol):
    def get(self, table: str, key: bytes) -> bytes | None: ...
    def scan(self, table: str, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]: ...
    def atomic(self) -> AbstractContextManager[None]: ...
    def commit_block(
        self, block: Block, changes: Changes, undo: Changes, digest: bytes
    ) -> None: ...
    def revert_tip(self) -> Block: ...
    def set_config(self, name: str, value: str) -> None: ...
    def config(self, name: str) -> str | None: ...
    def tip_height(self) -> int | None: ...
    def block_at(self, height: int) -> Block: ...
    def header_at(self, height: int) -> BlockHeader: ...
    def block_by_id(self, block_id: bytes) -> Block: ...
    def block_by_short_id(self, short_id: str) -> Block: ...
    def digest_at(self, height: int) -> bytes: ...
    def block_id_at(self, height: int) -> bytes: ...
    def tx_location(self, tx_id: bytes) -> tuple[int, int]: ...


class _Either:
    """Membership in either of two containers (verified tx ids: the mempool's and a block's
    preverified ones) without copying them."""

    __slots__ = ("a", "b")

    def __init__(self, a: Container[bytes], b: Container[bytes]):
        self.a, self.b = a, b

    def __contains__(self, item: object) -> bool:
        return item in self.a or item in self.b


@dataclass(frozen=True)
class AccountInfo:
    address: bytes
    balance: int
    nonce: int
    votes: tuple[bytes, ...]
    delegate: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": encode_address(self.address),
            "balance": self.balance,
            "nonce": self.nonce,
            "votes": [v.hex() for v in self.votes],
            "delegate": self.delegate,
        }


@dataclass(frozen=True)
class DelegateInfo:
    public_key: bytes
    name: str
    deposit: int
    slashed: bool
    weight: int  # live weight from current balances (elections use the round-end snapshot)
    in_round: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "publicKey": self.public_key.hex(),
            "address": encode_address(address_hash(self.public_key)),
            "name": self.name,
            "deposit": self.deposit,
            "slashed": self.slashed,
            "weight": self.weight,
            "inRound": self.in_round,
        }


class Chain:
    """One ETM chain on one store; see the module docstring. Not thread-safe."""

    #: Side blocks kept in memory at most (the lowest are forgotten first): count, payload bytes.
    SIDE_BLOCKS_KEPT = 1_000
    SIDE_BLOCK_BYTES_KEPT = 64 << 20

    def __init__(self, store: LedgerStore, genesis: GenesisConfig):
        self.store = store
        self.genesis = genesis
        self.params = genesis.params
        self.registry = build_registry(self.params)
        self._tables = self.registry.table_names
        self.mempool = Mempool(self.registry)
        self._side: dict[bytes, Block] = {}
        self._finalized = 0
        self._guard = MemorySigningGuard()
        self._seen = HeaderIndex()
        self.evidence = EvidencePool()
        self._preverified = PreverifiedCache()
        self._tip_raw: bytes | None = None
        self._tip_cached: Tip | None = None
        #: TEST-ONLY attacker behaviour (``node run --unsafe-censor``, dev networks only):
        #: transaction types this node's forger leaves out of its blocks and its peer layer
        #: does not relay. Local policy, not consensus: other nodes apply such blocks as usual.
        self.unsafe_censored_types: frozenset[int] = frozenset()
        #: The signing domain of every block signature (``BlockHeader.signing_root``).
        self.genesis_id = genesis_block(self.genesis).id
        self._init_or_check_genesis()

    def _init_or_check_genesis(self) -> None:
        block = genesis_block(self.genesis)
        if self.store.tip_height() is None:
            state = self._state()
            apply_genesis(state, self.genesis)
            apply_plugin_sections(state, self.genesis, self.registry.genesis_sections)
            write_tip(state, self.params, block.header)
            open_first_round(state, self.params, block.id)
            self._commit(block, state, bytes(32))
            self.store.set_config("genesis", json.dumps(self.genesis.to_json()))
        elif self.store.block_id_at(0) != block.id:
            raise ConfigError("the store holds a different chain (genesis id mismatch)")
        try:
            recorded = signing_genesis_id(self.store_view())
        except ValidationError as exc:
            raise ConfigError(str(exc)) from None
        if recorded != self.genesis_id:
            raise ConfigError("the store's state records another genesis id than its genesis")

    def _state(self) -> State:
        return State(self.store, self._tables)

    def _commit(self, block: Block, state: State, prev_digest: bytes) -> None:
        changes = state.changes()
        digest = next_state_digest(prev_digest, block.height, changes)
        self.store.commit_block(block, changes, state.undo_of(changes), digest)

    @property
    def tip(self) -> Tip:
        """The tip as the committed (or, inside :meth:`batch`, the applied) state records it:
        parsed again only when the record changed (the store caches the read)."""
        raw = self.store.get(META, TIP_KEY)
        if raw != self._tip_raw or self._tip_cached is None:
            self._tip_cached, self._tip_raw = parse_tip(raw), raw
        return self._tip_cached

    def store_view(self) -> State:
        """A read-only-by-convention view of the committed state."""
        return self._state()

    def _next_ctx(self) -> TxContext:
        tip = self.tip
        return TxContext(self.params, tip.height + 1, tip.timestamp, bytes(32))

    # --- transactions and blocks ---------------------------------------------------------------

    def submit_tx(self, tx: Tx) -> bytes:
        """Validate ``tx`` against tip state + pending txs and queue it; returns its id."""
        return self.mempool.add(tx, self.store, self._next_ctx())

    def apply_block(self, block: Block, now: int | None = None) -> bool:
        """Validate and apply ``block``; False if already known. Handles forks (module doc).

        Pass ``now`` (ETM-epoch s) for blocks arriving live: it rejects blocks from the future
        and blocks whose slot is already over (``late_block``). Pass ``None`` when syncing or
        replaying history. Whatever the outcome, a block signed by a delegate that already
        signed another block for its slot becomes double-forging evidence.
        """
        h = block.header
        self._detect_double_forging(h)
        try:
            applied = self._apply_block(block, now)
        except BlockRejectedError as exc:
            if exc.reason not in _UNSIGNED_REJECTIONS and h.signature_ok(self.genesis_id):
                self._seen.remember(h, self.params.slot_of(h.timestamp))
            raise
        self._seen.remember(h, self.params.slot_of(h.timestamp))
        return applied

    def _apply_block(self, block: Block, now: int | None) -> bool:
        tip = self.tip
        if block.header.previous_block != tip.block_id:
            return self._consider_side_block(block, now)
        with self.store.atomic():  # a savepoint inside batch(): exactly this block rolls back
            self._apply_on_tip(block, now, self.mempool.verified)
        self._preverified.discard(block.id)
        self._after_new_tip({tx.id for tx in block.transactions})
        return True

    def _apply_on_tip(self, block: Block, now: int | None, verified: Container[bytes]) -> None:
        state = self._state()
        prev_digest = self.store.digest_at(self.tip.height)
        pre = self._preverified.get(block.id)
        if pre is not None:
            verified = _Either(verified, pre.tx_ids)
        beta = None if pre is None else pre.beta
        apply_block(state, self.registry, self.params, block, now, verified, trusted_beta=beta)
        self._commit(block, state, prev_digest)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Apply several blocks (``apply_block`` calls inside) in one store transaction.

        Each block still runs in its own savepoint, so a block that fails (or a reorg that
        fails) rolls back exactly its own writes and the batch goes on; the blocks are committed
        together when the ``with`` ends (one commit instead of one per block: for sync). Nothing
        is durable before that: ``kill -9`` inside loses the batch, never an earlier block, and
        never leaves part of one. An exception escaping the ``with`` rolls the whole batch back
        and puts the in-memory state (finality, side blocks, mempool) back on the committed
        chain. A nested batch is a savepoint of the outer one."""
        finalized, side = self._finalized, dict(self._side)
        try:
            with self.store.atomic():
                yield
        except BaseException:
            self._finalized, self._side = finalized, side
            self._after_new_tip(set())
            raise

    def preverify(self, block: Block, generators: Container[bytes] | None = None) -> Preverified:
        """Verify ``block``'s block signature, reveal and tx signatures (``preverify.py``).
        Thread-safe (it reads only the immutable params and genesis id, and ``generators``, a
        snapshot of :meth:`delegate_keys` taken on the chain's thread): run it in workers."""
        return preverify(self.params, self.genesis_id, block, generators)

    def delegate_keys(self) -> frozenset[bytes]:
        """The registered, unslashed delegates' keys (what ``preverify`` may trust blocks of)."""
        view = self.store_view()
        return frozenset(k for k, v in view.scan(DELEGATES) if not json.loads(v)["slashed"])

    def note_preverified(self, results: Iterable[Preverified]) -> None:
        """Keep ``preverify`` results for the blocks about to be applied (bounded)."""
        for result in results:
            self._preverified.add(result)

    def _after_new_tip(self, included: set[bytes]) -> None:
        self.mempool.reset(self.store, self._next_ctx(), included)

    def forge_next(
        self, now: int, keys: Mapping[bytes, SigningKey], guard: SigningGuard | None = None
    ) -> Block | None:
        """If ``now`` is in a new slot owned by one of ``keys``, forge, apply and return a block.

        ``guard`` approves the signature before it is made (the node passes its persistent
        slashing protection; by default an in-memory one): SigningRefusedError if it refuses.
        """
        tip = self.tip
        slot = self.params.slot_of(now)
        if slot <= tip.slot:
            return None
        height = tip.height + 1
        order = round_order(self.store_view(), self.params.round_of(height))
        generator = slot_delegate(order, slot)
        key = keys.get(generator)
        if key is None or slot_forfeited(self.store_view(), order, generator):
            return None
        state = self._state()
        reveal = open_forged_block(
            state, self.params, key, height, tip.slot, slot, registry=self.registry
        )
        ctx = TxContext(self.params, height, self.params.slot_time(slot), generator)
        txs, amount = self._select_txs(ctx, state)
        evidence = [e for e in self.evidence_to_slash() if e.offender != generator]
        amount += append_evidence_txs(state, self.registry, ctx, key, evidence, txs)
        header = forged_header(self.params, tip, slot, generator, reveal, txs, amount)
        (guard or self._guard).approve(generator, slot, header.signing_root(self.genesis_id))
        block = Block(header.signed(key, self.genesis_id), tuple(txs))
        self.apply_block(block, now)
        return block

    def _select_txs(self, ctx: TxContext, state: State) -> tuple[list[Tx], int]:
        """Pending txs that still apply in order on ``state``, within the block limits (a dry
        run, left applied), and the total amount they move. A tx that would push the u64
        totalAmount over is left for a later block (``block_amount_full``), like one that does
        not fit the size limit."""
        size, amount = 0, 0
        out: list[Tx] = []
        for tx in self.mempool.pending():
            if len(out) >= self.params.max_txs_per_block:
                break
            if tx.type_id in self.unsafe_censored_types:
                continue
            if size + tx.size > self.params.max_block_payload_bytes:
                continue
            room = MAX_U64 - amount
            try:
                amount += apply_tx(
                    state, self.registry, tx, ctx, verify_sig=False, amount_room=room
                )
            except TxRejectedError:
                continue
            out.append(tx)
            size += tx.size
        return out, amount

    # --- double-forging evidence ----------------------------------------------------------------

    def note_evidence(self, header_a: BlockHeader | bytes, header_b: BlockHeader | bytes) -> bool:
        """Keep two headers (objects or their 296-byte encodings) as double-forging evidence;
        True if new (see ``evidence.py``).

        Raises EvidenceRejectedError (a ValidationError; ``not_double_forging``,
        ``wrong_network``, ``bad_signature``) when the pair proves nothing on this network, and
        ValidationError for a malformed encoding: the peer that sent it is at fault. Returns
        False when it is known already, or its generator is no delegate here or already slashed.
        """
        a, b = (
            h if isinstance(h, BlockHeader) else BlockHeader.decode(h) for h in (header_a, header_b)
        )
        check_pair(self.params, self.genesis_id, a, b, signatures=False)
        # worthless before the signatures (review a13d): a pair of a key that is no delegate here
        # (any stranger signs two in microseconds) or of a slashed one costs its sender nothing,
        # so it must cost us no signature check
        record = delegate_record(self.store_view(), a.generator_public_key)
        if record is None or record["slashed"]:
            return False
        check_pair(self.params, self.genesis_id, a, b)
        return self.evidence.add(DoubleForgingEvidence.of(a, b))

    #: The name the peer layer (``node.p2p.gossip.ChainEvidence``) looks for: the same call.
    report_double_forging = note_evidence

    def pending_evidence(self) -> list[tuple[bytes, bytes]]:
        """Known evidence against delegates not slashed at the tip, oldest first, as pairs of
        encoded headers (what to gossip)."""
        return [(ev.first.encoded, ev.second.encoded) for ev in self.evidence_to_slash()]

    def evidence_to_slash(self) -> list[DoubleForgingEvidence]:
        """``pending_evidence`` as objects (the forger turns each into a slashing tx)."""
        view = self.store_view()
        out = []
        for ev in self.evidence.all():
            record = delegate_record(view, ev.offender)
            if record is not None and not record["slashed"]:
                out.append(ev)
        return out

    def _detect_double_forging(self, h: BlockHeader) -> None:
        """Evidence if we saw another header of ``h``'s generator for ``h``'s slot (recently, or
        on the main chain at ``h``'s height)."""
        slot, generator = self.params.slot_of(h.timestamp), h.generator_public_key
        others = [self._seen.get(generator, slot)]
        if 0 < h.height <= self.tip.height:
            others.append(self.store.header_at(h.height))
        for other in others:
            if other is None or other.id == h.id or other.generator_public_key != generator:
                continue
            if self.params.slot_of(other.timestamp) != slot:
                continue
            try:
                self.note_evidence(other, h)
            except EvidenceRejectedError:
                return  # h's own signature is bad: it proves nothing (the block is rejected)
            return

    # --- fork choice ---------------------------------------------------------------------------

    def _known(self, block_id: bytes) -> bool:
        if block_id in self._side:
            return True
        try:
            self.store.block_by_id(block_id)
        except NotFoundError:
            return False
        return True

    def _consider_side_block(self, block: Block, now: int | None) -> bool:
        if self._known(block.id):
            return False
        parent = self._parent_header(block.header.previous_block)
        branch = [block]
        while branch[-1].header.previous_block in self._side:
            branch.append(self._side[branch[-1].header.previous_block])
        branch.reverse()
        fork_height = branch[0].height - 1
        if fork_height < self.finalized_height():
            raise BlockRejectedError("below_finality", f"fork at {fork_height} is finalized")
        # every rule the branch's state is not needed for, before it is kept in memory
        pre = self._preverified.get(block.id)
        beta = None if pre is None else pre.beta
        check_side_block(self.store_view(), self.params, block, parent, fork_height, beta)
        self._side[block.id] = block
        self._prune_side_blocks()
        if block.height <= self.tip.height:
            return True  # kept; the main chain is at least as long
        try:
            self._reorg(fork_height, branch, now)
        except BlockRejectedError:
            self._side.pop(block.id, None)  # the store transaction rolled back: main chain intact
            raise
        return True

    def _parent_header(self, block_id: bytes) -> BlockHeader:
        side = self._side.get(block_id)
        if side is not None:
            return side.header
        try:
            return self.store.block_by_id(block_id).header
        except NotFoundError:
            raise BlockRejectedError(
                "unknown_parent", "previous block is not known; sync first"
            ) from None

    def _prune_side_blocks(self) -> None:
        """Forget side blocks at or below the finalized height, then the lowest beyond
        ``SIDE_BLOCKS_KEPT`` blocks or ``SIDE_BLOCK_BYTES_KEPT`` payload bytes (a block may carry
        4 MiB: a thousand of them would not fit a node's memory)."""
        final = self._finalized
        live = sorted((b for b in self._side.values() if b.height > final), key=lambda b: -b.height)
        kept: dict[bytes, Block] = {}
        size = 0
        for b in live[: self.SIDE_BLOCKS_KEPT]:
            size += b.header.payload_length
            if size > self.SIDE_BLOCK_BYTES_KEPT:
                break
            kept[b.id] = b
        self._side = kept

    def _reorg(self, fork_height: int, branch: list[Block], now: int | None) -> None:
        reverted: list[Block] = []
        with self.store.atomic():  # all or nothing: an invalid branch block rolls it all back
            while self.tip.height > fork_height:
                reverted.append(self.store.revert_tip())
            for b in branch:
                self._apply_on_tip(b, now, ())
        for b in branch:
            self._preverified.discard(b.id)
        for b in branch:
            self._side.pop(b.id, None)
        for b in reverted:
            self._side[b.id] = b
        readd = [tx for b in reverted for tx in b.transactions]
        self._after_new_tip({tx.id for b in branch for tx in b.transactions})
        for tx in readd:
            try:
                self.submit_tx(tx)
            except TxRejectedError:  # a reverted tx that no longer applies is dropped
                continue

    def finalized_height(self) -> int:
        """Highest height built on by > 2/3 of the tip round's distinct delegates.

        Looks back at most three rounds; never decreases while this object lives.
        """
        tip = self.tip
        order = round_order(self.store_view(), self.params.round_of(tip.height + 1))
        need = 2 * len(order) // 3 + 1
        seen: set[bytes] = set()
        lowest = max(1, tip.height - 3 * self.params.delegates_per_round)
        for height in range(tip.height, lowest - 1, -1):
            seen.add(self.store.header_at(height).generator_public_key)
            if len(seen) >= need:
                self._finalized = max(self._finalized, height - 1)
                break
        return self._finalized

    # --- queries -------------------------------------------------------------------------------

    def block_by_height(self, height: int) -> Block:
        return self.store.block_at(height)

    def block_by_id(self, block_id: bytes) -> Block:
        return self.store.block_by_id(block_id)

    def block_by_short_id(self, short_id: str) -> Block:
        return self.store.block_by_short_id(short_id)

    def tx_by_id(self, tx_id: bytes) -> tuple[Tx, int]:
        pending = self.mempool.get(tx_id)
        if pending is not None:
            return pending, -1
        try:
            height, index = self.store.tx_location(tx_id)
        except NotFoundError:
            evicted = self.mempool.eviction(tx_id)
            if evicted is None:
                raise
            raise NotFoundError(
                f"tx {tx_id.hex()} was evicted from the mempool ({evicted.reason}: "
                f"{evicted.detail}); it will not be forged"
            ) from None
        return self.store.block_at(height).transactions[index], height

    def latest_blocks(self, n: int = 10) -> list[Block]:
        top = self.tip.height
        return [self.store.block_at(h) for h in range(top, max(-1, top - n), -1)]

    def account(self, address: bytes) -> AccountInfo:
        view = self.store_view()
        acct = view.account(address)
        votes = tuple(k[20:] for k, _ in view.scan(VOTES, address))
        pk = None
        record = None
        for key, value in view.scan(DELEGATES):
            if address_hash(key) == address:
                pk, record = key, json.loads(value)
        if record is not None and pk is not None:
            record["publicKey"] = pk.hex()
        return AccountInfo(address, acct.balance, acct.nonce, votes, record)

    def round_order(self) -> list[bytes]:
        return round_order(self.store_view(), self.params.round_of(self.tip.height + 1))

    def delegates(self) -> list[DelegateInfo]:
        from .consensus import vote_weight

        view = self.store_view()
        weights, backed = candidate_weights(view)
        for voter, keys in backed.items():
            share = vote_weight(view.account(voter).balance) // len(keys)
            for k in keys:
                weights[k] += share
        in_round = set(self.round_order())
        out = []
        for key, value in view.scan(DELEGATES):
            rec = json.loads(value)
            out.append(DelegateInfo(key, rec["name"], rec["deposit"], rec["slashed"],
                                    weights.get(key, 0), key in in_round))  # fmt: skip
        return sorted(out, key=lambda d: (-d.weight, d.public_key))

    def status(self) -> dict[str, Any]:
        tip = self.tip
        return {
            "height": tip.height,
            "tipId": tip.block_id.hex(),
            "tipShortId": str(int.from_bytes(tip.block_id[:8], "big")),
            "tipSlot": tip.slot,
            "tipTimestamp": tip.timestamp,
            "stateDigest": self.store.digest_at(tip.height).hex(),
            "round": self.params.round_of(tip.height + 1),
            "finalizedHeight": self.finalized_height(),
            "pendingTransactions": len(self.mempool),
            "pendingEvidence": len(self.evidence_to_slash()),
            "networkId": self.params.network_id,
            "genesisId": self.store.block_id_at(0).hex(),
            "blockTimeS": self.params.block_time_s,
            "genesisTime": self.params.genesis_time,
        }
