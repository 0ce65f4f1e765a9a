"""Helpers of the Handshake integration tests: adapter configs on the session's hsd node."""

from __future__ import annotations

from pathlib import Path

from etm_bridge_regtest.hsd import HsdNode


def adapter_config(node: HsdNode, data_dir: Path, secret_hex: str, birth: int) -> dict:
    return {
        "rpc_url": node.rpc_url,
        "rpc_user": "etm",
        "rpc_password": node.api_key,
        "secret_hex": secret_hex,
        "data_dir": str(data_dir),
        "network": "regtest",
        "birth_height": birth,
    }
