// The offline policy calls and the foreign logger, through the generated Swift
// bindings. It mirrors mobile-bindings/tests/kotlin/PolicyTests.kt.

import Foundation
import Keyway

/// A resident code's context on a unit door with an enter key.
func context(
    sixDigit: Bool = false,
    constraints: [ModelConstraint] = [],
    existing: [String] = [],
    length: UInt8? = nil
) -> PolicyContext {
    PolicyContext(
        kind: .resident,
        sixDigitCodes: sixDigit,
        customCodes: true,
        affiliatedNumbers: ["1440"],
        accessPoint: .unitDoor,
        enterKey: true,
        constraints: constraints,
        existingCodes: existing,
        length: length
    )
}

/// Every record the library logs, as the app's logger receives them.
final class Records: Logger, @unchecked Sendable {
    private let lock = NSLock()
    private var records: [(LogLevel, String, String)] = []

    func log(level: LogLevel, target: String, message: String) {
        lock.lock()
        defer { lock.unlock() }
        records.append((level, target, message))
    }

    /// What was logged so far.
    var all: [(LogLevel, String, String)] {
        lock.lock()
        defer { lock.unlock() }
        return records
    }
}

let policyTests: [Test] = [
    ("a refused code lists every rule", {
        let rejection = try await expectError("PolicyViolation", {
            try checkCode(code: "1234", context: context())
        }) { error -> Rejection? in
            if case KeywayError.PolicyViolation(let rejection) = error { return rejection }
            return nil
        }
        try check(rejection.violations.map(\.rule) == [.sequential, .commonPin], "\(rejection.violations)")
        try check(rejection.violations.allSatisfy { !$0.message.isEmpty }, "empty message")
    }),
    ("an acceptable code passes", {
        try checkCode(code: "4817", context: context())
    }),
    ("bad input is a typed error", {
        let reason = try await expectError("InvalidFormat", {
            try checkCode(code: "12a4", context: context())
        }) { error -> FormatError? in
            if case KeywayError.InvalidFormat(let reason) = error { return reason }
            return nil
        }
        try check(reason == .notDigits, "\(reason)")
        _ = try await expectError("InvalidArgument", {
            try checkCode(code: "4817", context: context(existing: ["x"]))
        }) { error -> String? in
            if case KeywayError.InvalidArgument(let detail) = error { return detail }
            return nil
        }
    }),
    ("generated codes pass the check", {
        let ctx = context(sixDigit: true, length: 6)
        let codes = try generateCodes(context: ctx, count: 20)
        try check(Set(codes).count == 20, "\(codes)")
        for code in codes {
            try check(code.count == 6, code)
            try checkCode(code: code, context: ctx)
        }
    }),
    ("exhaustion is typed", {
        _ = try await expectError("Exhausted", {
            _ = try generateCodes(context: context(constraints: [.cannotContain0789]), count: 5000)
        }) { error -> String? in
            if case KeywayError.Exhausted(let detail) = error { return detail }
            return nil
        }
    }),
    ("log records reach the app", {
        let records = Records()
        setLogger(logger: records, level: .info)
        try check(records.all.contains { $0.0 == .info && $0.1 == "keyway" }, "\(records.all)")
    }),
]
