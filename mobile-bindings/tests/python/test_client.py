"""KeywayClient through the generated Python bindings, against a real
keyway-server and keyway-ble-sim's simulated locks (started by keyway-fixture)."""

import asyncio
import datetime
import threading

import pytest

import keyway


class Events(keyway.KeywayListener):
    """Collects events; tests wait for the ones they expect."""

    def __init__(self):
        self.events = []
        self.changed = threading.Condition()

    def on_event(self, event):
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=30):
        with self.changed:
            ok = self.changed.wait_for(lambda: any(predicate(e) for e in self.events), timeout)
        assert ok, f"no matching event in {self.events}"

    def states_of(self, code_id, lock_id):
        with self.changed:
            out = []
            for e in self.events:
                if isinstance(e, keyway.KeywayEvent.CODE_CHANGED) and e.code.id == code_id:
                    for lock in e.code.locks:
                        if lock.lock_id == lock_id and (not out or out[-1] != lock.state):
                            out.append(lock.state)
            return out


def client(world, tmp_path, name="pytest phone"):
    return keyway.KeywayClient(world["server_url"], str(tmp_path), name)


def run(coro):
    return asyncio.run(coro)


def state_on(code, lock_id):
    return next(lock.state for lock in code.locks if lock.lock_id == lock_id)


def test_login_opens_a_session_with_the_residents_doors(world, tmp_path):
    phone = client(world, tmp_path)
    assert phone.session() is None
    session = run(phone.login(world["tokens"]["alice"]))
    assert session.user.role == keyway.Role.RESIDENT
    assert session.user.unit_id == world["units"]["4B"]
    assert phone.session() == session
    doors = {d.lock_id: d for d in phone.doors()}
    # The unit door, the community door, and the package room (a resident's
    # phone relays its sealed jobs).
    assert set(doors) == {
        world["locks"]["unit_4b"],
        world["locks"]["entrance"],
        world["locks"]["package_room"],
    }
    assert doors[world["locks"]["unit_4b"]].access_point == keyway.AccessPoint.UNIT_DOOR
    assert doors[world["locks"]["package_room"]].access_point == keyway.AccessPoint.PACKAGE_ROOM


def test_bad_token_is_unauthorized(world, tmp_path):
    phone = client(world, tmp_path)
    with pytest.raises(keyway.KeywayError.Unauthorized):
        run(phone.login("kwa_not-a-token"))
    with pytest.raises(keyway.KeywayError.NotLoggedIn):
        run(phone.sync())


def test_picking_1234_lists_every_violated_rule(world, tmp_path):
    phone = client(world, tmp_path)
    run(phone.login(world["tokens"]["alice"]))
    with pytest.raises(keyway.KeywayError.PolicyViolation) as caught:
        run(phone.pick_code("1234", keyway.CodeOptions()))
    rules = [v.rule for v in caught.value.rejection.violations]
    assert rules == [keyway.Rule.SEQUENTIAL, keyway.Rule.COMMON_PIN]
    assert all(v.message for v in caught.value.rejection.violations)
    # The same check without a request, and nothing was queued.
    with pytest.raises(keyway.KeywayError.PolicyViolation):
        phone.check_code("1440", keyway.CodeOptions())
    with pytest.raises(keyway.KeywayError.InvalidFormat):
        phone.check_code("12a4", keyway.CodeOptions())
    assert phone.codes() == []


def test_a_generated_code_goes_pending_then_active_in_range(world, tmp_path, sim):
    phone = client(world, tmp_path)
    events = Events()
    phone.set_listener(events)
    run(phone.login(world["tokens"]["alice"]))
    code = run(phone.generate_code(keyway.CodeOptions(name="Front door")))
    unit = world["locks"]["unit_4b"]
    assert code.value is not None and len(code.value) == 4
    assert state_on(code, unit) == keyway.CodeState.PENDING
    assert state_on(code, world["locks"]["entrance"]) == keyway.CodeState.PENDING
    # Out of range: nothing changes.
    summary = run(phone.deliver_nearby())
    assert all(
        isinstance(v.outcome, keyway.VisitOutcome.FAILED)
        and isinstance(v.outcome.failure, keyway.DeliveryFailure.OUT_OF_RANGE)
        for v in summary.locks
    )
    assert state_on(phone.code(code.id), unit) == keyway.CodeState.PENDING
    # In range of the unit door and the entrance.
    sim.move_phone(101.0)
    summary = run(phone.deliver_nearby())
    outcomes = {v.lock_id: v.outcome for v in summary.locks}
    assert isinstance(outcomes[unit], keyway.VisitOutcome.DELIVERED), summary
    assert outcomes[unit].receipts >= 1, summary
    assert summary.synced
    events.wait_for(
        lambda e: isinstance(e, keyway.KeywayEvent.CODE_CHANGED)
        and e.code.id == code.id
        and state_on(e.code, unit) == keyway.CodeState.ACTIVE
    )
    assert events.states_of(code.id, unit)[-2:] == [keyway.CodeState.PENDING, keyway.CodeState.ACTIVE]
    assert state_on(phone.code(code.id), unit) == keyway.CodeState.ACTIVE
    # The door opens with it.
    entry = sim.type_code(unit, code.value)
    assert entry["entry"]["result"] == "granted"


def test_guest_codes_of_every_type(world, tmp_path):
    phone = client(world, tmp_path)
    session = run(phone.login(world["tokens"]["alice"]))
    now = datetime.datetime.now(datetime.timezone.utc)
    permanent = run(phone.create_guest_code(keyway.GuestType.PERMANENT, None, "Nanny"))
    assert permanent.kind == keyway.CodeKind.GUEST
    assert permanent.schedule == keyway.Schedule.ALWAYS()
    window = keyway.Schedule.WINDOW(now, now + datetime.timedelta(days=2))
    temporary = run(phone.create_guest_code(keyway.GuestType.TEMPORARY, window, "Cousin"))
    assert isinstance(temporary.schedule, keyway.Schedule.WINDOW)
    weekly = keyway.Schedule.RECURRING(
        [keyway.Weekday.MONDAY, keyway.Weekday.THURSDAY],
        "09:00",
        "12:30",
        session.property.time_zone,
    )
    recurring = run(phone.create_guest_code(keyway.GuestType.RECURRING, weekly, "Dog walker"))
    assert recurring.schedule.weekdays == [keyway.Weekday.MONDAY, keyway.Weekday.THURSDAY]
    assert recurring.schedule.time_zone == "America/New_York"
    delivery = run(phone.create_guest_code(keyway.GuestType.DELIVERY, None, "Groceries"))
    assert isinstance(delivery.schedule, keyway.Schedule.WINDOW)
    for code in (permanent, temporary, recurring, delivery):
        assert code.value is not None
        assert all(lock.state == keyway.CodeState.PENDING for lock in code.locks)
    with pytest.raises(keyway.KeywayError.InvalidArgument):
        run(phone.create_guest_code(keyway.GuestType.RECURRING, None, None))


def test_change_disable_enable_delete(world, tmp_path):
    phone = client(world, tmp_path)
    run(phone.login(world["tokens"]["alice"]))
    code = run(phone.pick_code("7306", keyway.CodeOptions(name="Spare")))
    changed = run(phone.change_code(code.id, "8417"))
    assert changed.id == code.id and changed.value == "8417"
    assert not run(phone.disable_code(code.id)).enabled
    assert run(phone.enable_code(code.id)).enabled
    deleted = run(phone.delete_code(code.id))
    assert deleted.status in (keyway.CodeStatus.DELETED,)
    with pytest.raises(keyway.KeywayError.NotFound):
        run(phone.disable_code("no-such-code"))


def test_a_code_requested_offline_goes_out_on_sync(world, tmp_path, network):
    phone = client(world, tmp_path)
    events = Events()
    phone.set_listener(events)
    run(phone.login(world["tokens"]["alice"]))
    network.down()
    code = run(phone.pick_code("5183", keyway.CodeOptions(name="Offline")))
    unit = world["locks"]["unit_4b"]
    assert code.server_id is None
    assert code.pending == keyway.PendingOp.CREATE
    assert state_on(code, unit) == keyway.CodeState.REQUESTED
    events.wait_for(lambda e: isinstance(e, keyway.KeywayEvent.CONNECTIVITY) and not e.online)
    with pytest.raises(keyway.KeywayError.Network):
        run(phone.sync())
    # The app restarts offline: the request is still there.
    phone = client(world, tmp_path)
    assert state_on(phone.code(code.id), unit) == keyway.CodeState.REQUESTED
    network.up()
    summary = run(phone.sync())
    assert summary.sent == 1
    synced = phone.code(code.id)
    assert synced.server_id is not None
    assert synced.pending is None
    assert state_on(synced, unit) == keyway.CodeState.PENDING
    assert run(phone.sync()).sent == 0


def test_an_app_transport_is_used_instead_of_btleplug(world, tmp_path):
    class NoBluetooth(keyway.LockTransport):
        def __init__(self):
            self.scans = 0

        async def scan(self, duration_ms):
            self.scans += 1
            raise keyway.TransportError.AdapterUnavailable("Bluetooth is off")

        async def connect(self, lock_id, timeout_ms):
            raise keyway.TransportError.NotFound(lock_id)

        async def write_frame(self, lock_id, frame, with_response):
            raise keyway.TransportError.Disconnected()

        async def next_notification(self, lock_id, timeout_ms):
            raise keyway.TransportError.Disconnected()

        async def disconnect(self, lock_id):
            return None

    phone = client(world, tmp_path)
    run(phone.login(world["tokens"]["alice"]))
    transport = NoBluetooth()
    phone.set_transport(transport)
    with pytest.raises(keyway.KeywayError.Bluetooth) as caught:
        run(phone.deliver_nearby())
    assert "Bluetooth is off" in str(caught.value)
    assert transport.scans == 1
