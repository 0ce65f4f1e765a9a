"""One nonce manager per account: no nonce used twice, none skipped, across threads,
processes and restarts.

A nonce is *reserved* inside :meth:`NonceManager.reserve`, which holds an exclusive
``fcntl.flock`` on the account's lock file for the whole sign-and-broadcast step, so two
threads or two processes using the same key (and the same data dir) take turns. The next nonce
is the node's ``eth_getTransactionCount(address, "pending")``, raised to the value persisted
after our last broadcast when that broadcast is still known to the node (a node behind a load
balancer may not have seen it yet). A persisted value whose transaction the node does not know
(dropped, node restarted without its mempool) is not trusted, so no gap is ever created.
Nothing is persisted unless the broadcast succeeded (:meth:`Reservation.commit`).

State file: ``<data_dir>/nonces/<chain_id>-<address>.json`` = ``{"next_nonce": n,
"last_tx_hash": "0x…"}``, written atomically (temp file + rename).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from etm_bridge.errors import ConfigError


@dataclass
class Reservation:
    """A nonce held for one broadcast. Call :meth:`commit` once the node accepted the tx."""

    nonce: int
    committed_tx_hash: str | None = field(default=None)

    def commit(self, tx_hash: str) -> None:
        self.committed_tx_hash = tx_hash


class NonceManager:
    """Nonces of one account on one chain. See the module docstring for the rules."""

    def __init__(
        self,
        data_dir: Path,
        chain_id: int,
        address: str,
        pending_count: Callable[[], int],
        tx_known: Callable[[str], bool],
    ) -> None:
        directory = Path(data_dir) / "nonces"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create nonce directory {directory}: {exc}") from exc
        stem = f"{chain_id}-{address.lower()}"
        self.state_path = directory / f"{stem}.json"
        self.lock_path = directory / f"{stem}.lock"
        self._pending_count = pending_count
        self._tx_known = tx_known

    @contextmanager
    def reserve(self) -> Iterator[Reservation]:
        """Hold the account's lock; yield the next nonce; persist it if committed."""
        with open(self.lock_path, "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                reservation = Reservation(self._next_nonce())
                yield reservation
                if reservation.committed_tx_hash is not None:
                    self._write(reservation.nonce + 1, reservation.committed_tx_hash)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def persisted(self) -> tuple[int, str | None] | None:
        """(next nonce, last tx hash) as persisted, or None if nothing was sent yet."""
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return int(data["next_nonce"]), data.get("last_tx_hash")
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"nonce file {self.state_path} is corrupt: {exc}") from exc

    def _next_nonce(self) -> int:
        pending = self._pending_count()
        saved = self.persisted()
        if saved is None:
            return pending
        next_nonce, last_tx_hash = saved
        if next_nonce > pending and last_tx_hash is not None and self._tx_known(last_tx_hash):
            return next_nonce
        return pending

    def _write(self, next_nonce: int, tx_hash: str) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_nonce": next_nonce, "last_tx_hash": tx_hash}))
        os.replace(tmp, self.state_path)
