// The bench with a resident's real phone core attached to a real
// keyway-server (`serve --with-server`), in Debian's Chromium: the refused
// pick with its reasons, a generated code Pending until the phone is
// dragged into range and Active after the phone core's visit, the keypad
// opening with it, a guest code made on the phone panel (refused in words
// when its schedule is wrong), and the kiosk's request for temporary access.
// Run by ble-sim/tests/bench_phone_browser.rs, which passes BENCH_URL,
// UNIT_X (metres east of the unit door), KEYWAY_CHROMIUM and PLAYWRIGHT_CORE.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const { chromium } = createRequire(import.meta.url)(process.env.PLAYWRIGHT_CORE);
const base = process.env.BENCH_URL;
const unitX = Number(process.env.UNIT_X);

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
