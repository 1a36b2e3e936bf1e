// KeywayClient through the generated Swift bindings, against a real
// keyway-server and keyway-ble-sim's simulated locks (started by
// keyway-fixture). It mirrors mobile-bindings/tests/kotlin/ClientTests.kt.

import Foundation
import Keyway

/// A client on a fresh data directory, its token in the default file.
func newClient(_ world: World) throws -> KeywayClient {
    try KeywayClient(
        serverUrl: world.server, dataDir: try temporaryDirectory().path, deviceName: "Swift test phone")
}

extension Code {
    /// The code's state on one lock.
    func state(on lockId: String) -> CodeState? {
        locks.first { $0.lockId == lockId }?.state
    }
}

/// Collects events; tests wait for the ones they expect.
final class Events: KeywayListener, @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [KeywayEvent] = []

    func onEvent(event: KeywayEvent) {
        condition.lock()
        events.append(event)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits up to 30 s for an event `predicate` accepts.
    func waitFor(_ what: String, _ predicate: (KeywayEvent) -> Bool) throws {
        let deadline = Date().addingTimeInterval(30)
        condition.lock()
        defer { condition.unlock() }
        while !events.contains(where: predicate) {
            if !condition.wait(until: deadline) {
                throw CheckFailed(description: "no event: \(what) in \(events)")
            }
        }
    }
}

func clientTests(_ world: World) -> [Test] {
    [
        ("log in and see the resident's doors", {
            let phone = try newClient(world)
            try check(try phone.session() == nil, "a new store has no session")
            let session = try await phone.login(apiToken: world.alice)
            try check(session.user.role == .resident, "\(session)")
            let doors = Dictionary(uniqueKeysWithValues: try phone.doors().map { ($0.lockId, $0) })
            // The package room too: a resident's phone relays its sealed jobs.
            try check(
                Set(doors.keys) == [world.unitDoor, world.entrance, world.packageRoom], "\(doors)")
            try check(doors[world.unitDoor]?.accessPoint == .unitDoor, "\(doors)")
        }),
        ("picking 1234 throws a typed error listing every rule", {
            let phone = try newClient(world)
            _ = try await phone.login(apiToken: world.alice)
            let rejection = try await expectError("PolicyViolation", {
                _ = try await phone.pickCode(code: "1234", options: CodeOptions())
            }) { error -> Rejection? in
                if case KeywayError.PolicyViolation(let rejection) = error { return rejection }
                return nil
            }
            try check(
                rejection.violations.map(\.rule) == [.sequential, .commonPin], "\(rejection.violations)")
            try check(try phone.codes().isEmpty, "nothing queued")
            let stranger = try newClient(world)
            _ = try await expectError("Unauthorized", {
                _ = try await stranger.login(apiToken: "kwa_wrong")
            }) { error -> String? in
                if case KeywayError.Unauthorized(let detail) = error { return detail }
                return nil
            }
        }),
        ("a generated code is pending, then active through the listener in range", {
            try world.movePhone(0)
            defer { try? world.movePhone(0) }
            let phone = try newClient(world)
            let events = Events()
            phone.setListener(listener: events)
            _ = try await phone.login(apiToken: world.alice)
            let code = try await phone.generateCode(options: CodeOptions(name: "Swift"))
            try check(code.value?.count == 4, "\(code)")
            try check(code.state(on: world.unitDoor) == .pending, "\(code)")
            try world.movePhone(101)
            let report = try await phone.deliverNearby()
            try check(
                report.locks.contains {
                    if case .delivered = $0.outcome { return $0.lockId == world.unitDoor }
                    return false
                }, "\(report)")
            try events.waitFor("active on the unit door") { event in
                guard case .codeChanged(let changed) = event else { return false }
                return changed.id == code.id && changed.state(on: world.unitDoor) == .active
            }
            try check(try phone.code(id: code.id).state(on: world.unitDoor) == .active, "not active")
        }),
        ("guest codes", {
            let phone = try newClient(world)
            let session = try await phone.login(apiToken: world.alice)
            let permanent = try await phone.createGuestCode(
                guestType: .permanent, schedule: nil, name: "Nanny")
            try check(permanent.schedule == .always, "\(permanent.schedule)")
            let now = Date()
            let temporary = try await phone.createGuestCode(
                guestType: .temporary, schedule: .window(from: now, until: now.addingTimeInterval(86_400)),
                name: "Cousin")
            guard case .window = temporary.schedule else {
                throw CheckFailed(description: "\(temporary.schedule)")
            }
            let weekly = try await phone.createGuestCode(
                guestType: .recurring,
                schedule: .recurring(
                    weekdays: [.tuesday], start: "18:00", end: "20:00",
                    timeZone: session.property.timeZone),
                name: "Piano teacher")
            guard case .recurring(let weekdays, _, _, _) = weekly.schedule, weekdays == [.tuesday] else {
                throw CheckFailed(description: "\(weekly.schedule)")
            }
            for code in [permanent, temporary, weekly] {
                try check(code.value != nil && code.locks.allSatisfy { $0.state == .pending }, "\(code)")
            }
        }),
        ("a code requested offline goes out on sync", {
            let phone = try newClient(world)
            _ = try await phone.login(apiToken: world.alice)
            try world.networkDown()
            defer { try? world.networkUp() }
            let code = try await phone.pickCode(code: "6194", options: CodeOptions(name: "Offline Swift"))
            try check(code.serverId == nil && code.pending == .create, "\(code)")
            try check(code.state(on: world.unitDoor) == .requested, "\(code)")
            _ = try await expectError("Network", { _ = try await phone.sync() }) { error -> String? in
                if case KeywayError.Network(let detail) = error { return detail }
                return nil
            }
            try world.networkUp()
            let report = try await phone.sync()
            try check(report.sent == 1, "\(report)")
            let synced = try phone.code(id: code.id)
            try check(synced.serverId != nil && synced.pending == nil, "\(synced)")
            try check(synced.state(on: world.unitDoor) == .pending, "\(synced)")
        }),
        ("a guest code works offline, and a backup code stands in for one not delivered", {
            let phone = try newClient(world)
            _ = try await phone.login(apiToken: world.alice)
            try world.movePhone(0)
            let now = Date()
            let cousin = try await phone.createGuestCode(
                guestType: .temporary, schedule: .window(from: now, until: now.addingTimeInterval(7200)),
                name: "Cousin", offline: true)
            let offline = cousin.offline.first { $0.lockId == world.unitDoor }
            try check(cousin.locks.isEmpty && offline?.value?.count == 8, "\(cousin)")
            try check(try world.typeCode(world.unitDoor, offline?.value ?? "") == "granted_offline", "offline")
            try world.backupPool(world.unitDoor, size: 1)
            defer { try? world.backupPool(world.unitDoor, size: 0) }
            try world.movePhone(101)
            _ = try await phone.deliverNearby()
            try world.movePhone(0)
            let groceries = try await phone.createGuestCode(
                guestType: .delivery, schedule: nil, name: "Groceries", offline: false)
            _ = try await phone.sync()
            let backup = try await phone.requestBackup(id: groceries.id, lockId: world.unitDoor)
            try check(backup.value?.count == 8 && backup.state == .active, "\(backup)")
            try check(try world.typeCode(world.unitDoor, backup.value ?? "") == "granted", "backup")
            try check(try world.typeCode(world.unitDoor, backup.value ?? "") == "denied", "backup again")
            try world.movePhone(101)
            _ = try await phone.deliverNearby()
            try world.movePhone(0)
            _ = try await phone.sync()
            let delivered = try phone.code(id: groceries.id)
            try check(delivered.state(on: world.unitDoor) == .active, "\(delivered)")
            try check(delivered.backups.map { $0.state } == [.used], "\(delivered.backups)")
            let uses = try phone.uses(limit: 100).filter { $0.codeId == groceries.id }
            try check(uses.map { $0.kind } == ["backup_code_used"], "\(uses)")
        }),
    ]
}
