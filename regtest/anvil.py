"""anvil (Foundry's local Ethereum node) as a stack Service, and the :class:`AnvilNode` handle.

anvil runs from node_modules (the native binary of the npm package) on loopback with a fixed
chain id and the well-known development mnemonic, so its prefunded accounts (10 000 ETH each) and
their keys are deterministic: ``AnvilNode.private_keys`` derives them (BIP44 ``m/44'/60'/0'/0/i``).

anvil keeps its chain in memory. The stack's anvil (``persist=True``) saves it to
``<home>/state.json`` with ``--state`` (anvil 1.7.1): blocks with their hashes, transactions,
receipts and logs, accounts and contract storage. It is loaded at start and written on exit
(SIGTERM, what ``stack down`` sends) and every :data:`STATE_INTERVAL_S` seconds, so a SIGKILL
(or a crash, a reboot) loses at most the changes of the last interval. anvil rewrites the file
in place (no rename): a kill during a write leaves it truncated, which anvil refuses to load;
``prepare`` then refuses to start and says what to do (:func:`.service.reset_hint`), and
``stack up`` checks that the loaded chain is the one the ETM node follows (:mod:`.consistency`).
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.errors import ChainError, NodeUnavailableError, RPCError, StackError
from etm_bridge.jsonrpc import JsonRpcClient

from . import procs, tools
from .service import Service, reset_hint

CHAIN_ID = 31337
STATE_FILE = "state.json"
#: Seconds between anvil's periodic state dumps (each rewrites the whole chain: ~2 KB a block).
STATE_INTERVAL_S = 5
#: anvil's default development mnemonic: public test keys, never for real funds.
MNEMONIC = "test test test test test test test test test test test junk"
ACCOUNTS = 10
BALANCE_ETH = 10_000


def derive_private_keys(mnemonic: str = MNEMONIC, count: int = ACCOUNTS) -> list[str]:
    """0x-hex private keys of the first ``count`` BIP44 Ethereum accounts of ``mnemonic``."""
    from eth_account import Account  # imported here: ~1 s, and `stack status` never needs it

    Account.enable_unaudited_hdwallet_features()
    return [
        "0x" + bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
        for i in range(count)
    ]


class AnvilService(Service):
    """anvil with a fixed chain id and mnemonic on one loopback port."""

    name: ClassVar[str] = "anvil"
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(
        self, home: Path, *, port: int, chain_id: int = CHAIN_ID, persist: bool = False
    ) -> None:
        super().__init__(home)
        self.port = port
        self.chain_id = chain_id
        self.persist = persist

    @property
    def state_path(self) -> Path:
        return self.home / STATE_FILE

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"rpc": self.port}

    def command(self) -> list[str]:
        return [
            str(tools.anvil_binary()),
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--chain-id={self.chain_id}",
            f"--mnemonic={MNEMONIC}",
            f"--accounts={ACCOUNTS}",
            f"--balance={BALANCE_ETH}",
            *(
                [f"--state={self.state_path}", f"--state-interval={STATE_INTERVAL_S}"]
                if self.persist
                else []
            ),
        ]

    def prepare(self) -> None:
        super().prepare()
        if self.persist and self.state_path.exists():
            try:
                json.loads(self.state_path.read_bytes())
            except ValueError as exc:
                raise StackError(
                    f"anvil: its saved chain {self.state_path} is damaged ({exc}; anvil was "
                    f"killed while writing it): {reset_hint(self.home.parent)}"
                ) from None

    def probe(self) -> bool:
        rpc = JsonRpcClient(self.rpc_url, version="2.0", timeout_s=2.0)
        try:
            return int(rpc.call("eth_chainId"), 16) == self.chain_id
        except (NodeUnavailableError, RPCError):
            return False
        finally:
            rpc.close()

    def node(self) -> AnvilNode:
        return AnvilNode(rpc_url=self.rpc_url, chain_id=self.chain_id, log_path=self.log_path)

    def describe(self) -> dict[str, Any]:
        node = self.node()
        return {
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "ports": self.ports,
            "mnemonic": MNEMONIC,
            "accounts": node.accounts,
            "private_keys": node.private_keys,
            "log": str(self.log_path),
        }


class AnvilNode:
    """Handle on a running anvil (see etm_bridge_regtest.fixtures for the attributes)."""

    def __init__(self, *, rpc_url: str, chain_id: int, log_path: Path | None = None) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.log_path = log_path
        self.mnemonic = MNEMONIC
        self.rpc = JsonRpcClient(rpc_url, version="2.0", timeout_s=60)

    def __repr__(self) -> str:
        return f"AnvilNode(chain {self.chain_id} at {self.rpc_url})"

    @cached_property
    def private_keys(self) -> list[str]:
        """0x-hex keys of the prefunded accounts, in anvil's order."""
        return derive_private_keys(self.mnemonic, ACCOUNTS)

    @cached_property
    def accounts(self) -> list[str]:
        """Checksummed addresses of the prefunded accounts (same order as private_keys)."""
        from eth_account import Account

        return [Account.from_key(key).address for key in self.private_keys]

    def balance_wei(self, address: str) -> int:
        return int(self.rpc.call("eth_getBalance", address, "latest"), 16)

    def send_transaction(
        self,
        private_key: str,
        to: str | None,
        *,
        value_wei: int = 0,
        data: bytes = b"",
        gas: int = 300_000,
    ) -> dict[str, Any]:
        """Sign an EIP-1559 transaction with eth-account, send it raw, return the receipt.

        ``to=None`` deploys ``data`` as init code. anvil mines each transaction at once, so the
        receipt is there when the call returns.
        """
        from eth_account import Account
        from eth_utils import to_checksum_address

        sender = Account.from_key(private_key).address
        latest = self.rpc.call("eth_getBlockByNumber", "latest", False)
        tip_wei = 1_000_000_000
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": int(self.rpc.call("eth_getTransactionCount", sender, "pending"), 16),
            "maxPriorityFeePerGas": tip_wei,
            "maxFeePerGas": 2 * int(latest["baseFeePerGas"], 16) + tip_wei,
            "gas": gas,
            "value": value_wei,
            "data": data,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        signed = Account.sign_transaction(tx, private_key)
        raw = "0x" + bytes(signed.raw_transaction).hex()
        return self.wait_for_receipt(self.rpc.call("eth_sendRawTransaction", raw))

    def wait_for_receipt(self, tx_hash: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """The receipt of ``tx_hash``, polled until anvil has mined it (automine is quick)."""
        deadline = time.monotonic() + timeout_s
        while (receipt := self.rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise ChainError(f"anvil did not mine transaction {tx_hash} in {timeout_s:g} s")
            time.sleep(0.02)
        return dict(receipt)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of anvil's log ('' when not known)."""
        return "" if self.log_path is None else procs.log_tail(self.log_path, lines)
