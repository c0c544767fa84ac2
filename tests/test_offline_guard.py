"""The network guard used by the build and example tests really blocks the network."""

from helpers import ROOT, offline_env, run


def test_guard_blocks_outside_connections(python):
    probe = "import urllib.request; urllib.request.urlopen('http://example.com', timeout=5)"
    result = run([python, "-c", probe], env=offline_env())
    assert result.returncode != 0
    assert "blocked" in result.stderr


def test_guard_allows_loopback(python):
    probe = (
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "c = socket.create_connection(s.getsockname()); print('ok')"
    )
    result = run([python, "-c", probe], env=offline_env())
    assert result.stdout.strip() == "ok", result.stderr
