// The Portal in a real browser: Debian's Chromium driven by playwright-core
// against a real keyway-server that server-stub/tests/portal_browser.rs
// started and set up. Run it through that test (cargo test -p keyway-server
// --test portal_browser); it passes the server's address, the fixture file
// and where screenshots go:
//   PORTAL_URL, PORTAL_FIXTURE, PORTAL_SCREENSHOTS, KEYWAY_CHROMIUM.
// The tests run in order and share the server: later ones see what earlier
// ones made.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.PORTAL_URL;
const fixture = JSON.parse(readFileSync(process.env.PORTAL_FIXTURE, "utf8"));
const shots = process.env.PORTAL_SCREENSHOTS;
const { manager, staff, resident, limited, recipient } = fixture;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.KEYWAY_CHROMIUM || "/usr/bin/chromium",
    // As root in CI, without a GPU, and without reaching for Google's hosts.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser profile (no cookies) and a page in it. */
async function fresh(viewport = { width: 1024, height: 720 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, page };
}

/** Clicks `button` and waits for the page it leads to; its response. */
async function submit(page, button) {
  const [response] = await Promise.all([page.waitForNavigation(), button.click()]);
  return response;
}

/** Signs in on the sign-in page; the answer to the form. */
async function signIn(page, who, password = who.password) {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel("Email address").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  return submit(page, page.getByRole("button", { name: "Sign in" }));
}

/** A signed-in manager's page. */
async function asManager(viewport) {
  const { context, page } = await fresh(viewport);
  const response = await signIn(page, manager);
  assert.equal(response.status(), 200);
  return { context, page };
}

/** A screenshot for docs/portal (viewport-wide, the whole page). */
async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const main = (page) => page.locator("main").innerText();

test("a manager signs in with the keyboard alone and lands on the dashboard", async () => {
  const { context, page } = await fresh();
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/sign-in\?next=%2F$/);
  await shot(page, "sign-in");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to main content");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused control is visibly marked");
  // The skip link takes the focus to the page's content: the form is next.
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "email");
  await page.keyboard.type(manager.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(manager.password);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assert.equal(new URL(page.url()).pathname, "/");
  assert.equal(await page.locator("h1").innerText(), "Dashboard");
  assert.match(await page.locator("header").innerText(), /Manager/);
  const cookie = (await context.cookies()).find((c) => c.name === "keyway_session");
  assert.ok(cookie?.httpOnly, "the session cookie is HttpOnly");
  assert.equal(cookie.sameSite, "Strict");
  await context.close();
});

test("a manager creates a carrier and changes its code", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/carriers`);
  await page.getByLabel("Carrier name").fill("Speedy Parcels");
  await submit(page, page.getByRole("button", { name: "Add carrier" }));
  assert.match(page.url(), /\/carriers\/car_[^/?]+\?done=created$/);
  const first = (await page.locator(".digits").first().innerText()).trim();
  assert.match(first, /^[1-9]\d{3}$/, "a 4-digit carrier code");
  await submit(page, page.getByRole("button", { name: "Update" }));
  assert.match(await main(page), /The new code is saved/);
  const second = (await page.locator(".digits").first().innerText()).trim();
  assert.match(second, /^[1-9]\d{3}$/);
  assert.notEqual(second, first, "Update gave the carrier new digits");
  await page.goto(`${base}/carriers`);
  assert.match(await main(page), new RegExp(`Speedy Parcels[\\s\\S]*${second}`));
  await shot(page, "carriers");
  await context.close();
});

test("a courier gets a PIN, its QR code and a printable key card", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/couriers`);
  await page.getByLabel("Courier name").fill("Sam from Speedy");
  await submit(page, page.getByRole("button", { name: "Add courier" }));
  assert.match(await main(page), /No PIN yet/);
  await page.getByText("Access key maintenance").click();
  await submit(page, page.getByRole("button", { name: "Save PIN" }));
  const pin = (await page.locator("#courier-pin").innerText()).trim();
  assert.match(pin, /^\d{6}$/);
  assert.ok(await page.getByLabel("active").first().isVisible(), "the PIN is marked active (✓)");
  const qr = page.getByRole("img", { name: "QR code of the courier's PIN" });
  assert.ok(await qr.isVisible(), "the QR code is shown");
  await shot(page, "courier");
  await page.getByRole("link", { name: "Print the key card" }).click();
  await page.emulateMedia({ media: "print" });
  assert.ok(!(await page.locator(".main-nav").isVisible()), "printing leaves the navigation out");
  assert.ok(await page.getByRole("img", { name: "QR code of the courier's PIN" }).isVisible());
  await shot(page, "key-card-print");
  await context.close();
});

test("a refused custom PIN shows the policy's reasons next to the field", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/couriers`);
  await page.getByRole("link", { name: "View Sam from Speedy" }).click();
  await page.getByText("Access key maintenance").click();
  await page.getByLabel("Choose the digits").check();
  await page.getByLabel("Digits, when you choose them").fill("123456");
  const response = await submit(page, page.getByRole("button", { name: "Save PIN" }));
  assert.equal(response.status(), 422);
  const field = page.getByLabel("Digits, when you choose them");
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  const refusal = page.locator(`#${await field.getAttribute("aria-describedby")}`);
  const text = await refusal.innerText();
  assert.match(text, /This code was refused/);
  assert.match(text, /consecutive digits/);
  assert.match(text, /\(sequential\)/);
  assert.match(text, /policy_violation/);
  await context.close();
});

test("a one-time PIN is sent to a recipient and shows in the outbox", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/recipients?q=dana`);
  await shot(page, "recipients");
  await page.goto(`${base}/one-time-pin`);
  await page.getByLabel("Select recipient: type a name").fill("dan");
  assert.ok(!(await page.getByLabel(/Omar Haddad/).isVisible()), "typing narrows the list");
  await page.getByLabel(/Dana Ruiz/).check();
  await page.getByText("Show more options").click();
  await page.getByLabel("Send notification via").selectOption("both");
  await shot(page, "one-time-pin");
  await submit(page, page.getByRole("button", { name: "Generate" }));
  assert.match(page.url(), new RegExp(`/recipients/${recipient.id}\\?done=sent$`));
  const first = page.locator("tbody tr").first();
  assert.equal((await first.locator(".pin-state").innerText()).trim(), "Sent");
  assert.match((await first.locator(".digits").innerText()).trim(), /^\d{6}$/);
  await shot(page, "recipient");
  // The outbox: one email and one text message, delivered by the worker.
  let text = "";
  for (let i = 0; i < 50; i += 1) {
    await page.goto(`${base}/notifications`);
    text = await main(page);
    if ((text.match(/\bSent\b/g) || []).length >= 2) break;
    await page.waitForTimeout(200);
  }
  assert.match(text, new RegExp(recipient.email.replace(".", "\\.")));
  assert.match(text, /\+15551234567/);
  assert.match(text, /Your one-time PIN for Maple Court/);
  assert.ok((text.match(/\bSent\b/g) || []).length >= 2, `both messages were sent: ${text}`);
  await shot(page, "notifications");
  await context.close();
});

test("a unit's codes show their state on each lock, never their digits", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/units`);
  await page.getByRole("link", { name: "Unit 4B" }).click();
  const text = await main(page);
  assert.match(text, /Resident code: Alice/);
  assert.match(text, /Unit 4B: Active/);
  assert.doesNotMatch(await page.content(), new RegExp(fixture.resident_code));
  assert.ok(await page.getByRole("button", { name: "Deactivate" }).first().isVisible());
  await shot(page, "unit");
  await context.close();
});

test("a lock shows its versions and its audit log, filtered", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/locks`);
  await page.getByRole("link", { name: "Unit 4B" }).click();
  assert.match(await main(page), /In sync/);
  await page.getByLabel("What").selectOption("code_used");
  await submit(page, page.getByRole("button", { name: "Show" }));
  const rows = await page.locator("tbody tr").allInnerTexts();
  assert.ok(rows.length >= 1, "the code used at the keypad is in the log");
  for (const row of rows) assert.match(row, /code_used/);
  await page.getByLabel("What").selectOption("");
  await submit(page, page.getByRole("button", { name: "Show" }));
  assert.match(await main(page), /Wrong code entered/);
  assert.match(await main(page), /Backup codes\s+None kept/);
  await page.getByLabel("Backup codes to keep").selectOption("2");
  await submit(page, page.getByRole("button", { name: "Save" }));
  assert.match(await main(page), /The lock loads or drops backup codes at the next visit/);
  assert.match(await main(page), /2 kept: 0 on the lock and ready, 0 handed out/);
  assert.match(await main(page), /Changes wait for a phone at the door/);
  await shot(page, "lock");
  await page.getByLabel("Backup codes to keep").selectOption("0");
  await submit(page, page.getByRole("button", { name: "Save" }));
  assert.match(await main(page), /Backup codes\s+None kept/);
  await context.close();
});

test("a staff member cannot reach a manager-only page", async () => {
  const { context, page } = await fresh();
  assert.equal((await signIn(page, staff)).status(), 200);
  assert.match(await page.locator("header").innerText(), /Staff/);
  await page.goto(`${base}/policy`);
  assert.match(await main(page), /Only managers change the policy/);
  const response = await page.goto(`${base}/policy/edit`);
  assert.equal(response.status(), 403);
  assert.match(await main(page), /only managers may do this/);
  // Staff see a lock's backup codes, never the control that sets them.
  await page.goto(`${base}/locks`);
  await page.getByRole("link", { name: "Unit 4B" }).click();
  assert.match(await main(page), /Backup codes/);
  assert.equal(await page.getByLabel("Backup codes to keep").count(), 0);
  await context.close();
});

test("a staff member cannot see or change another holder's PIN", async () => {
  const { context, page } = await fresh();
  await signIn(page, staff);
  await page.goto(`${base}/staff`);
  const row = page.locator("tr", { hasText: "mia" });
  assert.match(await row.innerText(), /hidden/);
  assert.doesNotMatch(await page.content(), new RegExp(fixture.manager_pin));
  assert.equal(await row.getByRole("link").count(), 0, "no Manage link for another's PIN");
  const response = await page.goto(`${base}/staff/${manager.user_id}`);
  assert.equal(response.status(), 403);
  // Even with this session's own form token, a post for another's PIN is refused.
  await page.goto(`${base}/staff/${staff.user_id}`);
  const csrf = await page.locator("input[name=csrf]").first().inputValue();
  const post = await page.request.post(`${base}/staff/${manager.user_id}/pin`, {
    form: { csrf, idem: "staff-tries-manager-pin", mode: "generate" },
    headers: { Origin: base },
    maxRedirects: 0,
  });
  assert.equal(post.status(), 403);
  const boss = await asManager();
  await boss.page.goto(`${base}/staff/${manager.user_id}`);
  assert.match(await main(boss.page), new RegExp(fixture.manager_pin), "the PIN did not change");
  await boss.context.close();
  await context.close();
});

test("a form posted without its CSRF token is refused and changes nothing", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/carriers`);
  await page.getByLabel("Carrier name").fill("No Token Freight");
  await page.evaluate(() =>
    document.querySelector('form[action="/carriers"] input[name=csrf]').remove(),
  );
  const response = await submit(page, page.getByRole("button", { name: "Add carrier" }));
  assert.equal(response.status(), 403);
  assert.match(await main(page), /did not come from a Portal page/);
  await page.goto(`${base}/carriers`);
  assert.doesNotMatch(await main(page), /No Token Freight/);
  await context.close();
});

test("a resident signing in is told the Portal is not for them", async () => {
  const { context, page } = await fresh();
  const response = await signIn(page, resident);
  assert.equal(response.status(), 403);
  assert.match(await main(page), /Keyway app/);
  const cookies = await context.cookies();
  assert.ok(!cookies.some((c) => c.name === "keyway_session"), "no session for a resident");
  await context.close();
});

test("signing out ends the session: the old cookie no longer works", async () => {
  const { context, page } = await asManager();
  const cookie = (await context.cookies()).find((c) => c.name === "keyway_session");
  await submit(page, page.getByRole("button", { name: "Sign out" }));
  assert.match(await main(page), /You are signed out/);
  const replay = await fresh();
  await replay.context.addCookies([cookie]);
  await replay.page.goto(`${base}/carriers`);
  assert.equal(new URL(replay.page.url()).pathname, "/sign-in");
  await replay.context.close();
  await context.close();
});

test("wrong passwords are rate-limited per account", async () => {
  // The limit counts in fixed 15-minute windows from the Unix epoch: start
  // well inside one, so the eleven attempts fall into the same window.
  const left = 900 - ((Date.now() / 1000) % 900);
  if (left < 30) await new Promise((done) => setTimeout(done, (left + 1) * 1000));
  const { context, page } = await fresh();
  for (let attempt = 1; attempt <= 10; attempt += 1) {
    const response = await signIn(page, limited, `wrong password ${attempt}`);
    assert.equal(response.status(), 401, `attempt ${attempt}`);
    assert.match(await main(page), /do not match an account/);
  }
  const response = await signIn(page, limited);
  assert.equal(response.status(), 429, "even the right password waits now");
  assert.match(await main(page), /too many attempts/i);
  await context.close();
});

test("a manager edits the policy", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/policy`);
  await page.getByRole("link", { name: "Edit policy" }).click();
  await page.getByLabel("Allow six-digit codes for residents and guests").check();
  await submit(page, page.getByRole("button", { name: "Save policy" }));
  assert.match(await main(page), /The policy is saved/);
  assert.match(await main(page), /Allowed for residents and guests/);
  await shot(page, "policy");
  await context.close();
});

test("the dashboard sums up the locks and the day's activity", async () => {
  const { context, page } = await asManager();
  const text = await main(page);
  assert.match(text, /in sync/);
  assert.match(text, /waiting for a phone at the door/);
  assert.match(text, /Code used at the keypad/);
  await shot(page, "dashboard");
  await context.close();
});

test("a manager adds a webhook, sees its secret once and reads a delivery log", async () => {
  const { context, page } = await asManager();
  await page.goto(`${base}/webhooks`);
  await page.getByLabel("Address (https://)").fill(fixture.webhook_url);
  await page.getByLabel("Note").fill("Package locker service");
  await page.getByLabel("package_room.opened").check();
  await page.getByLabel("code.used").check();
  await submit(page, page.getByRole("button", { name: "Add webhook" }));
  const secret = (await page.locator(".secret-value").innerText()).trim();
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  assert.match(await main(page), /Package locker service/);
  await shot(page, "webhooks");
  await page.goto(`${base}/webhooks`);
  assert.doesNotMatch(await main(page), new RegExp(secret), "shown once");
  await page.goto(`${base}/webhooks/${fixture.webhook}`);
  const log = await main(page);
  assert.match(log, /500 \(http_status\)/, "the refused attempt");
  assert.match(log, /code\.used/);
  await shot(page, "webhook");
  await context.close();
});

test("a staff member has no webhooks page", async () => {
  const { context, page } = await fresh();
  await signIn(page, staff);
  const response = await page.goto(`${base}/webhooks`);
  assert.equal(response.status(), 403);
  assert.equal(await page.getByRole("link", { name: "Webhooks" }).count(), 0);
  await context.close();
});

test("every page fits a phone's 375 px width", async () => {
  const { context, page } = await asManager({ width: 375, height: 740 });
  for (const path of ["/", "/carriers", "/couriers", `/recipients/${recipient.id}`, "/one-time-pin", `/units/${fixture.unit_4b}`, `/locks/${fixture.unit_door}`, "/policy", "/webhooks", `/webhooks/${fixture.webhook}`, "/account"]) {
    await page.goto(`${base}${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    // What sticks out, to say where to look.
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 375)
        .slice(0, 3)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
        .join(", "));
    assert.ok(width <= 375, `${path} is ${width} px wide (${wide})`);
  }
  await page.goto(`${base}/`);
  await shot(page, "phone-dashboard");
  await context.close();
});
