"""The anvil_node fixture is a real anvil: deploy a contract with eth-account-signed EIP-1559
transactions (AnvilNode.send_transaction), call it, change its state, read it back. The stack's
anvil (``persist=True``) reloads its saved chain after SIGTERM and after SIGKILL.

The contract is 24 bytes of hand-written EVM code (no compiler needed): with calldata it stores
the first word in slot 0, without calldata it returns slot 0. Its constructor stores 42.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from etm_bridge_regtest import procs
from etm_bridge_regtest.anvil import STATE_INTERVAL_S, AnvilNode, AnvilService
from etm_bridge_regtest.service import start, stop

# Runtime: CALLDATASIZE ISZERO PUSH1 0x0c JUMPI | PUSH1 0 CALLDATALOAD PUSH1 0 SSTORE STOP |
#          JUMPDEST PUSH1 0 SLOAD PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN
RUNTIME = bytes.fromhex("3615600c57600035600055005b60005460005260206000f3")
# Constructor: SSTORE(0, 42); CODECOPY(0, 0x10, len(RUNTIME)); RETURN(0, len(RUNTIME)).
INIT = bytes.fromhex("602a600055601880601060003960" + "00f3") + RUNTIME


def _read_slot_value(node: AnvilNode, contract: str) -> int:
    return int(node.rpc.call("eth_call", {"to": contract, "data": "0x"}, "latest"), 16)


def test_fixture_has_fixed_chain_id_and_prefunded_deterministic_accounts(
    anvil_node: AnvilNode,
) -> None:
    assert int(anvil_node.rpc.call("eth_chainId"), 16) == anvil_node.chain_id == 31337
    assert len(anvil_node.private_keys) == len(anvil_node.accounts) == 10
    # anvil's own list of dev accounts equals the ones we derive from its mnemonic.
    assert [a.lower() for a in anvil_node.rpc.call("eth_accounts")] == [
        a.lower() for a in anvil_node.accounts
    ]
    assert anvil_node.balance_wei(anvil_node.accounts[9]) > 0


def test_deploy_a_contract_with_signed_transactions_and_read_it_back(
    anvil_node: AnvilNode,
) -> None:
    key = anvil_node.private_keys[1]
    deploy = anvil_node.send_transaction(key, None, data=INIT)
    assert int(deploy["status"], 16) == 1
    contract = deploy["contractAddress"]
    assert anvil_node.rpc.call("eth_getCode", contract, "latest") == "0x" + RUNTIME.hex()
    assert _read_slot_value(anvil_node, contract) == 42

    store = anvil_node.send_transaction(key, contract, data=(7).to_bytes(32, "big"))
    assert int(store["status"], 16) == 1
    assert _read_slot_value(anvil_node, contract) == 7
    assert int(anvil_node.rpc.call("eth_getStorageAt", contract, "0x0", "latest"), 16) == 7


def _saved_number(service: AnvilService) -> int | None:
    """The best block number in the stack anvil's saved chain (None while being rewritten)."""
    try:
        return int(json.loads(service.state_path.read_bytes())["best_block_number"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def test_the_stack_anvil_reloads_its_chain_after_sigterm_and_its_last_save_after_sigkill(
    tmp_path: Path,
) -> None:
    """SIGTERM (``stack down``): the whole chain comes back, block hashes and contract code
    included. SIGKILL: what the last periodic save wrote comes back; later blocks may not."""
    service = AnvilService(tmp_path / "anvil", port=procs.free_port(), persist=True)
    started = start(service, die_with_parent=True)
    try:
        node = service.node()
        deploy = node.send_transaction(node.private_keys[1], None, data=INIT)
        blocks = {n: node.rpc.call("eth_getBlockByNumber", hex(n), False)["hash"] for n in (0, 1)}
        stop(started.pid)
        started = start(service, die_with_parent=True)
        node = service.node()
        assert int(node.rpc.call("eth_blockNumber"), 16) == 1
        for number, block_hash in blocks.items():
            assert node.rpc.call("eth_getBlockByNumber", hex(number), False)["hash"] == block_hash
        assert node.rpc.call("eth_getCode", deploy["contractAddress"], "latest") != "0x"

        node.rpc.call("anvil_mine", "0x2")
        procs.wait_until(
            lambda: _saved_number(service) == 3,
            timeout_s=3 * STATE_INTERVAL_S,
            what="anvil's periodic save of block 3",
        )
        saved = node.rpc.call("eth_getBlockByNumber", "0x3", False)["hash"]
        node.rpc.call("anvil_mine", "0x1")  # block 4: saved only if a save comes before the kill
        os.killpg(started.pid, signal.SIGKILL)
        procs.wait_until(lambda: not procs.group_alive(started.pid), timeout_s=5, what="kill")
        started = start(service, die_with_parent=True)
        node = service.node()
        assert int(node.rpc.call("eth_blockNumber"), 16) in (3, 4)
        assert node.rpc.call("eth_getBlockByNumber", "0x3", False)["hash"] == saved
    finally:
        stop(started.pid)
