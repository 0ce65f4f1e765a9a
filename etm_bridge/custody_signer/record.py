"""The signer's record of every signature it made: never two spends for one mandate
(design-14 section 5.3), across restarts and crashes.

File ``<data dir>/custody_signer.sqlite``, apart from the chain database (deleting the chain to
resync must not forget what the custody key signed), the same way as the forger's
``slashing_protection.sqlite``: WAL journal, ``synchronous=FULL`` (every commit fsync'd),
check-and-write in one ``BEGIN IMMEDIATE`` transaction. Tables (design-14 section 5.3)::

    signed(genesis_id, ticker, mandate_id, revision, input_index, digest, signature, signed_at)
    bound_inputs(genesis_id, ticker, outpoint, mandate_id)        -- UTXO chains
    mandate_inputs(genesis_id, ticker, mandate_id, outpoint)      -- what its revisions spend
    gossip_state(genesis_id, ticker, mandate_id, revision, state) -- recorded | gossiped

:meth:`SigningRecord.record_revision` asks :func:`etm_bridge.custody.signing_rule.approve` for
every input of a revision with what the record holds, and either refuses the whole revision
(nothing written) or writes every new row and binding in one transaction and commits it. The
signatures are computed in memory first (RFC 6979: deterministic), stored with the row, and
released (gossiped) only after the commit: a signer killed at any point has either no row
(nothing left the process) or the row whose exact bytes it re-sends after a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..custody.signing_rule import Approved, Refused, SignedRow, approve, same_inputs
from ..errors import CustodyError
from ..sqlite_records import open_record

FILE_NAME = "custody_signer.sqlite"
RECORDED, GOSSIPED = "recorded", "gossiped"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS signed (genesis_id BLOB, ticker TEXT, mandate_id BLOB,
    revision INTEGER, input_index INTEGER, digest BLOB NOT NULL, signature BLOB NOT NULL,
    signed_at INTEGER,
    PRIMARY KEY (genesis_id, ticker, mandate_id, revision, input_index)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bound_inputs (genesis_id BLOB, ticker TEXT, outpoint BLOB,
    mandate_id BLOB, PRIMARY KEY (genesis_id, ticker, outpoint)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mandate_inputs (genesis_id BLOB, ticker TEXT, mandate_id BLOB,
    outpoint BLOB, PRIMARY KEY (genesis_id, ticker, mandate_id, outpoint)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gossip_state (genesis_id BLOB, ticker TEXT, mandate_id BLOB,
    revision INTEGER, state TEXT,
    PRIMARY KEY (genesis_id, ticker, mandate_id, revision)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class InputToSign:
    """One input of a revision: its index, the digest to sign, its outpoint (UTXO chains)."""

    index: int
    digest: bytes
    outpoint: bytes | None


@dataclass(frozen=True)
class StoredRevision:
    """A revision this signer signed: its signatures by input, and whether it was gossiped."""

    ticker: str
    mandate_id: bytes
    revision: int
    signatures: dict[int, bytes]
    state: str


class SigningRecord:
    """The record of one chain (``genesis_id``) in one SQLite file."""

    def __init__(self, path: Path, genesis_id: bytes):
        self.path = Path(path)
        self.genesis_id = genesis_id
        self._conn = open_record(
            self.path, _SCHEMA, "custody signing record",
            "restore it from a backup: never run the signer without it (it is what stops a "
            "second spend)",
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()

    def _row(self, ticker: str, mid: bytes, rev: int, index: int) -> SignedRow | None:
        row = self._conn.execute(
            "SELECT digest, signature FROM signed WHERE genesis_id=? AND ticker=? AND"
            " mandate_id=? AND revision=? AND input_index=?",
            (self.genesis_id, ticker, mid, rev, index),
        ).fetchone()
        return None if row is None else SignedRow(bytes(row[0]), bytes(row[1]))

    def _bound(self, ticker: str, outpoint: bytes | None) -> bytes | None:
        if outpoint is None:
            return None
        row = self._conn.execute(
            "SELECT mandate_id FROM bound_inputs WHERE genesis_id=? AND ticker=? AND outpoint=?",
            (self.genesis_id, ticker, outpoint),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _mandate_inputs(self, ticker: str, mid: bytes) -> frozenset[bytes]:
        rows = self._conn.execute(
            "SELECT outpoint FROM mandate_inputs WHERE genesis_id=? AND ticker=? AND mandate_id=?",
            (self.genesis_id, ticker, mid),
        ).fetchall()
        return frozenset(bytes(r[0]) for r in rows)

    def record_revision(
        self,
        ticker: str,
        mandate_id: bytes,
        revision: int,
        inputs: Sequence[InputToSign],
        replaces: bytes | None,
        sign: Callable[[bytes], bytes],
    ) -> dict[int, bytes]:
        """Approve every input, durably record the new signatures (``sign(digest)``, computed
        in memory) and bindings, then return {input: signature} (stored bytes for inputs
        signed before). Raises CustodyError (the refusal's reason), writing nothing, if any
        input is refused."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            out, new = self._approve_all(ticker, mandate_id, revision, inputs, replaces, sign)
            now = int(time.time())
            for item, signature in new:
                self._conn.execute(
                    "INSERT INTO signed VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.genesis_id, ticker, mandate_id, revision, item.index, item.digest,
                     signature, now),
                )  # fmt: skip
                if item.outpoint is not None and self._bound(ticker, item.outpoint) is None:
                    self._conn.execute(
                        "INSERT INTO bound_inputs VALUES (?, ?, ?, ?)",
                        (self.genesis_id, ticker, item.outpoint, mandate_id),
                    )
                if item.outpoint is not None:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO mandate_inputs VALUES (?, ?, ?, ?)",
                        (self.genesis_id, ticker, mandate_id, item.outpoint),
                    )
            self._conn.execute(
                "INSERT OR IGNORE INTO gossip_state VALUES (?, ?, ?, ?, ?)",
                (self.genesis_id, ticker, mandate_id, revision, RECORDED),
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return out

    def _approve_all(
        self,
        ticker: str,
        mid: bytes,
        rev: int,
        inputs: Sequence[InputToSign],
        replaces: bytes | None,
        sign: Callable[[bytes], bytes],
    ) -> tuple[dict[int, bytes], list[tuple[InputToSign, bytes]]]:
        out: dict[int, bytes] = {}
        new: list[tuple[InputToSign, bytes]] = []
        if len({i.index for i in inputs}) != len(inputs) or not inputs:
            raise CustodyError("bad_parameter", f"mandate {mid.hex()}: no inputs, or one twice")
        for item in inputs:
            row = self._row(ticker, mid, rev, item.index)
            verdict = approve(row, self._bound(ticker, item.outpoint), mid, item.digest, replaces)
            if isinstance(verdict, Refused):
                raise CustodyError(verdict.reason, verdict.detail)
            assert isinstance(verdict, Approved)
            if verdict.existing is not None:
                out[item.index] = verdict.existing
            else:
                new.append((item, b""))
        # after the per-input verdicts (a changed digest is named first), before any signing
        points = frozenset(i.outpoint for i in inputs if i.outpoint is not None)
        changed = same_inputs(mid, self._mandate_inputs(ticker, mid), points)
        if changed is not None:
            raise CustodyError(changed.reason, changed.detail)
        new = [(item, sign(item.digest)) for item, _ in new]
        out.update({item.index: signature for item, signature in new})
        return out, new

    def mark_gossiped(self, ticker: str, mandate_id: bytes, revision: int) -> None:
        self._conn.execute(
            "UPDATE gossip_state SET state=? WHERE genesis_id=? AND ticker=? AND mandate_id=?"
            " AND revision=?",
            (GOSSIPED, self.genesis_id, ticker, mandate_id, revision),
        )

    def stored(self) -> list[StoredRevision]:
        """Every revision this signer signed (what it re-gossips after a restart)."""
        rows = self._conn.execute(
            "SELECT s.ticker, s.mandate_id, s.revision, s.input_index, s.signature, g.state"
            " FROM signed s LEFT JOIN gossip_state g ON g.genesis_id=s.genesis_id AND"
            " g.ticker=s.ticker AND g.mandate_id=s.mandate_id AND g.revision=s.revision"
            " WHERE s.genesis_id=? ORDER BY s.ticker, s.mandate_id, s.revision, s.input_index",
            (self.genesis_id,),
        ).fetchall()
        found: dict[tuple[str, bytes, int], StoredRevision] = {}
        for ticker, mid, rev, index, sig, state in rows:
            key = (str(ticker), bytes(mid), int(rev))
            if key not in found:
                found[key] = StoredRevision(key[0], key[1], key[2], {}, str(state or RECORDED))
            found[key].signatures[int(index)] = bytes(sig)
        return list(found.values())

    def signed_revision(self, ticker: str, mandate_id: bytes, revision: int) -> dict[int, bytes]:
        """{input: signature} recorded for one revision (empty: never signed)."""
        rows = self._conn.execute(
            "SELECT input_index, signature FROM signed WHERE genesis_id=? AND ticker=? AND"
            " mandate_id=? AND revision=?",
            (self.genesis_id, ticker, mandate_id, revision),
        ).fetchall()
        return {int(i): bytes(s) for i, s in rows}
