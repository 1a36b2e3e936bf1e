"""Codes for a door no phone has reached, through the Python bindings: a
guest code that works offline opens Unit 4B with no delivery, and a backup
code the lock already holds stands in for a delivery code still pending;
both uses reach the app once the phone passes the door again. (Named to run
last: it leaves codes on Alice's unit, which earlier files count.)"""

import asyncio
import datetime

import pytest

import keyway

from conftest import http
from test_client import Events, client, state_on

# Where the fixture puts the phone: no lock hears it.
AWAY = 0.0
# Beside Unit 4B.
AT_THE_DOOR = 101.0


def run(coro):
    return asyncio.run(coro)


def set_pool(world, size):
    unit = world["locks"]["unit_4b"]
    return http(
        "PUT",
        f"{world['server_url']}/v1/manage/locks/{unit}/backup-pool",
        {"size": size},
        token=world["tokens"]["mia"],
    )


def test_an_offline_guest_code_opens_the_door_with_no_delivery(world, tmp_path, sim):
    phone = client(world, tmp_path)
    run(phone.login(world["tokens"]["alice"]))
    sim.move_phone(AWAY)
    now = datetime.datetime.now(datetime.timezone.utc)
    window = keyway.Schedule.WINDOW(now, now + datetime.timedelta(hours=2))
    code = run(phone.create_guest_code(keyway.GuestType.TEMPORARY, window, "Cousin", True))
    unit = world["locks"]["unit_4b"]
    offline = next(o for o in code.offline if o.lock_id == unit)
    assert len(offline.value) == 8 and offline.state == keyway.CodeState.ACTIVE
    assert code.locks == []
    assert sim.type_code(unit, offline.value)["entry"]["result"] == "granted_offline"
    # A door the code is not for refuses the digits.
    entrance = world["locks"]["entrance"]
    assert sim.type_code(entrance, offline.value)["entry"]["result"] != "granted_offline"


def test_a_backup_code_stands_in_for_a_delivery_code_not_yet_delivered(world, tmp_path, sim):
    phone = client(world, tmp_path)
    events = Events()
    phone.set_listener(events)
    run(phone.login(world["tokens"]["alice"]))
    unit = world["locks"]["unit_4b"]
    assert set_pool(world, 1)["backup_pool"]["size"] == 1
    try:
        # A phone passes the door: the lock confirms its backup code.
        sim.move_phone(AT_THE_DOOR)
        run(phone.deliver_nearby())
        sim.move_phone(AWAY)
        code = run(phone.create_guest_code(keyway.GuestType.DELIVERY, None, "Groceries"))
        run(phone.sync())
        assert state_on(phone.code(code.id), unit) == keyway.CodeState.PENDING
        backup = run(phone.request_backup(code.id, unit))
        assert len(backup.value) == 8 and backup.value != code.value
        assert backup.state == keyway.CodeState.ACTIVE and backup.lock_name == "Unit 4B"
        assert run(phone.request_backup(code.id, unit)) == backup
        assert sim.type_code(unit, backup.value)["entry"]["result"] == "granted"
        assert sim.type_code(unit, backup.value)["entry"]["result"] == "denied"
        # A resident's own code rides on their own phone: no backup for it.
        own = run(phone.generate_code(keyway.CodeOptions(lock_ids=[unit])))
        run(phone.sync())
        with pytest.raises(keyway.KeywayError.Refused) as refused:
            run(phone.request_backup(own.id, unit))
        assert refused.value.code == "backup_guest_only"
        # The phone passes the door again: the use is the delivery code's.
        sim.move_phone(AT_THE_DOOR)
        run(phone.deliver_nearby())
        events.wait_for(
            lambda e: isinstance(e, keyway.KeywayEvent.CODE_USED)
            and e.code_id == code.id
            and e.lock_name == "Unit 4B"
            and e.kind == "backup_code_used"
        )
        assert [u.kind for u in phone.uses(100) if u.code_id == code.id] == ["backup_code_used"]
        run(phone.sync())
        delivered = phone.code(code.id)
        assert state_on(delivered, unit) == keyway.CodeState.ACTIVE
        assert [b.state for b in delivered.backups] == [keyway.CodeState.USED]
        assert delivered.backups[0].value is None
    finally:
        set_pool(world, 0)
