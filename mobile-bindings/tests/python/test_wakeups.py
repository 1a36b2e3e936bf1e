"""Background wake-ups through the bindings: the app registers the core's
wake filter with the system and, woken near a lock, calls `deliver_to` with
the seconds the system gives it, on the app's own Bluetooth stack. Here that
stack is bleak (the Python BLE library behind Home Assistant's Bluetooth),
talking to keyway-ble-sim's simulated BlueZ as Android's or iOS's stack
talks to a real lock.

Runs last of the Python suites (by file name): it leaves Alice a code."""

import asyncio

import pytest

import keyway
from keyway import keyway_delivery

bleak = pytest.importorskip("bleak")

SERVICE = "4b657977-6179-4c6f-636b-000000000000"
WRITE = "4b657977-6179-4c6f-636b-000000000001"
NOTIFY = "4b657977-6179-4c6f-636b-000000000002"


class BleakTransport(keyway.LockTransport):
    """An app's transport: scans by the wake filter's service and company id,
    connects, writes frames and queues notifications in order."""

    def __init__(self, company_id):
        self.company_id = company_id
        self.devices = {}
        self.links = {}
        self.scans = 0
        self.connects = 0

    async def scan(self, duration_ms):
        self.scans += 1
        found = await bleak.BleakScanner.discover(
            timeout=duration_ms / 1000, return_adv=True, service_uuids=[SERVICE]
        )
        heard = []
        for device, adv in found.values():
            data = adv.manufacturer_data.get(self.company_id)
            if data is None:
                continue
            self.devices[device.address] = device
            heard.append(keyway.LockAdvertisement(
                device=device.address, manufacturer_data=bytes(data), rssi=adv.rssi))
        return heard

    async def connect(self, device, timeout_ms):
        found = self.devices.get(device)
        if found is None:
            raise keyway.TransportError.NotFound(device)
        client = bleak.BleakClient(found, timeout=timeout_ms / 1000)
        try:
            await client.connect()
            queue = asyncio.Queue()
            await client.start_notify(NOTIFY, lambda _c, data: queue.put_nowait(bytes(data)))
        except Exception as e:  # bleak raises its own and D-Bus errors
            raise keyway.TransportError.ConnectFailed(str(e))
        self.connects += 1
        self.links[device] = (client, queue)
        return client.mtu_size

    async def write_frame(self, device, frame, with_response):
        client, _ = self.links[device]
        await client.write_gatt_char(WRITE, bytes(frame), response=with_response)

    async def next_notification(self, device, timeout_ms):
        _, queue = self.links[device]
        try:
            return await asyncio.wait_for(queue.get(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise keyway.TransportError.Timeout()

    async def disconnect(self, device):
        link = self.links.pop(device, None)
        if link is not None:
            await link[0].disconnect()


def state_on(code, lock_id):
    return next(lock.state for lock in code.locks if lock.lock_id == lock_id)


async def woken(phone, transport, lock_id, budget_ms):
    """What an app's wake-up handler does: the library's callbacks run on
    the app's event loop."""
    keyway_delivery.uniffi_set_event_loop(asyncio.get_running_loop())
    phone.set_transport(transport)
    return await phone.deliver_to(lock_id, budget_ms)


def test_woken_near_a_lock_the_app_delivers_within_its_budget(world, tmp_path, sim):
    phone = keyway.KeywayClient(world["server_url"], str(tmp_path), "woken phone")
    asyncio.run(phone.login(world["tokens"]["alice"]))
    unit = world["locks"]["unit_4b"]

    wake = phone.wake_filter()
    assert wake.service_uuid == SERVICE
    assert wake.company_id == 0xFFFF
    assert unit in wake.lock_ids and world["locks"]["entrance"] in wake.lock_ids

    code = asyncio.run(phone.generate_code(keyway.CodeOptions(name="Woken")))
    assert state_on(code, unit) == keyway.CodeState.PENDING
    transport = BleakTransport(wake.company_id)

    # Far from the door the budget runs out and nothing changes.
    far = asyncio.run(woken(phone, transport, unit, 1500))
    assert far.locks == [] or all(
        isinstance(v.outcome, keyway.VisitOutcome.FAILED) for v in far.locks)
    assert state_on(phone.code(code.id), unit) == keyway.CodeState.PENDING

    # At the door: one visit to that lock alone, receipts up, the code active.
    sim.move_phone(101.0)
    near = asyncio.run(woken(phone, transport, unit, 8000))
    assert [v.lock_id for v in near.locks] == [unit], near
    assert isinstance(near.locks[0].outcome, keyway.VisitOutcome.DELIVERED), near
    assert near.receipts_uploaded >= 1 and near.synced
    assert transport.connects == 1
    assert state_on(phone.code(code.id), unit) == keyway.CodeState.ACTIVE
    # The entrance, also in range with the same code pending, was not visited.
    assert state_on(phone.code(code.id), world["locks"]["entrance"]) == keyway.CodeState.PENDING
    assert sim.type_code(unit, code.value)["entry"]["result"] == "granted"


def test_deliver_to_refuses_a_door_that_is_not_the_users_and_a_zero_budget(world, tmp_path):
    phone = keyway.KeywayClient(world["server_url"], str(tmp_path), "woken phone")
    asyncio.run(phone.login(world["tokens"]["bob"]))
    with pytest.raises(keyway.KeywayError.NotFound):
        asyncio.run(phone.deliver_to("0000000000000000", 2000))
    lock = phone.wake_filter().lock_ids[0]
    with pytest.raises(keyway.KeywayError.InvalidArgument):
        asyncio.run(phone.deliver_to(lock, 0))
