"""bleak (the Python BLE library behind Home Assistant's Bluetooth) against the
simulated BlueZ: two discoveries that each find the lock, then a connection
that writes a request's frames and collects the lock's answer from
notifications and a read.

Run by ble-sim/tests/bleak.rs with DBUS_SYSTEM_BUS_ADDRESS set to the
simulator's bus. Arguments: the lock's address, the notify and write
characteristic UUIDs, then the request's frames in hex. Prints one JSON line:
{"scans": [rssi, rssi], "notified": [hex, ...], "read": hex}.
"""

import asyncio
import json
import sys

from bleak import BleakClient, BleakScanner


async def main() -> None:
    address, notify_uuid, write_uuid, *frames = sys.argv[1:]
    scans = []
    for _ in range(2):
        found = await BleakScanner.discover(timeout=1.5, return_adv=True)
        match = [adv for dev, adv in found.values() if dev.address == address]
        if not match:
            print(f"discovery {len(scans) + 1} did not find {address}: {list(found)}",
                  file=sys.stderr)
            sys.exit(1)
        scans.append(match[0].rssi)

    notified = []
    answered = asyncio.Event()

    def on_notify(_char, data: bytearray) -> None:
        notified.append(bytes(data).hex())
        if data and data[0] & 0x40:  # the last frame of a message
            answered.set()

    async with BleakClient(address, timeout=10.0) as client:
        await client.start_notify(notify_uuid, on_notify)
        for frame in frames:
            await client.write_gatt_char(write_uuid, bytes.fromhex(frame), response=True)
        await asyncio.wait_for(answered.wait(), timeout=5.0)
        read = await client.read_gatt_char(notify_uuid)
        await client.stop_notify(notify_uuid)

    print(json.dumps({"scans": scans, "notified": notified, "read": bytes(read).hex()}))


asyncio.run(main())
