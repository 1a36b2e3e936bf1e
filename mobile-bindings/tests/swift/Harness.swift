// A tiny test harness for the Swift binding tests: named checks, a summary
// line in the style of the other runners, a non-zero exit on any failure.
// It mirrors mobile-bindings/tests/kotlin/Harness.kt.

import Foundation

/// A failed check, with what was seen.
struct CheckFailed: Error, CustomStringConvertible {
    let description: String
}

/// One named test.
typealias Test = (name: String, body: () async throws -> Void)

/// Fails the running test with `message()` unless `condition` holds.
func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailed(description: message()) }
}

/// Runs `body`, which must throw an error that `match` recognises (a
/// `KeywayError` case, say); returns what `match` extracted from it.
func expectError<T>(
    _ what: String,
    _ body: () async throws -> Void,
    _ match: (Error) -> T?
) async throws -> T {
    do {
        try await body()
    } catch {
        if let found = match(error) { return found }
        throw CheckFailed(description: "expected \(what), got \(error)")
    }
    throw CheckFailed(description: "expected \(what), nothing was thrown")
}

/// Runs every test in order, prints one line each and the summary line
/// `Swift binding tests: N passed, M failed`; exits 1 if any failed.
func runTests(_ suite: String, _ tests: [Test]) async {
    var failed = 0
    for test in tests {
        do {
            try await test.body()
            print("test \(suite)::\(test.name) ... ok")
        } catch {
            failed += 1
            print("test \(suite)::\(test.name) ... FAILED: \(error)")
        }
    }
    print("Swift binding tests: \(tests.count - failed) passed, \(failed) failed")
    if failed > 0 { exit(1) }
}

/// A fresh, empty directory under the temporary directory.
func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("keyway-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
