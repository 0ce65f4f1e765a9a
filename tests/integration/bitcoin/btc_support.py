"""Helpers of the Bitcoin integration tests: adapter configs on the regtest node.

Every :class:`BitcoinAdapter` broadcast of the session is cross-checked by libbitcoinkernel
(``tests/btc_kernel.py``, installed by ``tests/conftest.py``); the tests here read its verdicts
from ``btc_kernel.BROADCASTS``.
"""

from __future__ import annotations

from pathlib import Path

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
