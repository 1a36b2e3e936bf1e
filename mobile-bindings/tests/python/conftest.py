"""Shared fixtures for the Python binding tests.

`cargo xtask bindings` generates the bindings into target/bindings/python/keyway
(with the library beside them), puts that directory on PYTHONPATH, and runs
pytest under `keyway-fixture`, the testkit's world as processes: a real
keyway-server with a fresh SQLite file, the Maple Court property set up with the
server's typed admin functions, and keyway-ble-sim's simulated locks on a
private D-Bus bus; it exports where they are
(KEYWAY_FIXTURE_JSON, DBUS_SYSTEM_BUS_ADDRESS, ...).
"""

import json
import os
import urllib.request
import uuid

import pytest


def _world():
    path = os.environ.get("KEYWAY_FIXTURE_JSON")
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def world():
    info = _world()
    if info is None:
        pytest.skip("no keyway-fixture: run through `cargo xtask bindings`")
    return info


def http(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token is not None:
        request.add_header("authorization", f"Bearer {token}")
        request.add_header("idempotency-key", str(uuid.uuid4()))
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


class Sim:
    """The simulator's control API."""

    def __init__(self, url):
        self.url = url

    def move_phone(self, x):
        return http("PUT", f"{self.url}/phone", {"x": x, "y": 0.0})

    def type_code(self, lock_id, code):
        return http("POST", f"{self.url}/locks/{lock_id}/keypad", {"code": code})


class Network:
    """The fixture's network switch between the phone and the server."""

    def __init__(self, url):
        self.url = url

    def down(self):
        http("POST", f"{self.url}/network/down")

    def up(self):
        http("POST", f"{self.url}/network/up")


@pytest.fixture
def sim(world):
    s = Sim(world["sim_url"])
    s.move_phone(0.0)
    yield s
    s.move_phone(0.0)


@pytest.fixture
def network(world):
    n = Network(world["control_url"])
    yield n
    n.up()
