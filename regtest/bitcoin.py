"""The Bitcoin regtest node: Bitcoin Core ``bitcoind`` when available, else bcoin.

Both backends are :class:`BitcoinService` subclasses answering the same JSON-RPC on one URL
(the bcoin launcher mounts the wallet RPCs on the node port). :class:`BitcoinNode` is the handle
tests and the demo use: a JSON-RPC client plus ``mine`` and ``fund`` helpers built only from RPCs
both nodes answer (getnewaddress, generatetoaddress, sendtoaddress, getblockcount).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.errors import NodeUnavailableError, RPCError, RPCWarmupError, StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.private_files import write_private

from . import procs, tools
from .service import Service

RPC_USER = "etm"
WALLET_NAME = "etm"
#: Blocks mined to the faucet on first start: 100 to mature the first coinbase, plus one.
FAUCET_BLOCKS = 101
COINBASE_MATURITY = 100


class BitcoinService(Service):
    """Common part of the two backends: RPC credentials, probe, wallet and faucet setup."""

    name: ClassVar[str] = "bitcoin"
    kind: ClassVar[str]

    def __init__(
        self,
        home: Path,
        *,
        rpc_port: int,
        wallet_port: int,
        rpc_password: str | None = None,
        throwaway: bool = False,
        faucet_address: str | None = None,
        premine: bool = True,
    ) -> None:
        super().__init__(home)
        self.rpc_port = rpc_port
        self.wallet_port = wallet_port
        self.rpc_user = RPC_USER
        self.rpc_password = rpc_password or secrets.token_hex(16)
        self.throwaway = throwaway
        self.faucet_address = faucet_address
        self.premine = premine

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    def client(self, timeout_s: float = 60.0) -> JsonRpcClient:
        return JsonRpcClient(
            self.rpc_url, user=self.rpc_user, password=self.rpc_password, timeout_s=timeout_s
        )

    def probe(self) -> bool:
        rpc = self.client(timeout_s=2.0)
        try:
            rpc.call("getblockcount")
        except (NodeUnavailableError, RPCWarmupError):
            return False
        finally:
            rpc.close()
        return True

    def after_ready(self) -> None:
        node = self.node()
        self.faucet_address = node.faucet_address()
        if self.premine and node.rpc.call("getblockcount") < FAUCET_BLOCKS:
            node.mine(FAUCET_BLOCKS - node.rpc.call("getblockcount"))

    def node(self) -> BitcoinNode:
        """A handle on the running node (wallet ensured first)."""
        self.ensure_wallet()
        return BitcoinNode(
            rpc_url=self.rpc_url,
            rpc_user=self.rpc_user,
            rpc_password=self.rpc_password,
            kind=self.kind,
            log_path=self.log_path,
            faucet=self.faucet_address,
        )

    def ensure_wallet(self) -> None:
        """Make sure a default wallet is loaded (bcoin always has one)."""

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "network": "regtest",
            "rpc_url": self.rpc_url,
            "rpc_user": self.rpc_user,
            "rpc_password": self.rpc_password,
            "ports": self.ports,
            "faucet_address": self.faucet_address,
            "log": str(self.log_path),
        }


class BcoinService(BitcoinService):
    """bcoin 1.0.2 through ``bcoin_launcher.js`` (made to behave like bitcoind)."""

    kind: ClassVar[str] = "bcoin"

    @property
    def ports(self) -> dict[str, int]:
        return {"rpc": self.rpc_port, "wallet": self.wallet_port}

    def command(self) -> list[str]:
        argv = [
            tools.node_binary(),
            str(tools.LAUNCHER),
            f"--prefix={self.home / 'data'}",
            "--http-host=127.0.0.1",
            f"--http-port={self.rpc_port}",
            "--wallet-http-host=127.0.0.1",
            f"--wallet-http-port={self.wallet_port}",
            f"--api-key={self.rpc_password}",
            "--index-tx=true",
            "--wallet-witness=true",
            "--listen=false",
        ]
        return [*argv, "--memory=true"] if self.throwaway else argv

    def environment(self) -> dict[str, str]:
        return {"NODE_BACKEND": "js", "NODE_PATH": str(tools.find_node_modules())}

    def prepare(self) -> None:
        super().prepare()
        (self.home / "data").mkdir(exist_ok=True)


class BitcoindService(BitcoinService):
    """Bitcoin Core's bitcoind, configured by a generated ``bitcoin.conf``."""

    kind: ClassVar[str] = "bitcoind"

    def __init__(self, home: Path, *, bitcoind: str, **kwargs: Any) -> None:
        super().__init__(home, **kwargs)
        self.bitcoind = bitcoind

    @property
    def ports(self) -> dict[str, int]:
        return {"rpc": self.rpc_port}

    def command(self) -> list[str]:
        return [self.bitcoind, f"-datadir={self.home / 'data'}", f"-conf={self.conf_path}"]

    @property
    def conf_path(self) -> Path:
        return self.home / "bitcoin.conf"

    def prepare(self) -> None:
        super().prepare()
        (self.home / "data").mkdir(exist_ok=True)
        write_private(self.conf_path, self.conf_text())  # holds rpcpassword

    def conf_text(self) -> str:
        """bitcoin.conf: regtest, txindex, a fallback fee, RPC on loopback, no P2P."""
        return "\n".join(
            [
                "regtest=1",
                "server=1",
                "txindex=1",
                "fallbackfee=0.0002",
                "printtoconsole=1",
                "listen=0",
                "dnsseed=0",
                "listenonion=0",
                "addresstype=bech32",
                "changetype=bech32",
                "[regtest]",
                f"rpcport={self.rpc_port}",
                "rpcbind=127.0.0.1",
                "rpcallowip=127.0.0.1",
                f"rpcuser={self.rpc_user}",
                f"rpcpassword={self.rpc_password}",
                "",
            ]
        )

    def ensure_wallet(self) -> None:
        rpc = self.client()
        try:
            if WALLET_NAME in rpc.call("listwallets"):
                return
            try:
                rpc.call("loadwallet", WALLET_NAME)
            except RPCError:
                rpc.call("createwallet", WALLET_NAME)
        finally:
            rpc.close()


class BitcoinNode:
    """Handle on a running regtest node (see etm_bridge_regtest.fixtures for the attributes)."""

    network = "regtest"

    def __init__(
        self,
        *,
        rpc_url: str,
        rpc_user: str,
        rpc_password: str,
        kind: str,
        log_path: Path | None = None,
        faucet: str | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self.rpc_user = rpc_user
        self.rpc_password = rpc_password
        self.kind = kind
        self.log_path = log_path
        self.rpc = JsonRpcClient(rpc_url, user=rpc_user, password=rpc_password, timeout_s=60)
        self._faucet = faucet

    def __repr__(self) -> str:
        return f"BitcoinNode({self.kind} at {self.rpc_url})"

    def faucet_address(self) -> str:
        """The node wallet's address that receives mined coins (created on first use)."""
        if self._faucet is None:
            self._faucet = str(self.rpc.call("getnewaddress"))
        return self._faucet

    def mine(self, n: int, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks to ``address`` (default: the faucet); returns their hashes."""
        if n < 0:
            raise ValueError(f"cannot mine a negative number of blocks: {n}")
        target = address or self.faucet_address()
        return [str(h) for h in self.rpc.call("generatetoaddress", n, target)]

    def height(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def fund(self, address: str, amount_sat: int, *, confirm: bool = True) -> str:
        """Send ``amount_sat`` from the faucet wallet to ``address``; returns the txid.

        Mines the faucet's first mature coinbase if the chain is younger than 101 blocks, and
        one block to confirm unless ``confirm`` is False.
        """
        if amount_sat <= 0:
            raise ValueError(f"amount_sat must be positive, got {amount_sat}")
        if self.height() < FAUCET_BLOCKS:
            self.mine(FAUCET_BLOCKS - self.height())
        # A JSON number (bcoin refuses strings); float repr of sat / 1e8 is the exact 8-decimal
        # amount for every value below 21e6 BTC, and both nodes parse the text as a decimal.
        amount_btc = amount_sat / 100_000_000
        try:
            txid = str(self.rpc.call("sendtoaddress", address, amount_btc))
        except RPCError as exc:
            text = str(exc).lower()
            if "mempool-chain" in text:  # too many unconfirmed sends in a row: confirm them
                self.mine(1)
            elif exc.code == -6 or "funds" in text:  # out of mature coins: mature 100 more
                self.mine(COINBASE_MATURITY)
            else:
                raise
            txid = str(self.rpc.call("sendtoaddress", address, amount_btc))
        if confirm:
            self.mine(1)
        return txid

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the node's log ('' when not known)."""
        return "" if self.log_path is None else procs.log_tail(self.log_path, lines)


def bitcoin_service(
    home: Path, *, rpc_port: int, wallet_port: int, **kwargs: Any
) -> BitcoinService:
    """bitcoind if ``$BITCOIND`` or PATH has it, else bcoin; StackError if neither can run."""
    bitcoind = tools.find_bitcoind()
    if bitcoind is not None:
        return BitcoindService(
            home, bitcoind=bitcoind, rpc_port=rpc_port, wallet_port=wallet_port, **kwargs
        )
    try:
        tools.find_node_modules()
    except StackError as exc:
        raise StackError(f"no bitcoind on PATH (or $BITCOIND), and no bcoin: {exc}") from exc
    return BcoinService(home, rpc_port=rpc_port, wallet_port=wallet_port, **kwargs)
