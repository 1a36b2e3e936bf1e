// The stolen-phone defences through the generated Kotlin bindings: each test
// is an attacker's attempt that must fail (docs/security.md, "Stolen phone").
package keyway.tests

import java.nio.file.Files
import uniffi.keyway_mobile.KeywayClient
import uniffi.keyway_mobile.KeywayException

val securityTests: List<Pair<String, () -> Unit>> = listOf(
    "a plain http server is refused unless it is this device" to {
        val dir = Files.createTempDirectory("keyway-kotlin").toString()
        for (url in listOf(
            "http://keyway.example.org",
            "http://192.168.1.20:8080",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1@keyway.example.org",
        )) {
            val e = expectThrows<KeywayException.InvalidArgument> { KeywayClient(url, dir, "Kotlin test phone") }
            check(e.detail.contains("https://")) { "$url: ${e.detail}" }
        }
        for (url in listOf("https://keyway.example.org", "http://localhost:8080", "http://[::1]:8080")) {
            KeywayClient(url, dir, "Kotlin test phone")
        }
    },
)
