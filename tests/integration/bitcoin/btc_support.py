"""Helpers of the Bitcoin integration tests: adapter configs on the regtest node.

Every :class:`BitcoinAdapter` broadcast of the session is cross-checked by libbitcoinkernel
(``tests/btc_kernel.py``, installed by ``tests/conftest.py``); the tests here read its verdicts
from ``btc_kernel.BROADCASTS``.
"""

from __future__ import annotations

from pathlib import Path

from bitcoin.core import CTransaction
from btc_kernel import spent_outputs
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.txbuild import vsize
from etm_bridge_regtest.bitcoin import BitcoinNode


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


def mempool_tx(adapter: BitcoinAdapter, txid: str) -> CTransaction:
    return CTransaction.deserialize(bytes.fromhex(adapter.rpc.call("getrawtransaction", txid, 0)))


def fee_paid(adapter: BitcoinAdapter, tx: CTransaction) -> int:
    spent = sum(amount for amount, _ in spent_outputs(adapter.rpc, tx))
    return spent - sum(out.nValue for out in tx.vout)


def assert_pays_the_rate(adapter: BitcoinAdapter, txid: str, rate_sat_vb: int) -> int:
    """The mempool transaction ``txid`` pays ``rate_sat_vb`` (never less); returns its fee.

    The fee was computed on the same transaction with 73-byte dummy signatures, at most 2 bytes
    larger per signature than the real ones, so the paid rate is the given one, never less."""
    tx = mempool_tx(adapter, txid)
    fee, size = fee_paid(adapter, tx), vsize(tx)
    assert rate_sat_vb * size <= fee <= rate_sat_vb * (size + len(tx.vin)), (fee, size)
    return fee
