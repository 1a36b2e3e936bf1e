// The bench with a resident's real phone core attached to a real
// keyway-server (`serve --with-server`), in Debian's Chromium: the refused
// pick with its reasons, a generated code Pending until the phone is
// dragged into range and Active after the phone core's visit, the keypad
// opening with it, a guest code made on the phone panel (refused in words
// when its schedule is wrong), the kiosk's request for temporary access,
// and a courier's key card the manager assigns through the server, carried
// to the package room by the phone core and scanned at the kiosk. Run by
// ble-sim/tests/bench_phone_browser.rs, which passes BENCH_URL, UNIT_X
// (metres east of the unit door), PACKAGE_ROOM_X (next to the package
// room), SERVER_URL and MANAGER_TOKEN (Mia's API token), KEYWAY_CHROMIUM and
// PLAYWRIGHT_CORE.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const { chromium } = createRequire(import.meta.url)(process.env.PLAYWRIGHT_CORE);
const base = process.env.BENCH_URL;
const unitX = Number(process.env.UNIT_X);
const packageRoomX = Number(process.env.PACKAGE_ROOM_X);

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
