"""The node's state: one :class:`~etm_bridge.chain.ledger.Chain`, the forging keys, JSON views.

:class:`NodeService` implements the API's ``NodeBackend``: it decodes requests into chain calls
and chain objects into the API's JSON (blocks in the whitepaper's 5.2 form). It is used from one
thread only (the event loop), like the chain and its SQLite store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..chain.address import decode_address
from ..chain.block import Block
from ..chain.keys import SigningKey
from ..chain.ledger import Chain
from ..chain.params import etm_time
from ..chain.signing_guard import SigningGuard
from ..chain.tx import Tx
from ..errors import ConfigError, NotFoundError, SigningRefusedError, TxRejectedError
from ..private_files import read_private, write_private


def load_forging_keys(path: Path) -> dict[bytes, SigningKey]:
    """Delegate keys from ``forging_keys.json`` (``{"seeds": [hex, ...]}``); {} if absent."""
    text = read_private(path)
    if text is None:
        return {}
    try:
        data = json.loads(text)
        keys = [SigningKey(bytes.fromhex(seed)) for seed in data["seeds"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: malformed forging keys file ({exc})") from None
    return {key.public_key: key for key in keys}


def save_forging_keys(path: Path, keys: Mapping[bytes, SigningKey]) -> None:
    seeds = [keys[pk].seed.hex() for pk in sorted(keys)]
    write_private(path, json.dumps({"seeds": seeds}, indent=2) + "\n")


class NodeService:
    """The chain plus forging state, seen through the API."""

    def __init__(
        self,
        chain: Chain,
        keys: Mapping[bytes, SigningKey],
        *,
        forging: bool = True,
        keys_path: Path | None = None,
        guard: SigningGuard | None = None,
    ):
        self.chain = chain
        self.keys = dict(keys)
        self.forging = forging
        self.keys_path = keys_path
        self.guard = guard  # slashing protection (the node's is on disk); None: in memory
        self.forged_blocks = 0
        #: Blocks left to forge before forging pauses by itself (None: no limit), set by
        #: ``set_forging(True, blocks=n)``: tests mine exactly n blocks, as on a regtest chain.
        self.forge_budget: int | None = None
        self.refused_slots: list[int] = []  # the last slots slashing protection refused
        self.last_forge_error: str | None = None
        #: The peer layer's hooks (``node.p2p``): told of every admitted tx and forged block;
        #: ``paused`` (syncing) holds the forger; ``network_status`` adds to ``status()``.
        self.tx_listeners: list[Callable[[Tx], None]] = []
        self.block_listeners: list[Callable[[Block], None]] = []
        self.paused: Callable[[], bool] = lambda: False
        self.network_status: Callable[[], dict[str, Any]] = dict

    # --- forging ------------------------------------------------------------------------------

    def forge(self, now: int) -> Block | None:
        """Forge and apply a block if ``now`` (ETM-epoch s) is a new slot of one of our keys."""
        if not self.forging or not self.keys or self.paused():
            return None
        slot = self.chain.params.slot_of(now)
        if self.refused_slots and self.refused_slots[-1] == slot:
            return None  # refused once: do not ask again every poll of this slot
        try:
            block = self.chain.forge_next(now, self.keys, self.guard)
        except SigningRefusedError:
            self.refused_slots = [*self.refused_slots[-9:], slot]
            raise
        if block is not None:
            self.forged_blocks += 1
            if self.forge_budget is not None:
                self.forge_budget -= 1
                if self.forge_budget <= 0:
                    self.forging, self.forge_budget = False, None
            for listener in self.block_listeners:
                listener(block)
        return block

    def forging_status(self) -> dict[str, Any]:
        return {
            "enabled": self.forging,
            "publicKeys": [pk.hex() for pk in sorted(self.keys)],
            "forgedBlocks": self.forged_blocks,
            "refusedSlots": self.refused_slots,
            "lastError": self.last_forge_error,
            "blocksLeft": self.forge_budget,
        }

    def set_forging(self, enabled: bool, blocks: int | None = None) -> dict[str, Any]:
        """Turn forging on or off; ``blocks``: forge exactly that many blocks, then pause."""
        self.forging = enabled
        self.forge_budget = blocks if enabled else None
        return self.forging_status()

    def add_forging_key(self, seed: bytes) -> dict[str, Any]:
        key = SigningKey(seed)
        self.keys[key.public_key] = key
        if self.keys_path is not None:
            save_forging_keys(self.keys_path, self.keys)
        return self.forging_status()

    # --- reads --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        out = self.chain.status()
        out["nodeVersion"] = __version__
        out["forging"] = self.forging and bool(self.keys)
        out["forgingKeys"] = len(self.keys)
        out["finalizedId"] = self.chain.block_by_height(out["finalizedHeight"]).id.hex()
        out.update(self.network_status())
        return out

    def submit_tx(self, raw: bytes) -> dict[str, Any]:
        """Admit and gossip a tx. Idempotent: a tx already pending (e.g. it reached this node
        from a peer first, as clients submit to several nodes) answers ``pending`` again."""
        tx = Tx.decode(raw)
        try:
            self.chain.submit_tx(tx)
        except TxRejectedError as exc:
            if exc.reason != "duplicate":
                raise
            return {"id": tx.id.hex(), "status": "pending"}
        for listener in self.tx_listeners:
            listener(tx)
        return {"id": tx.id.hex(), "status": "pending"}

    def pending_transactions(self, sender: str | None = None) -> list[dict[str, Any]]:
        """The mempool's transactions (of ``sender`` only, an address), in admission order."""
        wanted = None if sender is None else decode_address(sender)
        return [
            {**self.chain.registry.tx_json(tx), "height": None, "status": "pending"}
            for tx in self.chain.mempool.pending()
            if wanted is None or tx.sender == wanted
        ]

    def transaction(self, tx_id: bytes) -> dict[str, Any]:
        tx, height = self.chain.tx_by_id(tx_id)
        out = self.chain.registry.tx_json(tx)
        out["height"] = None if height < 0 else height
        out["status"] = "pending" if height < 0 else "confirmed"
        return out

    def _block_json(self, block: Block) -> dict[str, Any]:
        out = block.to_json()
        out["transactions"] = [self.chain.registry.tx_json(tx) for tx in block.transactions]
        out["final"] = block.height <= self.chain.finalized_height()
        return out

    def block(self, ref: int | str | bytes) -> dict[str, Any]:
        """Block JSON by height (int), 64-bit display id (decimal str) or 32-byte id."""
        return self._block_json(self._block(ref))

    def _block(self, ref: int | str | bytes) -> Block:
        if isinstance(ref, int):
            return self.chain.block_by_height(ref)
        if isinstance(ref, str):
            return self.chain.block_by_short_id(ref)
        return self.chain.block_by_id(ref)

    def block_hex(self, ref: int | str | bytes) -> dict[str, Any]:
        """The wire encoding of a block by height (int), 64-bit display id (str) or 32-byte id."""
        block = self._block(ref)
        return {"height": block.height, "id": block.id.hex(), "hex": block.encoded.hex()}

    def latest_blocks(self, limit: int) -> list[dict[str, Any]]:
        final = self.chain.finalized_height()
        return [
            {**block.to_json(), "final": block.height <= final}
            for block in self.chain.latest_blocks(limit)
        ]

    def account(self, address: str) -> dict[str, Any]:
        return self.chain.account(decode_address(address)).to_json()

    def delegates(self) -> dict[str, Any]:
        return {"delegates": [d.to_json() for d in self.chain.delegates()]}

    def current_round(self) -> dict[str, Any]:
        """The round the next block belongs to: its forging order and whose slot is next."""
        status = self.chain.status()
        order = self.chain.round_order()
        if not order:
            raise NotFoundError("no forging order for the current round")
        names = {d.public_key: d.name for d in self.chain.delegates()}
        slot = max(self.chain.params.slot_of(etm_time(time.time())), status["tipSlot"] + 1)
        return {
            "round": status["round"],
            "order": [{"publicKey": pk.hex(), "name": names.get(pk)} for pk in order],
            "slot": slot,
            "slotDelegate": order[slot % len(order)].hex(),
        }
