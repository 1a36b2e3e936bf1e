// Where keyway-fixture put everything, and the HTTP calls the tests make to
// the simulator, the fixture's network switch and the server's manager API.
// It mirrors `World` in mobile-bindings/tests/kotlin/ClientTests.kt.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The fixture, as `keyway-fixture --json` describes it.
struct World {
    let server: String
    let sim: String
    let control: String
    let tokens: [String: String]
    let locks: [String: String]

    var alice: String { tokens["alice", default: ""] }
    var mia: String { tokens["mia", default: ""] }
    var unitDoor: String { locks["unit_4b", default: ""] }
    var entrance: String { locks["entrance", default: ""] }
    var packageRoom: String { locks["package_room", default: ""] }

    /// Reads the file `KEYWAY_FIXTURE_JSON` names.
    static func load() throws -> World {
        guard let path = ProcessInfo.processInfo.environment["KEYWAY_FIXTURE_JSON"] else {
            throw CheckFailed(description: "KEYWAY_FIXTURE_JSON is not set: run under keyway-fixture")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let server = json["server_url"] as? String,
            let sim = json["sim_url"] as? String,
            let control = json["control_url"] as? String,
            let tokens = json["tokens"] as? [String: String],
            let locks = json["locks"] as? [String: String]
        else {
            throw CheckFailed(description: "\(path) is not a fixture description")
        }
        return World(server: server, sim: sim, control: control, tokens: tokens, locks: locks)
    }

    /// One HTTP request; the response's status and body.
    @discardableResult
    func call(
        _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:]
    ) throws -> (status: Int, body: Data) {
        guard let target = URL(string: url) else { throw CheckFailed(description: "bad URL \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.httpBody = body ?? Data()
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        let outcome = Box<Result<(Int, Data), Error>>(
            .failure(CheckFailed(description: "\(method) \(url): no answer")))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                outcome.value = .failure(error)
            } else {
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                outcome.value = .success((status, data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        let (status, data) = try outcome.value.get()
        return (status, data)
    }

    /// Moves the simulated phone along the corridor (the locks stand at x = 100 m and beyond).
    func movePhone(_ x: Double) throws {
        try call("PUT", "\(sim)/phone", body: Data("{\"x\": \(x), \"y\": 0.0}".utf8))
    }

    /// Cuts the network between phones and the server (connections refused).
    func networkDown() throws { try call("POST", "\(control)/network/down") }

    /// Restores it.
    func networkUp() throws { try call("POST", "\(control)/network/up") }

    /// Turns the property's six-digit codes on or off through the manager's API.
    func sixDigitCodes(_ on: Bool) throws {
        let url = "\(server)/v1/manage/policy"
        let auth = ["authorization": "Bearer \(mia)"]
        let current = try call("GET", url, headers: auth)
        guard var policy = try JSONSerialization.jsonObject(with: current.body) as? [String: Any] else {
            throw CheckFailed(description: "GET policy: \(current.status)")
        }
        policy["six_digit_codes"] = on
        let body = try JSONSerialization.data(withJSONObject: policy)
        var headers = auth
        headers["idempotency-key"] = UUID().uuidString
        let answer = try call("PUT", url, body: body, headers: headers)
        try check(answer.status == 200, "PUT policy: \(answer.status)")
    }

    /// Sets how many backup codes a lock keeps through the manager's API.
    func backupPool(_ lockId: String, size: Int) throws {
        let headers = ["authorization": "Bearer \(mia)", "idempotency-key": UUID().uuidString]
        let answer = try call(
            "PUT", "\(server)/v1/manage/locks/\(lockId)/backup-pool",
            body: Data("{\"size\": \(size)}".utf8), headers: headers)
        try check(answer.status == 200, "PUT backup-pool: \(answer.status)")
    }

    /// Types `code` on a lock's simulated keypad; the lock's decision
    /// (`granted`, `granted_offline`, `denied`, …).
    func typeCode(_ lockId: String, _ code: String) throws -> String {
        let answer = try call(
            "POST", "\(sim)/locks/\(lockId)/keypad", body: Data("{\"code\": \"\(code)\"}".utf8))
        let json = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        let entry = json?["entry"] as? [String: Any]
        return entry?["result"] as? String ?? "no entry: \(answer.status)"
    }
}

/// A value a completion handler fills in while the caller waits on a semaphore.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
