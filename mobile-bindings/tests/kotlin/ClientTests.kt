// KeywayClient through the generated Kotlin bindings, against a real
// keyway-server and keyway-ble-sim's simulated locks (started by keyway-fixture).
package keyway.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import uniffi.keyway_codes.AccessPoint
import uniffi.keyway_api.CodeState
import uniffi.keyway_api.GuestType
import uniffi.keyway_client.PendingOp
import uniffi.keyway_client.VisitOutcome
import uniffi.keyway_api.Role
import uniffi.keyway_codes.Rule
import uniffi.keyway_client.Code
import uniffi.keyway_mobile.CodeOptions
import uniffi.keyway_mobile.KeywayClient
import uniffi.keyway_client.KeywayEvent
import uniffi.keyway_client.KeywayException
import uniffi.keyway_mobile.KeywayListener
import uniffi.keyway_codes.Schedule
import uniffi.keyway_codes.Weekday

/** Where keyway-fixture put everything (environment variables). */
object World {
    fun env(name: String): String = System.getenv(name) ?: throw CheckFailed("$name is not set: run under keyway-fixture")
    val server get() = env("KEYWAY_SERVER_URL")
    val sim get() = env("KEYWAY_SIM_URL")
    val control get() = env("KEYWAY_CONTROL_URL")
    val alice get() = env("KEYWAY_TOKEN_ALICE")
    val unitDoor get() = env("KEYWAY_LOCK_UNIT_4B")
    val entrance get() = env("KEYWAY_LOCK_ENTRANCE")
    val packageRoom get() = env("KEYWAY_LOCK_PACKAGE_ROOM")
    private val http = HttpClient.newHttpClient()

    fun call(method: String, url: String, body: String = ""): String {
        val request = HttpRequest.newBuilder(URI.create(url))
            .header("content-type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofString(body))
            .build()
        return http.send(request, HttpResponse.BodyHandlers.ofString()).body()
    }

    fun movePhone(x: Double) = call("PUT", "$sim/phone", """{"x": $x, "y": 0.0}""")

    /** Sets how many backup codes a lock keeps through the manager's API. */
    fun backupPool(lockId: String, size: Int) {
        val request = HttpRequest.newBuilder(URI.create("$server/v1/manage/locks/$lockId/backup-pool"))
            .header("content-type", "application/json")
            .header("authorization", "Bearer ${env("KEYWAY_TOKEN_MIA")}")
            .header("idempotency-key", java.util.UUID.randomUUID().toString())
            .method("PUT", HttpRequest.BodyPublishers.ofString("""{"size": $size}"""))
            .build()
        val status = http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode()
        check(status == 200) { "PUT backup-pool: $status" }
    }

    /** Types [code] on a lock's simulated keypad; the lock's answer (JSON). */
    fun typeCode(lockId: String, code: String) = call("POST", "$sim/locks/$lockId/keypad", """{"code": "$code"}""")
    fun networkDown() = call("POST", "$control/network/down")
    fun networkUp() = call("POST", "$control/network/up")
}

fun newClient(): KeywayClient {
    val dir = Files.createTempDirectory("keyway-kotlin")
    return KeywayClient(World.server, dir.toString(), "Kotlin test phone")
}

fun Code.stateOn(lockId: String): CodeState = locks.first { it.lockId == lockId }.state

/** Collects events; tests wait for the ones they expect. */
class Events : KeywayListener {
    val events = mutableListOf<KeywayEvent>()
    private val lock = Object()

    override fun onEvent(event: KeywayEvent) {
        synchronized(lock) {
            events.add(event)
            lock.notifyAll()
        }
    }

    fun waitFor(what: String, predicate: (KeywayEvent) -> Boolean) {
        val deadline = System.currentTimeMillis() + 30_000
        synchronized(lock) {
            while (events.none(predicate)) {
                val left = deadline - System.currentTimeMillis()
                if (left <= 0) throw CheckFailed("no event: $what in $events")
                lock.wait(left)
            }
        }
    }
}

val clientTests: List<Pair<String, () -> Unit>> = listOf(
    "log in and see the resident's doors" to {
        runBlocking {
            val phone = newClient()
            check(phone.session() == null) { "a new store has no session" }
            val session = phone.login(World.alice)
            check(session.user.role == Role.RESIDENT) { "$session" }
            val doors = phone.doors().associateBy { it.lockId }
            // The package room too: a resident's phone relays its sealed jobs.
            check(doors.keys == setOf(World.unitDoor, World.entrance, World.packageRoom)) { "$doors" }
            check(doors.getValue(World.unitDoor).accessPoint == AccessPoint.UNIT_DOOR) { "$doors" }
        }
    },
    "picking 1234 throws a typed error listing every rule" to {
        runBlocking {
            val phone = newClient()
            phone.login(World.alice)
            val e = expectThrows<KeywayException.PolicyViolation> {
                runBlocking { phone.pickCode("1234", CodeOptions()) }
            }
            check(e.rejection.violations.map { it.rule } == listOf(Rule.SEQUENTIAL, Rule.COMMON_PIN)) { "${e.rejection.violations}" }
            check(phone.codes().isEmpty()) { "nothing queued" }
            expectThrows<KeywayException.Unauthorized> { runBlocking { newClient().login("kwa_wrong") } }
        }
    },
    "a generated code is pending, then active through the listener in range" to {
        runBlocking {
            World.movePhone(0.0)
            val phone = newClient()
            val events = Events()
            phone.setListener(events)
            phone.login(World.alice)
            val code = phone.generateCode(CodeOptions(name = "Kotlin"))
            check(code.value?.length == 4) { "$code" }
            check(code.stateOn(World.unitDoor) == CodeState.PENDING) { "$code" }
            World.movePhone(101.0)
            try {
                val summary = phone.deliverNearby()
                check(summary.locks.any { it.lockId == World.unitDoor && it.outcome is VisitOutcome.Delivered }) { "$summary" }
                events.waitFor("active on the unit door") {
                    it is KeywayEvent.CodeChanged && it.code.id == code.id &&
                        it.code.stateOn(World.unitDoor) == CodeState.ACTIVE
                }
                check(phone.code(code.id).stateOn(World.unitDoor) == CodeState.ACTIVE) { "not active" }
            } finally {
                World.movePhone(0.0)
            }
        }
    },
    "guest codes" to {
        runBlocking {
            val phone = newClient()
            val session = phone.login(World.alice)
            val permanent = phone.createGuestCode(GuestType.PERMANENT, null, "Nanny")
            check(permanent.schedule == Schedule.Always) { "${permanent.schedule}" }
            val now = java.time.Instant.now()
            val temporary = phone.createGuestCode(
                GuestType.TEMPORARY, Schedule.Window(now, now.plusSeconds(86_400)), "Cousin")
            check(temporary.schedule is Schedule.Window) { "${temporary.schedule}" }
            val weekly = phone.createGuestCode(
                GuestType.RECURRING,
                Schedule.Recurring(listOf(Weekday.TUESDAY), "18:00", "20:00", session.property.timeZone),
                "Piano teacher")
            check((weekly.schedule as Schedule.Recurring).weekdays == listOf(Weekday.TUESDAY)) { "${weekly.schedule}" }
            for (code in listOf(permanent, temporary, weekly)) {
                check(code.value != null && code.locks.all { it.state == CodeState.PENDING }) { "$code" }
            }
        }
    },
    "a code requested offline goes out on sync" to {
        runBlocking {
            val phone = newClient()
            phone.login(World.alice)
            World.networkDown()
            try {
                val code = phone.pickCode("6194", CodeOptions(name = "Offline Kotlin"))
                check(code.serverId == null && code.pending == PendingOp.CREATE) { "$code" }
                check(code.stateOn(World.unitDoor) == CodeState.REQUESTED) { "$code" }
                expectThrows<KeywayException.Network> { runBlocking { phone.sync() } }
                World.networkUp()
                val summary = phone.sync()
                check(summary.sent == 1u) { "$summary" }
                val synced = phone.code(code.id)
                check(synced.serverId != null && synced.pending == null) { "$synced" }
                check(synced.stateOn(World.unitDoor) == CodeState.PENDING) { "$synced" }
            } finally {
                World.networkUp()
            }
        }
    },
    "a guest code works offline, and a backup code stands in for one not delivered" to {
        runBlocking {
            val phone = newClient()
            phone.login(World.alice)
            World.movePhone(0.0)
            val now = java.time.Instant.now()
            val cousin = phone.createGuestCode(
                GuestType.TEMPORARY, Schedule.Window(now, now.plusSeconds(7200)), "Cousin", true)
            val offline = cousin.offline.first { it.lockId == World.unitDoor }
            check(cousin.locks.isEmpty() && offline.value?.length == 8) { "$cousin" }
            val typed = World.typeCode(World.unitDoor, offline.value!!)
            check(typed.contains("\"result\":\"granted_offline\"")) { typed }
            World.backupPool(World.unitDoor, 1)
            try {
                World.movePhone(101.0)
                phone.deliverNearby()
                World.movePhone(0.0)
                val groceries = phone.createGuestCode(GuestType.DELIVERY, null, "Groceries", false)
                phone.sync()
                val backup = phone.requestBackup(groceries.id, World.unitDoor)
                check(backup.value?.length == 8 && backup.state == CodeState.ACTIVE) { "$backup" }
                val first = World.typeCode(World.unitDoor, backup.value!!)
                check(first.contains("\"result\":\"granted\"")) { first }
                val again = World.typeCode(World.unitDoor, backup.value!!)
                check(again.contains("\"result\":\"denied\"")) { again }
                World.movePhone(101.0)
                phone.deliverNearby()
                World.movePhone(0.0)
                phone.sync()
                val delivered = phone.code(groceries.id)
                check(delivered.stateOn(World.unitDoor) == CodeState.ACTIVE) { "$delivered" }
                check(delivered.backups.map { it.state } == listOf(CodeState.USED)) { "${delivered.backups}" }
                val uses = phone.uses(100u).filter { it.codeId == groceries.id }
                check(uses.map { it.kind } == listOf("backup_code_used")) { "$uses" }
            } finally {
                World.backupPool(World.unitDoor, 0)
            }
        }
    },
)
