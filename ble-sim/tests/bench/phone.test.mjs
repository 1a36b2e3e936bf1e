// The bench with a resident's real phone core attached to a real
// keyway-server (`serve --with-server`), in Debian's Chromium: the refused
// pick with its reasons, a generated code Pending until the phone is
// dragged into range and Active after the phone core's visit, the keypad
// opening with it, a guest code made on the phone panel (refused in words
// when its schedule is wrong), the kiosk's request for temporary access,
// and a courier's key card the manager assigns through the server, carried
// to the package room by the phone core and scanned at the kiosk; then codes
// for a door no phone has reached: a guest code that works offline opens
// Unit 4B with the phone out of range, a backup code stands in once for a
// delivery code still pending there (refused in words while the door keeps
// none, or none has reached it), and the uses show on the panel once the
// phone passes the door. Run by ble-sim/tests/bench_phone_browser.rs, which
// passes BENCH_URL, UNIT_X (metres east of the unit door), PACKAGE_ROOM_X
// (next to the package room), SERVER_URL and MANAGER_TOKEN (Mia's API
// token), BENCH_SCREENSHOTS (where the phone panel's screenshot goes),
// KEYWAY_CHROMIUM and PLAYWRIGHT_CORE.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";

const { chromium } = createRequire(import.meta.url)(process.env.PLAYWRIGHT_CORE);
const base = process.env.BENCH_URL;
const unitX = Number(process.env.UNIT_X);
const packageRoomX = Number(process.env.PACKAGE_ROOM_X);
const shots = process.env.BENCH_SCREENSHOTS;

/** The manager's API call to the server; the JSON answer. */
async function manage(method, path, body) {
  const response = await fetch(`${process.env.SERVER_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${process.env.MANAGER_TOKEN}`,
      "content-type": "application/json",
      "idempotency-key": `bench-${Math.random()}`,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

let browser;
let page;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.KEYWAY_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(base);
});

after(async () => {
  await browser?.close();
});

const panel = () => page.locator("#phone-core");

test("the phone core shows who it is", async () => {
  await panel().getByText("Alice").first().waitFor();
});

test("a refused pick lists every rule in words", async () => {
  const form = page.locator("form[data-phone=pick]");
  await form.getByLabel("Digits").fill("1234");
  await form.getByRole("button", { name: "Pick" }).click();
  await form.locator(".reasons li").first().waitFor();
  const reasons = await form.locator(".reasons").innerText();
  assert.match(reasons, /consecutive digits/);
  assert.match(reasons, /commonly chosen/);
});

test("a generated code is pending until the phone is in range, then active", async () => {
  const form = page.locator("form[data-phone=generate]");
  await form.getByLabel("Name").fill("Front door");
  await form.getByRole("button", { name: "Generate" }).click();
  // Requested while the request goes out, then Pending once the server took it.
  const row = panel().locator("tr", { hasText: "Front door" }).filter({ hasText: "Unit 4B: Pending" });
  await row.waitFor();
  const digits = (await row.locator("code").innerText()).trim();
  assert.match(digits, /^\d{4}$/);

  await page.getByLabel("Phone east (m)").fill(String(unitX + 1));
  await page.getByRole("button", { name: "Move the phone" }).click();
  await panel().locator("tr", { hasText: "Front door" }).filter({ hasText: "Unit 4B: Active" })
    .waitFor({ timeout: 30000 });
  await panel().locator("li", { hasText: /Unit 4B: delivered/ }).first().waitFor();

  const unit = page.locator("article.card", { has: page.getByRole("heading", { name: "Unit 4B", level: 3 }) });
  await unit.getByLabel(/Keypad of Unit 4B/).fill(digits);
  await unit.getByRole("button", { name: "Press enter" }).click();
  await unit.locator("form.keypad output", { hasText: "granted" }).waitFor();
});

test("a guest code is made on the phone panel and reaches the unit's lock", async () => {
  const form = page.locator("form[data-phone=guest]");
  // A temporary code needs its hours: the server is not even asked.
  await form.getByLabel("Type").selectOption("temporary");
  await form.getByLabel(/Hours from now/).fill("");
  await form.getByRole("button", { name: "Create" }).click();
  await form.locator(".reasons li", { hasText: "needs its hours" }).waitFor();
  // Days the schedule does not know are refused in words.
  await form.getByLabel("Type").selectOption("recurring");
  await form.getByLabel(/Days/).fill("someday");
  await form.getByRole("button", { name: "Create" }).click();
  await form.locator(".reasons li", { hasText: "someday" }).waitFor();
  assert.equal(await panel().locator("tr", { hasText: "Dog walker" }).count(), 0);

  // The dog walker's code, weekdays 09:00 to 10:00: the phone is still in
  // range of Unit 4B from the test before, so the phone core delivers it.
  await form.getByLabel(/Days/).fill("mon,tue,wed,thu,fri");
  await form.getByRole("button", { name: "Create" }).click();
  await panel().locator("tr", { hasText: "Dog walker" }).filter({ hasText: "Unit 4B: Active" })
    .waitFor({ timeout: 30000 });
});

test("the kiosk asks the server for temporary access", async () => {
  const kiosk = await (await browser.newContext({ viewport: { width: 600, height: 900 } })).newPage();
  await kiosk.goto(`${base}/kiosk`);
  await kiosk.getByRole("button", { name: "Request temporary access" }).click();
  await kiosk.getByLabel("Email address or phone number").fill("nobody@example.com");
  await kiosk.getByRole("button", { name: "Send me a PIN" }).click();
  await kiosk.getByRole("heading", { name: "Check your messages" }).waitFor();
});

test("a courier's key card reaches the package room and opens it at the kiosk", async () => {
  const courier = await manage("POST", "/v1/manage/couriers", { name: "FedEx route 7" });
  const pin = await manage("PUT", `/v1/manage/couriers/${courier.id}/pin`, { mode: "generate" });
  const carded = await manage("POST", `/v1/manage/couriers/${courier.id}/key-card`,
    { pin: pin.value, key_card_id: "card-0042" });
  assert.equal(carded.key_card_id, "card-0042");

  // Alice's phone core relays the package room's job (it cannot read it).
  await page.getByLabel("Phone east (m)").fill(String(packageRoomX));
  await page.getByRole("button", { name: "Move the phone" }).click();
  const room = page.locator("article.card", { has: page.getByRole("heading", { name: "Package room", level: 3 }) });
  await room.locator("table.slots", { hasText: "key card" }).waitFor({ timeout: 30000 });
  assert.doesNotMatch(await room.innerText(), /card-0042/, "the lock holds the card's key, not its id");

  const kiosk = await (await browser.newContext({ viewport: { width: 600, height: 900 } })).newPage();
  await kiosk.goto(`${base}/kiosk`);
  await kiosk.getByRole("button", { name: "Begin Pickup" }).click();
  await kiosk.getByRole("button", { name: "Scan a key card" }).click();
  await kiosk.getByLabel("Key card id").fill("card-0042");
  await kiosk.keyboard.press("Enter");
  await kiosk.getByRole("heading", { name: "The door is open" }).waitFor();

  // Another card: denied, and the card used before is offered to choose.
  await kiosk.getByRole("button", { name: "Done" }).click();
  await kiosk.getByRole("button", { name: "Begin Pickup" }).click();
  await kiosk.getByRole("button", { name: "Scan a key card" }).click();
  assert.equal(await kiosk.locator("#kiosk-card-ids option").getAttribute("value"), "card-0042");
  await kiosk.getByLabel("Key card id").fill("card-0043");
  await kiosk.getByRole("button", { name: "Scan", exact: true }).click();
  await kiosk.getByRole("heading", { name: "Card not recognised" }).waitFor();
  // The wrong card counts toward the door's lockout, as a wrong PIN does.
  await room.locator("dd", { hasText: "1 since the last lockout" }).waitFor();
});

// ---- codes for a door no phone has reached --------------------------------

/** Unit 4B's card on the dashboard. */
const unitCard = () =>
  page.locator("article.card", { has: page.getByRole("heading", { name: "Unit 4B", level: 3 }) });

/** Moves the phone to `x` metres east with the floor plan's form. */
async function movePhone(x) {
  await page.getByLabel("Phone east (m)").fill(String(x));
  await page.getByRole("button", { name: "Move the phone" }).click();
}

/** A lock as the simulator's control API shows it. */
async function lockNamed(name) {
  const response = await fetch(`${base}/locks/${encodeURIComponent(name)}`);
  assert.ok(response.ok, `GET /locks/${name}: ${response.status}`);
  return response.json();
}

/** Types `digits` on Unit 4B's keypad; the lock's answer in words. */
async function typeAtUnit(digits) {
  const keypad = unitCard().locator("form.keypad");
  const output = keypad.locator("output");
  await output.evaluate((o) => { o.textContent = ""; });
  await keypad.getByLabel(/Keypad of Unit 4B/).fill(digits);
  await keypad.getByRole("button", { name: "Press enter" }).click();
  await output.filter({ hasText: /\w/ }).waitFor();
  return (await output.innerText()).trim();
}

/** Makes a guest code with the phone panel's form. */
async function makeGuest(name, type, hours, offline) {
  const form = page.locator("form[data-phone=guest]");
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Type").selectOption(type);
  await form.getByLabel(/Hours from now/).fill(String(hours));
  await form.getByLabel("Works offline").setChecked(offline);
  await form.getByRole("button", { name: "Create" }).click();
}

/** Unit 4B's id and its pool of backup codes, as the manager sees them. */
async function unitPool() {
  const { locks } = await manage("GET", "/v1/manage/locks");
  const unit = locks.find((l) => l.name === "Unit 4B");
  return { id: unit.lock_id, pool: unit.backup_pool };
}

const row = (name) => panel().locator("tr", { hasText: name });
const notice = () => page.locator("#phone-backup");

test("an offline guest code made on the panel opens Unit 4B with the phone out of range", async () => {
  // The phone stands by the package room, out of Unit 4B's delivery range.
  const before = await lockNamed("Unit 4B");
  assert.ok(!(before.heard && before.rssi >= -78), `Unit 4B is in range: ${before.rssi} dBm`);
  await makeGuest("Pet sitter", "temporary", 2, true);
  const offline = row("Pet sitter").locator("li", { hasText: /Unit 4B: \d{8} works offline/ });
  await offline.waitFor();
  assert.match(await row("Pet sitter").innerText(), /Active/, "active at once, with no job");
  const digits = (await offline.innerText()).match(/Unit 4B: (\d{8})/)[1];
  assert.equal(await typeAtUnit(digits), "granted (an offline code)");
  // No phone reached the door: no connection, the same slot table.
  const after = await lockNamed("Unit 4B");
  assert.equal(after.stats.connections, before.stats.connections);
  assert.equal(after.version, before.version);
  // Another door has other digits.
  const entrance = page.locator("article.card", { has: page.getByRole("heading", { name: "Main entrance", level: 3 }) });
  await entrance.getByLabel(/Keypad of Main entrance/).fill(digits);
  await entrance.getByRole("button", { name: "Press enter" }).click();
  await entrance.locator("form.keypad output", { hasText: "denied: unknown code" }).waitFor();
});

test("a backup code opens Unit 4B once for a delivery code that has not reached it", async () => {
  // With no pool on the door, the panel says why, in words.
  await makeGuest("Parcel", "delivery", 2, false);
  const parcel = row("Parcel");
  await parcel.filter({ hasText: "Unit 4B: Pending" }).waitFor();
  const ask = (name) => row(name).getByRole("button", { name: `Get a backup code for ${name} at Unit 4B` });
  await ask("Parcel").click();
  await notice().filter({ hasText: "No backup code for Unit 4B: this door keeps no backup codes" }).waitFor();
  // Mia keeps two on the door; none has reached it yet.
  const { id } = await unitPool();
  const set = await manage("PUT", `/v1/manage/locks/${id}/backup-pool`, { size: 2 });
  assert.deepEqual(set.backup_pool, { size: 2, ready: 0, handed_out: 0 });
  await ask("Parcel").click();
  await notice().filter({ hasText: "no backup code has reached this door yet" }).waitFor();

  // The phone passes the door: it loads the pool and carries Parcel's code,
  // and relays the lock's events: the pet sitter's use shows.
  await movePhone(unitX + 1);
  await parcel.filter({ hasText: "Unit 4B: Active" }).waitFor({ timeout: 30000 });
  assert.equal(await ask("Parcel").count(), 0, "no backup code for a code the door holds");
  for (let i = 0; (await unitPool()).pool.ready < 2; i++) {
    assert.ok(i < 120, `the pool never filled: ${JSON.stringify((await unitPool()).pool)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await panel().locator("li", { hasText: /Pet sitter's code opened Unit 4B at \d\d:\d\d \(its offline code\)/ })
    .waitFor({ timeout: 30000 });

  // Away again, the courier's delivery code stays pending on the door.
  await movePhone(packageRoomX);
  await makeGuest("Courier", "delivery", 2, false);
  await row("Courier").filter({ hasText: "Unit 4B: Pending" }).waitFor();
  await ask("Courier").click();
  await notice().filter({ hasText: /^Backup code for Unit 4B: \d{8}\./ }).waitFor();
  const digits = (await notice().innerText()).match(/Unit 4B: (\d{8})\./)[1];
  await row("Courier").locator("li", { hasText: `Unit 4B: backup code ${digits} (active` }).waitFor();
  assert.deepEqual((await unitPool()).pool, { size: 2, ready: 1, handed_out: 1 });
  if (shots) {
    await page.locator("section", { has: page.locator("#phone-core") }).screenshot({ path: join(shots, "phone.png") });
  }
  // The courier types it: the door opens once, and only once.
  assert.match(await typeAtUnit(digits), /^granted \(slot \d+, now used\)$/);
  assert.equal(await typeAtUnit(digits), "denied: already used");
  assert.match(await row("Courier").innerText(), /Unit 4B: Pending/);
});

test("the use shows on the panel once the phone passes the door", async () => {
  await movePhone(unitX + 1);
  const uses = panel().getByRole("list", { name: /Uses of the phone's codes/ });
  await uses.locator("li", { hasText: /Courier's code opened Unit 4B at \d\d:\d\d \(with a backup code\)/ })
    .waitFor({ timeout: 30000 });
  // The same visit carried the courier's own code; the backup is spent.
  const courier = row("Courier");
  await courier.filter({ hasText: "Unit 4B: Active" }).waitFor({ timeout: 30000 });
  await courier.locator("li", { hasText: "Unit 4B: backup code (used)" }).waitFor();
  assert.equal(await courier.getByRole("button", { name: /Get a backup code/ }).count(), 0);
});
