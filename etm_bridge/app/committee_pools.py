"""Committee pools as a client sees them (use case helpers): the vault an LP deposit pays, and
what an LP withdrawal becomes (a mandate: its id, and its status and the pool's open mandates
where the node serves the custody routes, ``/api/custody/mandates``; None where it does not).

A committee pool (operator ``"committee"``, no claim key; docs/custody.md 2.10) takes LP
deposits at the vault of its chain's committee and pays withdrawals by mandates the committee
signs. The ETM node's pool JSON names the vault (``custody.vault``: ticker, epoch, address,
destination script) and the committee (``custody.committee``: epoch, m, n and its keys on the
vault's chain). :func:`deposit_vault` never pays what the node names on its word: it derives
the vault from the committee's keys through the chain's own custody spec (the rule ETM applies
to the deposit) and refuses, before anything is paid, a vault that is not that one, a committee
that does not add up, or a pool whose inflows are paused (ETM would refuse the deposit only
after the coins moved). So one node lying about the vault cannot redirect a deposit to a
script of its choosing; it would have to lie about the committee's keys too, which the chain's
other nodes contradict (``[etm] urls``, docs/network.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..chains.profile import ChainProfile
from ..custody.committee import threshold
from ..errors import ConfigError, NotFoundError, ValidationError

#: Most pages of ``/api/custody/mandates`` one ``pool show`` reads (100 log entries a page).
MAX_MANDATE_PAGES = 20

#: The operator name of a pool held by the chain's committee (``exchange.pool.COMMITTEE_OPERATOR``).
COMMITTEE = "committee"


def is_committee_pool(pool: dict[str, Any]) -> bool:
    return pool.get("operator") == COMMITTEE


@dataclass(frozen=True)
class CommitteeVault:
    """The vault a deposit pays, as the client derived it from the node's committee."""

    ticker: str
    epoch: int
    m: int
    n: int
    address: str
    destination: bytes  # what the payment's output pays (a script, an account)


def _refuse(asset: str, why: str) -> ValidationError:
    return ValidationError(f"the {asset} pool is held by a committee: {why}; nothing was paid")


def _block(asset: str, pool: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    block = pool.get("custody")
    if not isinstance(block, dict):
        raise _refuse(asset, "the ETM node's pool answer has no custody block (an older node?), "
                      "so it names no vault to pay")  # fmt: skip
    if block.get("inflows") != "open":
        raise _refuse(asset, f"its inflows are {block.get('inflows')} ({block.get('reason')}), "
                      "ETM would refuse the deposit; try again later")  # fmt: skip
    vault, committee = block.get("vault"), block.get("committee")
    if not isinstance(vault, dict) or not isinstance(committee, dict):
        raise _refuse(asset, "the ETM node names no vault for it (no custody spec of its chain "
                      "installed there?)")  # fmt: skip
    return vault, committee


def deposit_vault(chain: ChainProfile, pool: dict[str, Any]) -> CommitteeVault:
    """The vault an LP deposit into the committee pool ``pool`` (its node JSON) pays, derived
    by this client (see the module docstring); raises ValidationError naming what is wrong."""
    asset = str(pool.get("asset"))
    vault, committee = _block(asset, pool)
    spec = chain.custody
    if spec is None:
        raise _refuse(asset, f"this client has no {chain.ticker} custody spec to check its vault")
    try:
        m, n, epoch = int(committee["m"]), int(committee["n"]), int(committee["epoch"])
        keys = tuple(bytes.fromhex(k) for k in committee["keys"])
        told = bytes.fromhex(str(vault["destination"]))
        ticker, address = str(vault["ticker"]), str(vault["address"])
        told_epoch = int(vault["epoch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(asset, f"the ETM node's custody block is malformed ({exc!r})") from None
    if ticker != chain.ticker or told_epoch != epoch:
        raise _refuse(asset, f"the ETM node names a {ticker} vault of epoch {told_epoch} for the "
                      f"{chain.ticker} committee of epoch {epoch}")  # fmt: skip
    if not (0 < m <= n == len(keys)) or m != threshold(n) or spec.sort_keys(keys) != keys:
        raise _refuse(asset, f"the committee the ETM node reports does not add up ({m}-of-{n}, "
                      f"{len(keys)} keys in {'' if spec.sort_keys(keys) == keys else 'un'}"
                      "sorted order)")  # fmt: skip
    derived = _derive(spec, epoch, m, n, ticker, keys)
    if derived != told:
        raise _refuse(asset, f"the ETM node names {address} as its vault, which is not the vault "
                      f"of the {m}-of-{n} committee it reports (epoch {epoch}): a lying or broken "
                      "node; refusing to pay it")  # fmt: skip
    return CommitteeVault(ticker, epoch, m, n, address, derived)


def agreed_vault(node: Any, chain: ChainProfile, pool: dict[str, Any]) -> CommitteeVault:
    """:func:`deposit_vault` of ``pool``, which every trusted endpoint of a client on several
    ETM nodes (``node.read_everywhere``, :class:`~etm_bridge.etm_client.endpoints.NodeSet`)
    must name too: a node lying consistently about the committee and its vault is outvoted by
    refusing, never by paying. One endpoint: its word, checked by :func:`deposit_vault`."""
    vault = deposit_vault(chain, pool)
    everywhere = getattr(node, "read_everywhere", None)
    if everywhere is None:
        return vault
    asset = str(pool.get("asset"))
    for url, answer in everywhere(f"/api/exchange/pools/{asset}").items():
        if isinstance(answer, Exception):
            raise _refuse(asset, f"ETM endpoint {url} could not confirm its vault ({answer})")
        try:
            theirs = deposit_vault(chain, answer)
        except ValidationError as exc:
            raise ValidationError(f"ETM endpoint {url}: {exc}") from None
        if theirs.destination != vault.destination:
            raise _refuse(asset, f"the ETM endpoints disagree about its vault ({url} names "
                          f"{theirs.address}, another {vault.address}): a lying node")  # fmt: skip
    return vault


def _derive(spec: Any, epoch: int, m: int, n: int, ticker: str, keys: tuple[bytes, ...]) -> bytes:
    from ..custody.records import Committee

    committee = Committee(epoch, (), m, n, {ticker: keys}, 0, "client")
    try:
        return bytes(spec.vault(committee, spec.genesis.default()).destination)
    except (ValidationError, ConfigError, ValueError) as exc:
        raise ValidationError(f"the {ticker} committee's keys give no vault ({exc})") from None


def withdraw_mandate_id(ticker: str, withdraw_tx_id: str) -> str:
    """The id of the ``lp_withdraw`` mandate a committee pool's withdrawal opens (docs/custody.md
    2.10: from the withdraw transaction's id)."""
    from ..custody.mandates import mandate_id
    from ..custody.records import MandateKind

    return mandate_id(MandateKind.LP_WITHDRAW, ticker, bytes.fromhex(withdraw_tx_id)).hex()


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    """One mandate as ``pool show`` lists it: id, kind (by name), status, amount, height."""
    from ..custody.records import MandateKind

    try:
        kind = MandateKind(int(m["kind"])).name.lower()
    except (ValueError, TypeError):
        kind = str(m.get("kind"))
    amount = (m.get("terms") or {}).get("amount")
    return {"id": m.get("id"), "kind": kind, "status": m.get("status"), "asset": m.get("asset"),
            "amount": None if amount is None else int(amount),
            "created_height": m.get("created_height")}  # fmt: skip


def mandate_status(node: Any, mandate_id: str) -> str | None:
    """A mandate's status as the node reads it (None: the node serves no custody routes, or
    does not know the mandate yet)."""
    try:
        return str(node._request("GET", f"/api/custody/mandates/{mandate_id}")["status"])
    except NotFoundError:
        return None


def pool_mandates(node: Any, asset: str) -> list[dict[str, Any]] | None:
    """The ``open`` and ``queued`` mandates of the ``asset`` pool, oldest first (None: the node
    serves no custody routes). Reads at most :data:`MAX_MANDATE_PAGES` pages (the route scans
    a bounded part of the mandate log per page and filters it, so a page may be short before
    the end: walk until ``next`` is null)."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_MANDATE_PAGES):
        try:
            page, after = node.page("/api/custody/mandates", "mandates",
                                    {"status": "open,queued"}, after=after, limit=100)  # fmt: skip
        except NotFoundError:
            return None
        rows += [_summary(m) for m in page if m.get("asset") == asset]
        if after is None:
            break
    return rows
