// The offline policy calls and the foreign logger, through the generated Kotlin bindings.
package keyway.tests

import uniffi.keyway_codes.AccessPoint
import uniffi.keyway_codes.CodeKind
import uniffi.keyway_codes.ModelConstraint
import uniffi.keyway_codes.Rule
import uniffi.keyway_client.KeywayException
import uniffi.keyway_mobile.LogLevel
import uniffi.keyway_mobile.Logger
import uniffi.keyway_mobile.PolicyContext
import uniffi.keyway_mobile.checkCode
import uniffi.keyway_mobile.generateCodes
import uniffi.keyway_mobile.setLogger

fun context(
    sixDigit: Boolean = false,
    constraints: List<ModelConstraint> = listOf(),
    existing: List<String> = listOf(),
    length: UByte? = null,
) = PolicyContext(
    kind = CodeKind.RESIDENT,
    sixDigitCodes = sixDigit,
    customCodes = true,
    affiliatedNumbers = listOf("1440"),
    accessPoint = AccessPoint.UNIT_DOOR,
    enterKey = true,
    constraints = constraints,
    existingCodes = existing,
    length = length,
)

val policyTests: List<Pair<String, () -> Unit>> = listOf(
    "a refused code lists every rule" to {
        val e = expectThrows<KeywayException.PolicyViolation> { checkCode("1234", context()) }
        check(e.rejection.violations.map { it.rule } == listOf(Rule.SEQUENTIAL, Rule.COMMON_PIN)) { "${e.rejection.violations}" }
        check(e.rejection.violations.all { it.message.isNotEmpty() }) { "empty message" }
    },
    "an acceptable code passes" to { checkCode("4817", context()) },
    "bad input is a typed error" to {
        expectThrows<KeywayException.InvalidFormat> { checkCode("12a4", context()) }
        expectThrows<KeywayException.InvalidArgument> { checkCode("4817", context(existing = listOf("x"))) }
    },
    "generated codes pass the check" to {
        val ctx = context(sixDigit = true, length = 6u)
        val codes = generateCodes(ctx, 20u)
        check(codes.toSet().size == 20) { "$codes" }
        codes.forEach { check(it.length == 6) { it }; checkCode(it, ctx) }
    },
    "exhaustion is typed" to {
        expectThrows<KeywayException.Exhausted> {
            generateCodes(context(constraints = listOf(ModelConstraint.CANNOT_CONTAIN0789)), 5000u)
        }
    },
    "log records reach the app" to {
        val records = mutableListOf<Triple<LogLevel, String, String>>()
        setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) {
                synchronized(records) { records.add(Triple(level, target, message)) }
            }
        }, LogLevel.INFO)
        check(records.any { it.first == LogLevel.INFO && it.second == "keyway" }) { "$records" }
    },
)
