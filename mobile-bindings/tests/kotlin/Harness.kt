// A tiny test harness for the Kotlin binding tests: named checks, a summary
// line in the style of the other runners, a non-zero exit on any failure.
package keyway.tests

class CheckFailed(message: String) : AssertionError(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw CheckFailed(message())
}

inline fun <reified T : Throwable> expectThrows(block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw CheckFailed("expected ${T::class.simpleName}, got $e")
    }
    throw CheckFailed("expected ${T::class.simpleName}, nothing was thrown")
}

fun runTests(suite: String, tests: List<Pair<String, () -> Unit>>) {
    var failed = 0
    for ((name, body) in tests) {
        try {
            body()
            println("test $suite::$name ... ok")
        } catch (e: Throwable) {
            failed += 1
            println("test $suite::$name ... FAILED: $e")
        }
    }
    val passed = tests.size - failed
    println("Kotlin binding tests: $passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
