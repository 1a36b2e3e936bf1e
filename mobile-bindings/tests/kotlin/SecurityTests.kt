// The stolen-phone defences through the generated Kotlin bindings: each test
// is an attacker's attempt that must fail (docs/security.md, "Stolen phone").
package keyway.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import kotlinx.coroutines.runBlocking
import uniffi.keyway_mobile.CodeOptions
import uniffi.keyway_mobile.KeywayClient
import uniffi.keyway_client.KeywayException
import uniffi.keyway_client.SecretStore
import uniffi.keyway_client.SecretStoreFailure

/** The app's key store (Android Keystore, iOS Keychain) as a test double. */
class Keychain : SecretStore {
    val secrets = ConcurrentHashMap<String, ByteArray>()
    val ever: MutableList<ByteArray> = java.util.Collections.synchronizedList(mutableListOf())
    @Volatile var failure: Throwable? = null

    private fun ensureWorking() {
        failure?.let { throw it }
    }

    override fun get(name: String): ByteArray? {
        ensureWorking()
        return secrets[name]
    }

    override fun set(name: String, value: ByteArray) {
        ensureWorking()
        secrets[name] = value
        ever.add(value)
    }

    override fun delete(name: String) {
        ensureWorking()
        secrets.remove(name)
    }
}

fun ByteArray.contains(needle: ByteArray): Boolean =
    (0..size - needle.size).any { i -> needle.indices.all { this[i + it] == needle[it] } }

/** What someone who copies the data directory finds: each needle in the raw bytes of any file. */
fun foundInFiles(dir: Path, needles: List<ByteArray>): List<String> {
    val found = mutableListOf<String>()
    Files.walk(dir).use { paths ->
        paths.filter { Files.isRegularFile(it) }.forEach { path ->
            val bytes = Files.readAllBytes(path)
            needles.filter { bytes.contains(it) }.forEach { found.add("${String(it)} in ${path.fileName}") }
        }
    }
    return found
}

fun sixDigitCodes(on: Boolean) {
    val http = HttpClient.newHttpClient()
    val url = URI.create("${World.server}/v1/manage/policy")
    val mia = World.env("KEYWAY_TOKEN_MIA")
    val get = HttpRequest.newBuilder(url).header("authorization", "Bearer $mia").GET().build()
    val policy = http.send(get, HttpResponse.BodyHandlers.ofString()).body()
        .replace(Regex("\"six_digit_codes\"\\s*:\\s*(true|false)"), "\"six_digit_codes\":$on")
    val put = HttpRequest.newBuilder(url)
        .header("authorization", "Bearer $mia")
        .header("content-type", "application/json")
        .header("idempotency-key", UUID.randomUUID().toString())
        .PUT(HttpRequest.BodyPublishers.ofString(policy))
        .build()
    val status = http.send(put, HttpResponse.BodyHandlers.ofString()).statusCode()
    check(status == 200) { "PUT policy: $status" }
}

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
    "the device token goes to the app's secret store, not the database" to {
        runBlocking {
            val dir = Files.createTempDirectory("keyway-kotlin")
            val keychain = Keychain()
            val phone = KeywayClient(World.server, dir.toString(), "Kotlin test phone", keychain)
            phone.login(World.alice)
            val token = keychain.secrets["device_token"] ?: throw CheckFailed("no token in the keychain")
            check(String(token).startsWith("kwd_")) { "not a device token" }
            val found = foundInFiles(dir, listOf(token, "kwd_".toByteArray()))
            check(found.isEmpty()) { "$found" }
            phone.sync()
            phone.logout()
            check(keychain.secrets.isEmpty()) { "logout leaves ${keychain.secrets.keys}" }
        }
    },
    "a failing secret store is a typed error, not a crash" to {
        runBlocking {
            val dir = Files.createTempDirectory("keyway-kotlin")
            val keychain = Keychain()
            val phone = KeywayClient(World.server, dir.toString(), "Kotlin test phone", keychain)
            keychain.failure = SecretStoreFailure.Unavailable("the device is locked")
            val e = expectThrows<KeywayException.SecretStore> { runBlocking { phone.login(World.alice) } }
            check(e.detail.contains("the device is locked")) { e.detail }
            check(phone.session() == null) { "a half login" }
            keychain.failure = null
            phone.login(World.alice)
            // An exception the implementation does not declare: still typed.
            keychain.failure = IllegalStateException("a bug in the app's key store")
            expectThrows<KeywayException.SecretStore> { runBlocking { phone.sync() } }
            expectThrows<KeywayException.SecretStore> { runBlocking { phone.logout() } }
            check(phone.session() == null) { "the store is wiped all the same" }
        }
    },
    "logout leaves no token and no code in the data directory" to {
        runBlocking {
            sixDigitCodes(true)
            try {
                val dir = Files.createTempDirectory("keyway-kotlin")
                val keychain = Keychain()
                val phone = KeywayClient(World.server, dir.toString(), "Kotlin test phone", keychain)
                phone.login(World.alice)
                val held = mutableSetOf("608341", "817264", "395718")
                val picked = phone.pickCode("608341", CodeOptions(name = "Six"))
                phone.changeCode(picked.id, "817264")
                held.add(phone.generateCode(CodeOptions(length = 6u)).value ?: throw CheckFailed("no digits"))
                World.networkDown()
                try {
                    val offline = phone.pickCode("395718", CodeOptions(name = "Offline"))
                    check(offline.serverId == null) { "not queued: $offline" }
                } finally {
                    World.networkUp()
                }
                // This test's codes have 6 digits, so no chance match in binary data;
                // the phone also holds what earlier tests left on Alice's unit.
                check(held.all { it.length == 6 }) { "$held" }
                held.addAll(phone.codes().mapNotNull { it.value })
                val codes = held.map { it.toByteArray() }
                check(foundInFiles(dir, codes).isNotEmpty()) { "the search finds the codes before logout" }
                phone.logout()
                val found = foundInFiles(dir, codes + keychain.ever)
                check(found.isEmpty()) { "after logout: $found" }
                check(keychain.secrets.isEmpty()) { "logout leaves ${keychain.secrets.keys}" }
            } finally {
                sixDigitCodes(false)
            }
        }
    },
)
