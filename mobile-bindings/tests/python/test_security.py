"""The stolen-phone defences through the generated Python bindings: each test
is an attacker's attempt that must fail (docs/security.md, "Stolen phone")."""

import asyncio
from pathlib import Path

import pytest

from conftest import http
import keyway


class Keychain(keyway.SecretStore):
    """The app's key store (the Android Keystore, the iOS Keychain) as a test
    double: secrets in memory, every value ever stored remembered, and a
    failure to raise on demand."""

    def __init__(self):
        self.secrets = {}
        self.ever = []
        self.failure = None

    def _check(self):
        if self.failure is not None:
            raise self.failure

    def get(self, name):
        self._check()
        return self.secrets.get(name)

    def set(self, name, value):
        self._check()
        self.secrets[name] = bytes(value)
        self.ever.append(bytes(value))

    def delete(self, name):
        self._check()
        self.secrets.pop(name, None)


def run(coro):
    return asyncio.run(coro)


def found_in_files(directory, needles):
    """What someone who copies the data directory finds: each needle in the
    raw bytes of any file under it."""
    found = []
    for path in Path(directory).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{n!r} in {path.name}" for n in needles if n in data]
    return found


def six_digit_codes(world, on):
    url = f"{world['server_url']}/v1/manage/policy"
    mia = world["tokens"]["mia"]
    policy = http("GET", url, token=mia)
    policy["six_digit_codes"] = on
    http("PUT", url, policy, token=mia)


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


def test_the_device_token_goes_to_the_apps_secret_store_not_the_database(world, tmp_path):
    keychain = Keychain()
    phone = keyway.KeywayClient(world["server_url"], str(tmp_path), "pytest phone", keychain)
    run(phone.login(world["tokens"]["alice"]))
    token = keychain.secrets["device_token"]
    assert token.startswith(b"kwd_")
    assert found_in_files(tmp_path, [token, b"kwd_"]) == []
    run(phone.sync())
    run(phone.logout())
    assert keychain.secrets == {}


def test_a_failing_secret_store_is_a_typed_error_not_a_crash(world, tmp_path):
    keychain = Keychain()
    phone = keyway.KeywayClient(world["server_url"], str(tmp_path), "pytest phone", keychain)
    keychain.failure = keyway.SecretStoreFailure.Unavailable("the device is locked")
    with pytest.raises(keyway.KeywayError.SecretStore) as caught:
        run(phone.login(world["tokens"]["alice"]))
    assert "the device is locked" in str(caught.value)
    assert phone.session() is None
    keychain.failure = None
    run(phone.login(world["tokens"]["alice"]))
    # An exception the implementation does not declare: still typed.
    keychain.failure = RuntimeError("a bug in the app's key store")
    with pytest.raises(keyway.KeywayError.SecretStore):
        run(phone.sync())
    with pytest.raises(keyway.KeywayError.SecretStore):
        run(phone.logout())
    assert phone.session() is None, "the store is wiped all the same"


def test_logout_leaves_no_token_and_no_code_in_the_data_directory(world, tmp_path, network):
    six_digit_codes(world, True)
    try:
        keychain = Keychain()
        phone = keyway.KeywayClient(world["server_url"], str(tmp_path), "pytest phone", keychain)
        run(phone.login(world["tokens"]["alice"]))
        held = {"582619", "730416", "941752"}
        picked = run(phone.pick_code("582619", keyway.CodeOptions(name="Six")))
        run(phone.change_code(picked.id, "730416"))
        generated = run(phone.generate_code(keyway.CodeOptions(length=6)))
        held.add(generated.value)
        network.down()
        offline = run(phone.pick_code("941752", keyway.CodeOptions(name="Offline")))
        assert offline.server_id is None, "queued in the outbox"
        network.up()
        # This test's codes have 6 digits, so no chance match in binary data;
        # the phone also holds what earlier tests left on Alice's unit.
        assert all(len(v) == 6 for v in held), held
        held |= {c.value for c in phone.codes() if c.value}
        # Before logout the codes are there to find (the search works).
        assert found_in_files(tmp_path, [v.encode() for v in held])
        run(phone.logout())
        needles = [v.encode() for v in held] + keychain.ever
        assert found_in_files(tmp_path, needles) == []
        assert keychain.secrets == {}
    finally:
        six_digit_codes(world, False)
