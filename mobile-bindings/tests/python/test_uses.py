"""Code uses through the Python bindings: a code typed at the simulated
keypad reaches the app once as KeywayEvent.CODE_USED when the phone passes the
door again; contact details and the per-code choice of email or SMS."""

import asyncio

import keyway

from test_client import Events, client


def run(coro):
    return asyncio.run(coro)


def test_a_use_of_a_code_comes_once_as_an_event_and_in_uses(world, tmp_path, sim):
    phone = client(world, tmp_path)
    events = Events()
    phone.set_listener(events)
    run(phone.login(world["tokens"]["alice"]))
    contact = run(phone.set_contact("alice@example.org", None))
    assert contact.email == "alice@example.org" and contact.phone is None
    code = run(
        phone.generate_code(
            keyway.CodeOptions(
                name="Dog walker",
                lock_ids=[world["locks"]["unit_4b"]],
                notify_on_use=keyway.NotifyOnUse.EMAIL,
            )
        )
    )
    unit = world["locks"]["unit_4b"]
    sim.move_phone(101.0)
    run(phone.deliver_nearby())
    assert sim.type_code(unit, code.value)["entry"]["result"] == "granted"
    run(phone.deliver_nearby())
    events.wait_for(
        lambda e: isinstance(e, keyway.KeywayEvent.CODE_USED)
        and e.code_id == code.id
        and e.code_name == "Dog walker"
        and e.lock_name == "Unit 4B"
    )
    # The world is shared: earlier tests' uses of the unit's codes came with
    # the first sync as history (listed, never announced).
    uses = [u for u in phone.uses(100) if u.code_id == code.id]
    assert [(u.lock_id, u.kind) for u in uses] == [(unit, "code_used")]
    run(phone.sync())
    # (An earlier test's use this phone's visit relayed is news too: only
    # this code's events are counted.)
    used = [
        e for e in events.events
        if isinstance(e, keyway.KeywayEvent.CODE_USED) and e.code_id == code.id
    ]
    assert len(used) == 1, used
    # SMS needs a phone number in the contact details.
    try:
        run(phone.set_notify_on_use(code.id, keyway.NotifyOnUse.SMS))
        raise AssertionError("refused without a phone number")
    except keyway.KeywayError.Refused as e:
        assert e.code == "no_contact"
    assert run(phone.set_notify_on_use(code.id, keyway.NotifyOnUse.NONE)) == keyway.NotifyOnUse.NONE
