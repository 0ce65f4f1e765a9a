"""Issue 11 item 3: importing eth-account/web3 (py_ecc) no longer leaves Python's recursion limit
at 100,000, where ``json.loads`` of 400,000 ``[`` overflowed the C stack (SIGSEGV).

The check runs in a fresh interpreter that imports what ``etm-bridge node run`` imports, the
Ethereum adapter and the CLI, in an order where py_ecc comes first (through web3).
"""

from __future__ import annotations

import subprocess
import sys

from etm_bridge.recursion import SAFE_RECURSION_LIMIT

NODE_IMPORTS = (
    "import web3, eth_account, etm_bridge_ethereum, etm_bridge.node.server, etm_bridge_cli.main"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_limit_is_safe_after_the_node_imports_and_deep_json_just_raises() -> None:
    done = _run(
        f"{NODE_IMPORTS}; import json, sys, py_ecc\n"
        "print(sys.getrecursionlimit())\n"
        "try:\n    json.loads('[' * 400_000)\nexcept RecursionError:\n    print('refused')"
    )
    assert done.returncode == 0, f"exit {done.returncode} (-11 is SIGSEGV): {done.stderr[-500:]}"
    limit, verdict = done.stdout.split()
    assert int(limit) == SAFE_RECURSION_LIMIT == 1_000
    assert verdict == "refused"


def test_this_process_too() -> None:
    import eth_account  # noqa: F401

    assert sys.getrecursionlimit() <= SAFE_RECURSION_LIMIT
