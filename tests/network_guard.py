"""A process-wide guard that fails any attempt to reach a non-loopback address (tests only).

A :func:`sys.addaudithook` hook watches socket connects/sends and DNS lookups. While :attr:`Guard.armed` it raises
on any target that is not 127.0.0.1/::1/localhost and records it in :attr:`Guard.violations`; ``tests/conftest.py``
arms it around every test, so no test (and no thread a test starts) can send a request off the machine.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

__all__ = ["Guard", "is_loopback"]


class Guard:
    """The guard's switch and what it caught."""

    armed = False
    violations: list[str] = []  # noqa: RUF012 - test-only singleton


def is_loopback(host: object) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not Guard.armed:
        return
    target: object = None
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if isinstance(address, (str, bytes)) or address is None:  # AF_UNIX path, or no address
            return
        target = address[0]
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        target = args[0]
        if target is None:
            return
    else:
        return
    if not is_loopback(target):
        Guard.violations.append(f"{event} {target!r}")
        raise RuntimeError(f"test tried to reach a non-loopback address: {event} {target!r}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; it only acts while armed
