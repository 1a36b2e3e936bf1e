// Runs every Swift binding test suite against the fixture that
// `cargo xtask bindings` starts (keyway-fixture), as the Kotlin tests do.

import Foundation

do {
    let world = try World.load()
    await runTests("swift", policyTests + clientTests(world) + securityTests(world))
} catch {
    print("test swift::fixture ... FAILED: \(error)")
    print("Swift binding tests: 0 passed, 1 failed")
    exit(1)
}
