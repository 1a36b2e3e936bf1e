"""The stolen-phone defences through the generated Python bindings: each test
is an attacker's attempt that must fail (docs/security.md, "Stolen phone")."""

import pytest

from keyway import keyway_mobile as keyway


def test_a_plain_http_server_is_refused_unless_it_is_this_device(tmp_path):
    for url in (
        "http://keyway.example.org",
        "http://192.168.1.20:8080",
        "http://127.0.0.1.nip.io",
        "http://127.0.0.1@keyway.example.org",
    ):
        with pytest.raises(keyway.KeywayError.InvalidArgument) as caught:
            keyway.KeywayClient(url, str(tmp_path), "pytest phone")
        assert "https://" in str(caught.value), url
    for url in ("https://keyway.example.org", "http://localhost:8080", "http://[::1]:8080"):
        keyway.KeywayClient(url, str(tmp_path), "pytest phone")
