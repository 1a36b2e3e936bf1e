// The stolen-phone defences through the generated Swift bindings: each test is
// an attacker's attempt that must fail (docs/security.md, "Stolen phone"). It
// mirrors mobile-bindings/tests/kotlin/SecurityTests.kt.

import Foundation
import Keyway

/// The app's key store (the iOS Keychain) as a test double.
final class Keychain: SecretStore, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String: Data] = [:]
    private var everStored: [Data] = []
    private var failing: Error?

    /// Makes every call throw `error` (or work again, with `nil`).
    func fail(with error: Error?) {
        locked { failing = error }
    }

    /// What the store holds now.
    var secrets: [String: Data] { locked { stored } }

    /// Every value ever stored.
    var ever: [Data] { locked { everStored } }

    func get(name: String) throws -> Data? {
        try locked {
            if let failing { throw failing }
            return stored[name]
        }
    }

    func set(name: String, value: Data) throws {
        try locked {
            if let failing { throw failing }
            stored[name] = value
            everStored.append(value)
        }
    }

    func delete(name: String) throws {
        try locked {
            if let failing { throw failing }
            stored[name] = nil
        }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// An error an app's store does not declare: still typed by the library.
struct KeychainBug: Error {}

/// What someone who copies the data directory finds: each needle in the raw bytes of any file.
func foundInFiles(_ dir: URL, _ needles: [Data]) throws -> [String] {
    var found: [String] = []
    let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey])
    while let file = files?.nextObject() as? URL {
        guard (try file.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true else {
            continue
        }
        let bytes = try Data(contentsOf: file)
        for needle in needles where bytes.range(of: needle) != nil {
            found.append("\(String(decoding: needle, as: UTF8.self)) in \(file.lastPathComponent)")
        }
    }
    return found
}

/// The `SecretStore` case's detail, if `error` is one.
func secretStoreDetail(_ error: Error) -> String? {
    if case KeywayError.SecretStore(let detail) = error { return detail }
    return nil
}

func securityTests(_ world: World) -> [Test] {
    [
        ("a plain http server is refused unless it is this device", {
            let dir = try temporaryDirectory().path
            for url in [
                "http://keyway.example.org",
                "http://192.168.1.20:8080",
                "http://127.0.0.1.nip.io",
                "http://127.0.0.1@keyway.example.org",
            ] {
                let detail = try await expectError("InvalidArgument", {
                    _ = try KeywayClient(serverUrl: url, dataDir: dir, deviceName: "Swift test phone")
                }) { error -> String? in
                    if case KeywayError.InvalidArgument(let detail) = error { return detail }
                    return nil
                }
                try check(detail.contains("https://"), "\(url): \(detail)")
            }
            for url in ["https://keyway.example.org", "http://localhost:8080", "http://[::1]:8080"] {
                _ = try KeywayClient(serverUrl: url, dataDir: dir, deviceName: "Swift test phone")
            }
        }),
        ("the device token goes to the app's secret store, not the database", {
            let dir = try temporaryDirectory()
            let keychain = Keychain()
            let phone = try KeywayClient(
                serverUrl: world.server, dataDir: dir.path, deviceName: "Swift test phone",
                secretStore: keychain)
            _ = try await phone.login(apiToken: world.alice)
            guard let token = keychain.secrets["device_token"] else {
                throw CheckFailed(description: "no token in the keychain")
            }
            try check(String(decoding: token, as: UTF8.self).hasPrefix("kwd_"), "not a device token")
            let found = try foundInFiles(dir, [token, Data("kwd_".utf8)])
            try check(found.isEmpty, "\(found)")
            _ = try await phone.sync()
            try await phone.logout()
            try check(keychain.secrets.isEmpty, "logout leaves \(keychain.secrets.keys)")
        }),
        ("a failing secret store is a typed error, not a crash", {
            let dir = try temporaryDirectory()
            let keychain = Keychain()
            let phone = try KeywayClient(
                serverUrl: world.server, dataDir: dir.path, deviceName: "Swift test phone",
                secretStore: keychain)
            keychain.fail(with: SecretStoreFailure.Unavailable(detail: "the device is locked"))
            let detail = try await expectError("SecretStore", {
                _ = try await phone.login(apiToken: world.alice)
            }, secretStoreDetail)
            try check(detail.contains("the device is locked"), detail)
            try check(try phone.session() == nil, "a half login")
            keychain.fail(with: nil)
            _ = try await phone.login(apiToken: world.alice)
            // An error the implementation does not declare: still typed.
            keychain.fail(with: KeychainBug())
            _ = try await expectError("SecretStore", { _ = try await phone.sync() }, secretStoreDetail)
            _ = try await expectError("SecretStore", { try await phone.logout() }, secretStoreDetail)
            try check(try phone.session() == nil, "the store is wiped all the same")
        }),
        ("logout leaves no token and no code in the data directory", {
            try world.sixDigitCodes(true)
            defer { try? world.sixDigitCodes(false) }
            let dir = try temporaryDirectory()
            let keychain = Keychain()
            let phone = try KeywayClient(
                serverUrl: world.server, dataDir: dir.path, deviceName: "Swift test phone",
                secretStore: keychain)
            _ = try await phone.login(apiToken: world.alice)
            var held: Set<String> = ["608341", "817264", "395718"]
            let picked = try await phone.pickCode(code: "608341", options: CodeOptions(name: "Six"))
            _ = try await phone.changeCode(id: picked.id, newCode: "817264")
            guard let generated = try await phone.generateCode(options: CodeOptions(length: 6)).value else {
                throw CheckFailed(description: "no digits")
            }
            held.insert(generated)
            try world.networkDown()
            do {
                defer { try? world.networkUp() }
                let offline = try await phone.pickCode(code: "395718", options: CodeOptions(name: "Offline"))
                try check(offline.serverId == nil, "not queued: \(offline)")
            }
            // This test's codes have 6 digits, so no chance match in binary data;
            // the phone also holds what earlier tests left on Alice's unit.
            try check(held.allSatisfy { $0.count == 6 }, "\(held)")
            held.formUnion(try phone.codes().compactMap(\.value))
            let codes = held.map { Data($0.utf8) }
            try check(!(try foundInFiles(dir, codes)).isEmpty, "the search finds the codes before logout")
            try await phone.logout()
            let found = try foundInFiles(dir, codes + keychain.ever)
            try check(found.isEmpty, "after logout: \(found)")
            try check(keychain.secrets.isEmpty, "logout leaves \(keychain.secrets.keys)")
        }),
    ]
}
