"""Helpers of the Bitcoin integration tests: an adapter that cross-checks with libbitcoinkernel.

:class:`KernelCheckedBitcoinAdapter` verifies the scripts of every transaction it broadcasts
with Bitcoin Core's libbitcoinkernel (py-bitcoinkernel) *before* sending it, and records the
kernel's verdict; after the node answers, a transaction the node accepted must have passed the
kernel (else the test fails). Rejected ones are left for the test to judge, since the node may
reject for reasons outside the script (a non-final lock time, a spent input).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pbk
from bitcoin.core import CTransaction
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.bitcoin import BitcoinNode

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


#: Every transaction any kernel-checked adapter tried to broadcast in this session.
BROADCASTS: list[Broadcast] = []


def kernel_verifies(tx: CTransaction, spent: list[tuple[int, bytes]]) -> bool:
    """True if every input's script passes libbitcoinkernel for the outputs it spends."""
    kernel_tx = pbk.Transaction(tx.serialize())
    return all(
        bool(pbk.ScriptPubkey(spk).verify(amount, kernel_tx, None, index, KERNEL_FLAGS))
        for index, (amount, spk) in enumerate(spent)
    )


def adapter_config(node: BitcoinNode, data_dir: Path, secret_hex: str, birth: int) -> dict:
    return {
        "rpc_url": node.rpc_url,
        "rpc_user": node.rpc_user,
        "rpc_password": node.rpc_password,
        "secret_hex": secret_hex,
        "data_dir": str(data_dir),
        "network": "regtest",
        "birth_height": birth,
    }


class KernelCheckedBitcoinAdapter(BitcoinAdapter):
    """BitcoinAdapter whose broadcasts are cross-checked by libbitcoinkernel."""

    def _broadcast(self, tx: CTransaction) -> str:
        record = Broadcast(tx.GetTxid()[::-1].hex(), kernel_verifies(tx, self.spent_outputs(tx)))
        BROADCASTS.append(record)
        record.accepted = False
        txid = super()._broadcast(tx)
        record.accepted = True
        assert record.kernel_ok, f"node accepted {txid} but libbitcoinkernel rejects its scripts"
        return txid

    def spent_outputs(self, tx: CTransaction) -> list[tuple[int, bytes]]:
        """(amount_sat, scriptPubKey) of each output ``tx`` spends, fetched from the node."""
        result = []
        for txin in tx.vin:
            raw = self.rpc.call("getrawtransaction", txin.prevout.hash[::-1].hex(), 0)
            out = CTransaction.deserialize(bytes.fromhex(raw)).vout[txin.prevout.n]
            result.append((int(out.nValue), bytes(out.scriptPubKey)))
        return result
