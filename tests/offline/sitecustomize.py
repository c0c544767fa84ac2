"""Loaded by Python when this folder is on PYTHONPATH: refuse every non-local connection.

The tests put this folder on PYTHONPATH for the builds and example runs they start, so that
anything reaching for the network fails loudly instead of passing on a connected machine.
"""

import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(original):
    def connect(self, address):
        if not _is_local(address):
            raise OSError(f"sgdlab tests: network access to {address!r} is blocked")
        return original(self, address)

    return connect


socket.socket.connect = _guarded(_connect)
socket.socket.connect_ex = _guarded(_connect_ex)


def _no_lookup(host, *args, **kwargs):
    if host not in (None, "localhost") and not _is_local((host, 0)):
        raise OSError(f"sgdlab tests: name lookup of {host!r} is blocked")
    return _getaddrinfo(host, *args, **kwargs)


_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = _no_lookup
