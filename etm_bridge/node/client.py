"""A Python client for the ETM node's HTTP API (``requests``), used by the CLI and the tests.

Errors come back as the library's exceptions: a rejected transaction as
:class:`~etm_bridge.errors.TxRejectedError` with the node's ``reason`` code, an unknown id as
:class:`~etm_bridge.errors.NotFoundError`, other 4xx as
:class:`~etm_bridge.errors.ValidationError`, and a node that cannot be reached (or refuses the
admin token) as :class:`~etm_bridge.errors.NodeUnavailableError`.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from ..errors import NodeUnavailableError, NotFoundError, TxRejectedError, ValidationError
from ..jsonsafe import loads_bounded

#: Rows per request when the client walks a paged list route (the node's largest page).
PAGE_LIMIT = 100
#: Largest reply body read (a full block's JSON or hex is far below it): an endpoint that sends
#: more is treated as down, so a flood of bytes cannot fill the client's memory.
MAX_REPLY_BYTES = 32 << 20
#: Error codes the API uses for requests, as opposed to transaction rejection reasons.
_REQUEST_CODES = {"invalid_request", "body_too_large", "http_error", "method_not_allowed"}


class NodeClient:
    """Talks to one node, e.g. ``NodeClient("http://127.0.0.1:26657")``."""

    def __init__(self, url: str, *, admin_token: str | None = None, timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if path.startswith("/api/admin") and self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        try:
            reply = self._session.request(
                method, self.url + path, headers=headers, timeout=self.timeout_s, stream=True,
                **kwargs,
            )  # fmt: skip
            with reply:
                content = self._body(reply)
        except requests.Timeout:
            raise NodeUnavailableError(
                f"ETM node at {self.url} did not answer within {self.timeout_s:g} s"
            ) from None
        except requests.RequestException as exc:  # the library's text names no fix: ours does
            raise NodeUnavailableError(
                f"ETM node at {self.url} did not answer ({type(exc).__name__}); is it running? "
                "(`etm-bridge stack status`, or check etm.url)"
            ) from None
        try:
            data = loads_bounded(content)
        except ValidationError as exc:  # too deep to decode safely
            raise NodeUnavailableError(
                f"ETM node at {self.url} sent unusable JSON (HTTP {reply.status_code}): {exc}"
            ) from None
        except ValueError:
            raise NodeUnavailableError(
                f"ETM node at {self.url} answered HTTP {reply.status_code} without JSON"
            ) from None
        if reply.status_code < 400:
            return data
        error = data.get("error", {}) if isinstance(data, dict) else {}
        code, message = str(error.get("code", "")), str(error.get("message", reply.reason))
        if reply.status_code == 404:
            raise NotFoundError(message)
        if reply.status_code == 503:  # syncing: retry shortly, or ask another node
            raise NodeUnavailableError(f"ETM node at {self.url} cannot answer now: {message}")
        if reply.status_code == 401:
            raise NodeUnavailableError(f"ETM node at {self.url} refused the admin token")
        if reply.status_code == 400 and code not in _REQUEST_CODES:
            raise TxRejectedError(code, message)
        raise ValidationError(f"ETM node refused the request ({code}): {message}")

    def _body(self, reply: requests.Response) -> bytes:
        """The reply's body, at most :data:`MAX_REPLY_BYTES` (else NodeUnavailableError)."""
        declared = reply.headers.get("Content-Length", "")
        chunks, size = [], int(declared) if declared.isdigit() else 0
        if size <= MAX_REPLY_BYTES:
            size = 0
            for chunk in reply.iter_content(1 << 16):
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    break
                chunks.append(chunk)
        if size > MAX_REPLY_BYTES:
            raise NodeUnavailableError(
                f"ETM node at {self.url} sent a reply larger than {MAX_REPLY_BYTES >> 20} MiB: "
                "not read"
            )
        return b"".join(chunks)

    # --- reads ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/api/status")

    def peers(self) -> dict[str, Any]:
        """The node's peers, known addresses, last dial errors and bans (``/api/peers``)."""
        return self._request("GET", "/api/peers")

    def transaction(self, tx_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/transactions/{tx_id}")

    def pending_transactions(self, sender: str | None = None) -> list[dict[str, Any]]:
        """The node's mempool (``sender``'s transactions only, an address), oldest first."""
        params = {"status": "pending", **({"sender": sender} if sender else {})}
        return list(self._request("GET", "/api/transactions", params=params)["transactions"])

    def block(self, ref: int | str) -> dict[str, Any]:
        """A block by height (int), 64-bit display id (decimal str) or id (64 hex digits)."""
        return self._request("GET", f"/api/blocks/{ref}")

    def raw_block(self, ref: int | str) -> bytes:
        """The wire encoding of a block by height or id (``Block.decode`` parses it)."""
        return bytes.fromhex(
            self._request("GET", f"/api/blocks/{ref}", params={"format": "hex"})["hex"]
        )

    def latest_blocks(self, limit: int = 10) -> list[dict[str, Any]]:
        return self._request("GET", "/api/blocks", params={"limit": limit})["blocks"]

    def account(self, address: str) -> dict[str, Any]:
        return self._request("GET", f"/api/accounts/{address}")

    def delegates(self) -> dict[str, Any]:
        return self._request("GET", "/api/delegates")

    def current_round(self) -> dict[str, Any]:
        return self._request("GET", "/api/rounds/current")

    # --- exchange and SPV reads (see node.exchange_api) --------------------------------------

    def page(
        self,
        path: str,
        name: str,
        params: dict[str, str] | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a list route: its rows and the cursor after them (None if empty)."""
        query = dict(params or {})
        if after is not None:
            query["after"] = after
        if limit is not None:
            query["limit"] = str(limit)
        data = self._request("GET", path, params=query)
        return list(data[name]), data.get("next")

    def walk(
        self, path: str, name: str, params: dict[str, str] | None = None, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every row of a list route after cursor ``after``, page by page, and the cursor of
        the last row (``after`` itself if there were none): poll again from it."""
        rows: list[dict[str, Any]] = []
        while True:
            page, cursor = self.page(path, name, params, after=after, limit=PAGE_LIMIT)
            rows += page
            after = cursor or after
            if len(page) < PAGE_LIMIT:
                return rows, after

    def pools(self) -> list[dict[str, Any]]:
        return self.walk("/api/exchange/pools", "pools")[0]

    def pool(self, asset: str) -> dict[str, Any]:
        return self._request("GET", f"/api/exchange/pools/{asset}")

    def positions(self, address: str) -> list[dict[str, Any]]:
        return self.walk(f"/api/exchange/positions/{address}", "positions")[0]

    def obligations(self, investor: str | None = None) -> list[dict[str, Any]]:
        params = {"investor": investor} if investor else {}
        return self.walk("/api/exchange/obligations", "obligations", params)[0]

    def open_swaps(
        self, asset: str | None = None, hashlock: bytes | None = None
    ) -> list[dict[str, Any]]:
        params = {"asset": asset} if asset else {}
        if hashlock is not None:  # at most one: a hashlock serves one HTLC ever
            params["hashlock"] = hashlock.hex()
            return self._request("GET", "/api/exchange/swaps", params=params)["swaps"]
        return self.walk("/api/exchange/swaps", "swaps", params)[0]

    def htlcs(self, hashlock: bytes) -> list[dict[str, Any]]:
        """Every native HTLC (open or ended) locked with ``hashlock`` (``node.htlc_api``)."""
        params = {"hashlock": hashlock.hex()}
        return self._request("GET", "/api/exchange/htlcs", params=params)["htlcs"]

    def hashlock_seen(self, hashlock: bytes) -> bool:
        """Whether ETM knows ``hashlock``: an HTLC used it, or a swap intent reserved it (a
        node from before ``reserved_by`` answers HTLCs only)."""
        params = {"hashlock": hashlock.hex()}
        seen = self._request("GET", "/api/exchange/htlcs", params=params)
        return bool(seen["htlcs"]) or seen.get("reserved_by") is not None

    def swap_intent(self, address: str, hashlock: bytes) -> dict[str, Any] | None:
        """``address``'s bonded swap intent for ``hashlock`` (issue 15), or None."""
        params = {"hashlock": hashlock.hex()}
        rows = self._request("GET", f"/api/exchange/intents/{address}", params=params)["intents"]
        return rows[0] if rows else None

    def htlc(self, htlc_id: str) -> dict[str, Any]:
        """One native HTLC by id (64 hex digits); NotFoundError if there is none."""
        return self._request("GET", f"/api/exchange/htlcs/{htlc_id}")

    def swap_history(
        self, asset: str | None = None, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The pool swaps opened (open or ended) after cursor ``after`` (None: from the first),
        ``{"htlc_id", "swap", "htlc"}`` in the order opened, and the cursor to poll from next."""
        params = {"asset": asset} if asset else {}
        return self.walk("/api/exchange/swap-history", "swaps", params, after)

    def bindings(self, address: str) -> dict[str, Any]:
        """``{<ticker>: binding or None, ...}`` of an ETM address, for every installed chain."""
        return self._request("GET", f"/api/exchange/bindings/{address}")["bindings"]

    def last_binding_nonce(self, address: str, chain: str) -> int | None:
        """The highest binding nonce ``address`` used on ``chain`` (None if never bound)."""
        nonces = self._request("GET", f"/api/exchange/bindings/{address}").get("nonces", {})
        last = nonces.get(chain)
        return None if last is None else int(last)

    def quote(self, asset: str, direction: str, amount_in: int) -> dict[str, Any]:
        """``direction`` ``asset_to_etm`` or ``etm_to_asset``; ``amount_in`` in base units."""
        params = {"asset": asset, "direction": direction, "amount": str(amount_in)}
        return self._request("GET", "/api/exchange/quote", params=params)

    def deposit_quote(self, asset: str, asset_amount: int) -> dict[str, Any]:
        """``{"etm_needed", "shares", ...}``: the least ``etm_max`` an ``asset_amount`` deposit
        (base units) needs now; ``pool_empty`` (HTTP 400) before the pool's first deposit."""
        params = {"amount": str(asset_amount)}
        return self._request("GET", f"/api/exchange/pools/{asset}/deposit-quote", params=params)

    def spv_status(self) -> dict[str, Any]:
        """Every relay under its chain's name (absent if not initialised)."""
        return self._request("GET", "/api/spv")

    def spv_relay(self, ticker: str) -> dict[str, Any]:
        """The ``ticker`` chain's relay (NotFoundError if the chain has none yet)."""
        return self._request("GET", f"/api/spv/{ticker}")

    def spv_best_hash(self, chain: str, height: int) -> str | None:
        """The ``chain`` (ticker) relay's best-chain hash at ``height`` in the chain's display
        form, or None."""
        try:
            return str(self._request("GET", f"/api/spv/{chain}/best/{height}")["hash"])
        except NotFoundError:
            return None

    # --- writes -----------------------------------------------------------------------------

    def submit_tx(self, signed: bytes) -> dict[str, Any]:
        """Submit a signed transaction's encoding; returns ``{"id": ..., ...}``."""
        return self._request("POST", "/api/transactions", json={"tx": bytes(signed).hex()})

    def forging_status(self) -> dict[str, Any]:
        return self._request("GET", "/api/admin/forging")

    def set_forging(self, enabled: bool, blocks: int | None = None) -> dict[str, Any]:
        """Turn forging on or off; ``blocks``: forge exactly that many blocks, then pause."""
        body: dict[str, Any] = {"enabled": enabled}
        if blocks is not None:
            body["blocks"] = blocks
        return self._request("POST", "/api/admin/forging", json=body)

    def forge(self, blocks: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """Forge exactly ``blocks`` blocks (the node's forging keys), then pause; returns the
        status once the tip is that much higher (a node whose forging was paused)."""
        tip = int(self.status()["height"])
        self.set_forging(True, blocks)
        return self.wait_for_height(tip + blocks, timeout_s)

    def add_forging_key(self, seed: bytes) -> dict[str, Any]:
        return self._request("POST", "/api/admin/forging/keys", json={"seed": seed.hex()})

    # --- waiting ----------------------------------------------------------------------------

    def wait_ready(self, timeout_s: float = 15.0) -> dict[str, Any]:
        """Poll ``/api/status`` until the node answers; raise NodeUnavailableError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.status()
            except NodeUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def wait_for_height(self, height: int, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until the chain tip reaches ``height``; returns the status."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status["height"] >= height:
                return status
            if time.monotonic() > deadline:
                raise NodeUnavailableError(
                    f"ETM node at {self.url} stayed at height {status['height']} < {height}"
                )
            time.sleep(0.1)
