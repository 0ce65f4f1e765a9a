"""The Handshake regtest node: hsd (npm ``hsd@8.0.0``) as a :class:`Service`, and its handle.

hsd is started from the project's ``node_modules`` with ``NODE_BACKEND=js`` (only bdb's LevelDB
binding is native: ``make deps`` runs ``npm rebuild bdb``; :func:`hsd_unavailable` says when it
is missing), in memory (the local stack's: on disk under its home, ``persist``), with
``--no-dns`` (its two DNS servers would take fixed ports and a random UDP port, so two nodes
could not run side by side), ``--workers=false`` (no forked verification workers),
``--listen=false`` (no P2P port) and its own ``--prefix`` (so no stray ``hsd.conf`` is read).
The wallet plugin listens on its own port and serves as the faucet. hsd sets
``process.title``, so the process is found by its pid.

:class:`HsdNode` is what tests use: node and wallet JSON-RPC clients, ``mine``, ``fund`` and
``height``. Amounts are integers in dollarydoos (1 HNS = 1,000,000); hsd's RPC speaks HNS as
JSON numbers, converted at this edge only. hsd's ``sendrawtransaction`` and wallet sends return
before the transaction is in the mempool: ``fund`` waits for it.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.adapter import check_header_range
from etm_bridge.errors import NodeUnavailableError, RPCError, RPCWarmupError, StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.observations import Tip

from . import procs, tools
from .service import Service

DOO_PER_HNS = 1_000_000
#: Regtest coinbase maturity is 2: a few blocks make the faucet spendable.
FAUCET_BLOCKS = 4
COINBASE_MATURITY = 2


def hsd_unavailable() -> str | None:
    """Why hsd cannot start here (not installed, or bdb's native LevelDB binding not built),
    or None when it can."""
    try:
        main = hsd_main()
    except StackError as exc:
        return str(exc)
    bindings = [main.parent.parent / "node_modules" / "bdb", main.parent.parent.parent / "bdb"]
    if not any((b / "build" / "Release" / "leveldown.node").is_file() for b in bindings):
        return "hsd's LevelDB binding (bdb) is not built; run `make deps` (npm rebuild bdb)"
    return None


def hsd_main() -> Path:
    """hsd's entry point in the project's node_modules (StackError if not installed)."""
    path = tools.find_node_modules() / "hsd" / "bin" / "hsd"
    if not path.is_file():
        raise StackError(f"{path} is missing; run `make deps` (npm ci + npm rebuild bdb)")
    return path


class HsdService(Service):
    """An hsd regtest node with its wallet plugin as the faucet: throwaway (in memory), or the
    local stack's (``persist``: chain and wallet under ``home/data``, kept across restarts)."""

    name: ClassVar[str] = "hsd"

    def __init__(
        self, home: Path, *, rpc_port: int, wallet_port: int, api_key: str | None = None,
        persist: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(home)
        self.rpc_port = rpc_port
        self.wallet_port = wallet_port
        self.api_key = api_key or secrets.token_hex(16)
        self.persist = persist

    @property
    def ports(self) -> dict[str, int]:
        return {"rpc": self.rpc_port, "wallet": self.wallet_port}

    def command(self) -> list[str]:
        return [
            tools.node_binary(),
            str(hsd_main()),
            "--network=regtest",
            f"--memory={'false' if self.persist else 'true'}",
            f"--prefix={self.home / 'data'}",
            "--http-host=127.0.0.1",
            f"--http-port={self.rpc_port}",
            "--wallet-http-host=127.0.0.1",
            f"--wallet-http-port={self.wallet_port}",
            f"--api-key={self.api_key}",
            "--listen=false",
            "--no-dns",
            "--workers=false",
            "--log-console=true",
            "--log-level=debug",  # rejection reasons ("Verification failed ...") in the log
        ]

    def environment(self) -> dict[str, str]:
        return {"NODE_BACKEND": "js"}

    def prepare(self) -> None:
        super().prepare()
        (self.home / "data").mkdir(exist_ok=True)

    def probe(self) -> bool:
        for port in (self.rpc_port, self.wallet_port):
            rpc = JsonRpcClient(f"http://127.0.0.1:{port}", user="x", password=self.api_key,
                                timeout_s=2.0)  # fmt: skip
            try:
                rpc.call("getblockcount" if port == self.rpc_port else "getbalance")
            except (NodeUnavailableError, RPCWarmupError):
                return False
            finally:
                rpc.close()
        return True

    def node(self) -> HsdNode:
        return HsdNode(self.rpc_port, self.wallet_port, self.api_key, self.log_path)

    def after_ready(self) -> None:
        """The stack's node: the faucet's coinbase mature (a few blocks), once."""
        if not self.persist:
            return  # a throwaway node's tests mine what they need
        node = self.node()
        try:
            if node.height() < FAUCET_BLOCKS:
                node.mine(FAUCET_BLOCKS - node.height())
        finally:
            node.close()

    def describe(self) -> dict[str, Any]:
        """Endpoints and the API key (``stack.json`` is 0600; the key is a regtest node's)."""
        return {"kind": "hsd", "network": "regtest", "ports": self.ports,
                "rpc_url": f"http://127.0.0.1:{self.rpc_port}",
                "wallet_url": f"http://127.0.0.1:{self.wallet_port}", "api_key": self.api_key,
                "log": str(self.log_path)}  # fmt: skip


class HsdNode:
    """Handle on a running hsd regtest node (see etm_bridge_regtest.fixtures)."""

    network = "regtest"

    def __init__(self, rpc_port: int, wallet_port: int, api_key: str, log_path: Path) -> None:
        self.rpc_url = f"http://127.0.0.1:{rpc_port}"
        self.wallet_url = f"http://127.0.0.1:{wallet_port}"
        self.api_key = api_key
        self.log_path = log_path
        self.rpc = JsonRpcClient(self.rpc_url, user="x", password=api_key, timeout_s=60)
        self.wallet = JsonRpcClient(self.wallet_url, user="x", password=api_key, timeout_s=60)
        self._faucet: str | None = None

    def __repr__(self) -> str:
        return f"HsdNode(hsd at {self.rpc_url})"

    def faucet_address(self) -> str:
        if self._faucet is None:
            self._faucet = str(self.wallet.call("getnewaddress"))
        return self._faucet

    def height(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def tip(self) -> Tip:
        """The best block (with :meth:`headers`, a header source for the ETM relay)."""
        height = self.height()
        return Tip(height, str(self.rpc.call("getblockhash", height)))

    def headers(self, start_height: int, count: int) -> list[bytes]:
        """Raw 236-byte headers from ``start_height`` (fewer past the tip)."""
        check_header_range(start_height, count)
        last = min(start_height + count, self.height() + 1)
        return [bytes.fromhex(self.rpc.call("getblockheader",
                                            self.rpc.call("getblockhash", h), False))
                for h in range(start_height, last)]  # fmt: skip

    def mine(self, n: int, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks to ``address`` (default: the faucet); returns their hashes."""
        if n < 0:
            raise ValueError(f"cannot mine a negative number of blocks: {n}")
        target = address or self.faucet_address()
        return [str(h) for h in self.rpc.call("generatetoaddress", n, target)]

    def mempool(self) -> list[str]:
        return [str(t) for t in self.rpc.call("getrawmempool")]

    def wait_in_mempool(self, txid: str, timeout_s: float = 30.0) -> None:
        procs.wait_until(
            lambda: txid in self.mempool(), timeout_s=timeout_s, what=f"hsd tx {txid} to relay"
        )

    def fund(self, address: str, amount_doo: int, *, confirm: bool = True) -> str:
        """Send ``amount_doo`` from the faucet wallet to ``address``; returns the txid."""
        if amount_doo <= 0:
            raise ValueError(f"amount_doo must be positive, got {amount_doo}")
        if self.height() < FAUCET_BLOCKS:
            self.mine(FAUCET_BLOCKS - self.height())
        self._wait_wallet_synced()
        amount = float(Decimal(amount_doo) / DOO_PER_HNS)  # a JSON number with <= 6 decimals
        try:
            txid = str(self.wallet.call("sendtoaddress", address, amount))
        except RPCError as exc:
            if "funds" not in str(exc).lower():
                raise
            self.mine(COINBASE_MATURITY + 1)
            self._wait_wallet_synced()
            txid = str(self.wallet.call("sendtoaddress", address, amount))
        self.wait_in_mempool(txid)
        if confirm:
            self.mine(1)
        return txid

    def _wait_wallet_synced(self) -> None:
        """The wallet follows the chain asynchronously: wait until it has seen the tip."""
        tip = self.height()
        procs.wait_until(
            lambda: int(self.wallet.call("getwalletinfo").get("height", -1)) >= tip,
            timeout_s=30,
            what=f"hsd wallet to reach height {tip}",
        )

    def log_tail(self, lines: int = 40) -> str:
        return procs.log_tail(self.log_path, lines)

    def close(self) -> None:
        self.rpc.close()
        self.wallet.close()
