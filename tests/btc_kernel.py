"""libbitcoinkernel cross-check of every Bitcoin transaction the tests broadcast.

:func:`install` (called by ``tests/conftest.py`` for the whole session) wraps
``BitcoinAdapter._broadcast``: before a transaction goes to the node, each input's script is
verified by Bitcoin Core's libbitcoinkernel (py-bitcoinkernel) against the output it spends,
and the verdict is recorded in :data:`BROADCASTS`. A transaction the node accepts must have
passed the kernel: the broadcast raises at once, and the session fails at the end if any such
disagreement was swallowed by the code under test. Rejected ones are left for each test to judge,
since the node may reject for reasons outside the script (a non-final lock time, a spent input).
So every lock, claim and refund of every test (Bitcoin, swaps, exchange) is checked by the
reference consensus code as well as by the regtest node.
"""

from __future__ import annotations

from dataclasses import dataclass

import pbk
from bitcoin.core import CTransaction
from etm_bridge_bitcoin import BitcoinAdapter

from etm_bridge.jsonrpc import JsonRpcClient

#: Consensus script rules in force on regtest (taproot is not used by our transactions).
KERNEL_FLAGS = (
    pbk.ScriptVerificationFlags.P2SH
    | pbk.ScriptVerificationFlags.DERSIG
    | pbk.ScriptVerificationFlags.NULLDUMMY
    | pbk.ScriptVerificationFlags.CHECKLOCKTIMEVERIFY
    | pbk.ScriptVerificationFlags.CHECKSEQUENCEVERIFY
    | pbk.ScriptVerificationFlags.WITNESS
)


@dataclass
class Broadcast:
    txid: str
    kernel_ok: bool
    accepted: bool | None = None  # None until the node answered


#: Every transaction any BitcoinAdapter tried to broadcast in this session.
BROADCASTS: list[Broadcast] = []


def kernel_verifies(tx: CTransaction, spent: list[tuple[int, bytes]]) -> bool:
    """True if every input's script passes libbitcoinkernel for the outputs it spends."""
    kernel_tx = pbk.Transaction(tx.serialize())
    return all(
        bool(pbk.ScriptPubkey(spk).verify(amount, kernel_tx, None, index, KERNEL_FLAGS))
        for index, (amount, spk) in enumerate(spent)
    )


def spent_outputs(rpc: JsonRpcClient, tx: CTransaction) -> list[tuple[int, bytes]]:
    """(amount_sat, scriptPubKey) of each output ``tx`` spends, fetched from the node (the
    regtest nodes run with a transaction index)."""
    result = []
    for txin in tx.vin:
        raw = rpc.call("getrawtransaction", txin.prevout.hash[::-1].hex(), 0)
        out = CTransaction.deserialize(bytes.fromhex(raw)).vout[txin.prevout.n]
        result.append((int(out.nValue), bytes(out.scriptPubKey)))
    return result


def disagreements() -> list[Broadcast]:
    """Broadcasts the node accepted although the kernel rejected their scripts."""
    return [b for b in BROADCASTS if b.accepted and not b.kernel_ok]


def install() -> None:
    """Make every BitcoinAdapter broadcast kernel-checked (idempotent)."""
    original = BitcoinAdapter._broadcast
    if getattr(original, "kernel_checked", False):
        return

    def checked(self: BitcoinAdapter, tx: CTransaction) -> str:
        record = Broadcast(
            tx.GetTxid()[::-1].hex(), kernel_verifies(tx, spent_outputs(self.rpc, tx))
        )
        BROADCASTS.append(record)
        record.accepted = False
        txid = original(self, tx)
        record.accepted = True
        assert record.kernel_ok, f"node accepted {txid} but libbitcoinkernel rejects its scripts"
        return txid

    checked.kernel_checked = True  # type: ignore[attr-defined]
    BitcoinAdapter._broadcast = checked  # type: ignore[method-assign]
