// Runs every Kotlin binding test suite.
package keyway.tests

fun main() {
    runTests("kotlin", policyTests + clientTests + securityTests)
}
