// The QA bench in a real browser: Debian's Chromium driven by playwright-core
// against a real `keyway-ble-sim serve` that ble-sim/tests/bench_browser.rs
// started on the Maple Court configuration. Run it through that test; it
// passes BENCH_URL, BENCH_OUT (where the recorded scenario goes),
// BENCH_SCREENSHOTS, KEYWAY_CHROMIUM and PLAYWRIGHT_CORE (the package the
// Portal's tests install). The tests run in order on one simulator.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";

const { chromium } = createRequire(import.meta.url)(process.env.PLAYWRIGHT_CORE);
const base = process.env.BENCH_URL;
const out = process.env.BENCH_OUT;
const shots = process.env.BENCH_SCREENSHOTS;

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

const card = (name) => page.locator("article.card", { has: page.getByRole("heading", { name, level: 3 }) });
const floorText = (name) => page.locator("#floor g.lock", { hasText: name }).locator("text.rssi");

/**
 * Drags the phone on the floor plan to (x, y) metres. Both ends are read in
 * one task from the elements in the document then (the page replaces the
 * floor plan as the world changes), through the page's own transform.
 */
async function dragPhoneTo(x, y) {
  const { from, to } = await page.evaluate(([x, y]) => {
    const svg = document.getElementById("floor-svg");
    const phone = document.getElementById("phone").getBoundingClientRect();
    const point = svg.createSVGPoint();
    point.x = (x - Number(svg.dataset.west)) * Number(svg.dataset.scale);
    point.y = (Number(svg.dataset.north) - y) * Number(svg.dataset.scale);
    const screen = point.matrixTransform(svg.getScreenCTM());
    return {
      from: { x: phone.x + phone.width / 2, y: phone.y + phone.height / 2 },
      to: { x: screen.x, y: screen.y },
    };
  }, [x, y]);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await page.mouse.up();
}

/** Waits until the phone's label on the floor plan matches `pattern`. */
const phoneLabelMatches = (pattern) => page.waitForFunction(
  (source) => new RegExp(source).test(document.getElementById("phone")?.getAttribute("aria-label") || ""),
  pattern.source,
);

/** Types `keys` on a lock's keypad with its buttons, then enter. */
async function typeOn(name, keys) {
  const lock = card(name);
  for (const key of keys) await lock.locator(".keys").getByRole("button", { name: key, exact: true }).click();
  await lock.getByRole("button", { name: /Press enter|Send the keys/ }).click();
  return lock.locator("form.keypad output");
}

/** An HTTP request as another site's page would make it. */
function crossSite(method, path, body) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = request(url, {
      method,
      headers: { origin: "http://evil.example", "content-type": "application/json" },
    }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

test("the dashboard shows every lock, its slots and the phone on the floor plan", async () => {
  for (const name of ["Unit 4B", "Main entrance", "Package room"]) {
    await assert.doesNotReject(card(name).waitFor());
  }
  assert.match(await page.locator("#phone").getAttribute("aria-label"), /at 0\.0 m east/);
  assert.match(await card("Unit 4B").innerText(), /No codes on this lock/);
});

test("recording starts and counts each action", async () => {
  await page.getByRole("button", { name: "Record", exact: true }).click();
  await page.locator("#recording", { hasText: "Recording" }).waitFor();
});

test("dragging the phone moves it out of one lock's range and into another's", async () => {
  await dragPhoneTo(29, 0);
  await phoneLabelMatches(/at 29\.\d m east, -?0\.\d m north/);
  await page.locator("#floor g.lock", { hasText: "Package room" }).locator("text.rssi", { hasText: "in range" }).waitFor();
  assert.doesNotMatch(await floorText("Unit 4B").textContent(), /in range/);
  await dragPhoneTo(3.5, 0);
  await phoneLabelMatches(/at 3\.\d m east, -?0\.\d m north/);
  await page.locator("#floor g.lock", { hasText: "Unit 4B" }).locator("text.rssi", { hasText: "in range" }).waitFor();
  assert.doesNotMatch(await floorText("Package room").textContent(), /in range/);
});

test("a code delivered through the phone's engine lands in the lock's slots", async () => {
  const lock = card("Unit 4B");
  await lock.getByLabel("Code").fill("204816");
  await lock.getByRole("button", { name: "Deliver" }).click();
  await lock.locator("form[data-action=deliver] output", { hasText: "delivered, receipt applied" }).waitFor();
  await lock.locator("[data-field=version]", { hasText: "1" }).waitFor();
  assert.match(await lock.locator("table.slots").innerText(), /204816\s+resident/);
});

test("typing the code is granted, a wrong one denied", async () => {
  const granted = await typeOn("Unit 4B", "204816");
  await assert.doesNotReject(granted.filter({ hasText: "granted (slot 0)" }).waitFor());
  const denied = await typeOn("Unit 4B", "1111");
  await denied.filter({ hasText: "denied: unknown code" }).waitFor();
});

test("five wrong codes trip the keypad's lockout", async () => {
  for (const wrong of ["2222", "3333", "4444", "5555"]) await typeOn("Unit 4B", wrong);
  await card("Unit 4B").locator(".badge", { hasText: "keypad locked out" }).waitFor();
  const locked = await typeOn("Unit 4B", "204816");
  await locked.filter({ hasText: "locked out until" }).waitFor();
});

test("cutting the power turns the lock off, and it comes back", async () => {
  const lock = card("Unit 4B");
  await lock.getByRole("button", { name: "Cut power" }).click();
  await lock.locator(".badge", { hasText: "power off" }).waitFor();
  await page.locator("#floor g.lock.off", { hasText: "Unit 4B" }).waitFor();
  await lock.getByRole("button", { name: "Power on" }).click();
  await lock.locator(".badge", { hasText: "powered" }).waitFor();
  await page.screenshot({ path: join(shots, "bench.png"), fullPage: true });
});

test("the lock's clock is set to a chosen instant", async () => {
  const lock = card("Main entrance");
  await lock.getByLabel("Set the clock to (UTC)").fill("2026-12-24T18:30");
  await lock.getByRole("button", { name: "Set the clock" }).click();
  await lock.locator(".facts", { hasText: "2026-12-24 18:30:00 UTC" }).waitFor();
});

test("stopping the recording gives a scenario file of every step", async () => {
  await page.getByLabel("Scenario name").fill("Recorded in the browser test");
  await page.getByRole("button", { name: "Stop and save" }).click();
  const recorded = page.getByLabel("The recorded scenario");
  await page.waitForFunction(() => document.getElementById("recorded").value.includes("[[step]]"));
  const text = await recorded.inputValue();
  for (const expected of ['do = "move_phone"', 'do = "deliver"', 'expect = "granted"',
    'expect = "denied:unknown_code"', 'expect = "locked_out"', 'action = "off"', 'do = "check"',
    'set = "2026-12-24T18:30:00Z"']) {
    assert.ok(text.includes(expected), `${expected} is missing from\n${text}`);
  }
  assert.ok(await page.getByRole("link", { name: "Download recorded.toml" }).isVisible());
  writeFileSync(join(out, "recorded.toml"), text);
});

test("a scenario opened in the dashboard plays step by step, failures shown", async () => {
  const scenario = [
    'name = "Two entries at the main entrance"', 'config = "unused.toml"',
    "[[step]]", 'do = "keypad"', 'lock = "Main entrance"', 'code = "9999"', 'expect = "denied"',
    "[[step]]", 'do = "keypad"', 'lock = "Main entrance"', 'code = "9998"', 'expect = "granted"',
  ].join("\n");
  await page.getByLabel("Scenario file (.toml)").setInputFiles({
    name: "two.toml", mimeType: "application/toml", buffer: Buffer.from(scenario),
  });
  await page.locator("#scenario-name", { hasText: "2 step(s)" }).waitFor();
  const next = page.getByRole("button", { name: "Play the next step" });
  await next.click();
  await page.locator("#playback-log li", { hasText: "ok 1. type a 4-digit code on Main entrance" }).waitFor();
  await next.click();
  await page.locator("#playback-log li", { hasText: "FAIL 2." }).waitFor();
  assert.match(await page.locator("#playback-log").innerText(), /expected granted, got denied:unknown_code/);
  assert.ok(await next.isDisabled());
});

test("the package room's kiosk: Begin Pickup, a wrong PIN, the right one, then an unknown key card", async () => {
  const put = (path, method, body) => page.evaluate(async ([path, method, body]) => {
    const r = await fetch(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return r.json();
  }, [path, method, body]);
  await put("/phone", "PUT", { x: 29, y: 0 });
  const delivered = await put("/bench/locks/Package%20room/deliver", "POST", { slot: 0, code: "5117", kind: "courier" });
  assert.equal(delivered.outcome, "delivered");

  const kiosk = await (await browser.newContext({ viewport: { width: 600, height: 900 } })).newPage();
  await kiosk.goto(`${base}/kiosk`);
  await kiosk.getByRole("button", { name: "Begin Pickup" }).click();
  for (const key of "1234") await kiosk.getByRole("button", { name: key, exact: true }).click();
  await kiosk.getByRole("button", { name: "Open" }).click();
  await kiosk.getByRole("heading", { name: "PIN not recognised" }).waitFor();
  await kiosk.getByRole("button", { name: "Done" }).click();
  await kiosk.getByRole("button", { name: "Begin Pickup" }).click();
  await kiosk.getByLabel("PIN", { exact: true }).fill("5117");
  await kiosk.keyboard.press("Enter");
  await kiosk.getByRole("heading", { name: "The door is open" }).waitFor();
  await kiosk.screenshot({ path: join(shots, "kiosk.png") });

  // The card reader, by keyboard: no card slot here, so the card is unknown.
  await kiosk.getByRole("button", { name: "Done" }).click();
  await kiosk.getByRole("button", { name: "Begin Pickup" }).click();
  await kiosk.getByRole("button", { name: "Scan a key card" }).click();
  assert.equal(await kiosk.evaluate(() => document.activeElement.id), "kiosk-card-id");
  await kiosk.keyboard.type("card-0042");
  await kiosk.keyboard.press("Enter");
  await kiosk.getByRole("heading", { name: "Card not recognised" }).waitFor();
});

test("another site's page cannot drive the simulator", async () => {
  assert.equal(await crossSite("PUT", "/phone", { x: 1, y: 1 }), 403);
  assert.equal(await crossSite("POST", "/bench/recording", {}), 403);
  await page.reload();
  assert.doesNotMatch(await page.locator("#phone").getAttribute("aria-label"), /at 1\.0 m east, 1\.0 m north/);
});

test("the dashboard fits a phone's 375 px width", async () => {
  const small = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
  await small.goto(base);
  const [overflow, widest] = await small.evaluate(() => {
    const over = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`);
    return [document.documentElement.scrollWidth - window.innerWidth, over.slice(0, 5).join(", ")];
  });
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen: ${widest}`);
});
