"""The peer layer's settings (from ``node.json`` and ``node run --peer``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError, ValidationError
from .limits import BAN_THRESHOLD, DEFAULT_BAN_S
from .messages import check_address


@dataclass(frozen=True)
class P2PSettings:
    peers: tuple[str, ...] = ()  # HOST:PORT dialled always (redialled with backoff)
    peer_exchange: bool = True  # learn and share addresses (get_peers / peers)
    max_outbound: int = 8
    max_inbound: int = 32
    #: Inbound connections (handshaking ones included) one non-loopback address may hold.
    max_inbound_per_ip: int = 4
    ban_threshold: int = BAN_THRESHOLD
    ban_seconds: int = DEFAULT_BAN_S

    def __post_init__(self) -> None:
        for address in self.peers:
            try:
                check_address(address)
            except ValidationError as exc:
                raise ConfigError(f"peers: {exc} (write HOST:PORT, [IPv6]:PORT)") from None
        if min(self.max_outbound, self.max_inbound, self.max_inbound_per_ip, self.ban_seconds) < 0:
            raise ConfigError(
                "max_outbound, max_inbound, max_inbound_per_ip and ban_seconds must be >= 0"
            )
