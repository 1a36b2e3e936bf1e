// Keyway bench: the simulated building in a browser. Every action is a
// request to the simulator's control API (or the bench's own endpoints);
// the page follows the world through server-sent events and fetches the
// server-rendered parts again.
"use strict";

const json = (method, url, body) =>
  fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => {
    const text = await r.text();
    let data = null;
    try { data = JSON.parse(text); } catch { data = text; }
    if (!r.ok) throw new Error(data?.error?.message || `${r.status}`);
    return data;
  });

/** Sends a request whose refusal may carry the policy's reasons. */
const phoneRequest = async (body) => {
  const r = await fetch("/bench/phone", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await r.json();
  if (!r.ok) {
    const error = new Error(data.error.message);
    error.reasons = data.error.reasons || [];
    throw error;
  }
  return data;
};

const say = (output, text, ok = true) => {
  if (!output) return;
  output.textContent = text;
  output.classList.toggle("bad", !ok);
};

// ---- the dashboard ----------------------------------------------------

let dragging = false;
let refreshing = null;
let shownFloor = null;

/**
 * Fetches the server-rendered parts again. A call made while a fetch is in
 * flight is answered by one more fetch after it, never by the one in flight:
 * that one may have read the world before the change the caller waits for.
 */
function refresh() {
  if (refreshing) return refreshing.then(refresh);
  refreshing = (async () => {
    const [floor, locks, recording, phone] = await Promise.all(
      ["floor", "locks", "recording", "phone"].map((p) =>
        fetch(`/bench/fragments/${p}`).then((r) => r.text())),
    );
    if (!dragging && floor !== shownFloor) {
      shownFloor = floor;
      const focused = document.activeElement?.id === "phone";
      document.getElementById("floor").innerHTML = floor;
      if (focused) document.getElementById("phone")?.focus();
    }
    const parsed = new DOMParser().parseFromString(locks, "text/html");
    for (const live of parsed.querySelectorAll("[data-live]")) {
      const current = document.getElementById(live.id);
      if (current) current.replaceWith(document.importNode(live, true));
    }
    document.getElementById("recording").innerHTML = recording;
    document.getElementById("phone-core").innerHTML = phone;
    document.body.dataset.updated = String(Date.now());
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function metres(svg, clientX, clientY) {
  const point = svg.createSVGPoint();
  point.x = clientX;
  point.y = clientY;
  const local = point.matrixTransform(svg.getScreenCTM().inverse());
  const scale = Number(svg.dataset.scale);
  return {
    x: Math.round((Number(svg.dataset.west) + local.x / scale) * 10) / 10,
    y: Math.round((Number(svg.dataset.north) - local.y / scale) * 10) / 10,
  };
}

const movePhone = (to) => json("PUT", "/phone", to).then(refresh);

function phoneAt() {
  const label = document.getElementById("phone")?.getAttribute("aria-label") || "";
  const m = label.match(/at (-?[\d.]+) m east, (-?[\d.]+) m north/);
  return m ? { x: Number(m[1]), y: Number(m[2]) } : { x: 0, y: 0 };
}

function wireFloor() {
  const floor = document.getElementById("floor");
  floor.addEventListener("pointerdown", (event) => {
    if (event.target.id !== "phone") return;
    dragging = true;
    shownFloor = null; // the drag moves the phone on the page itself
    event.target.setPointerCapture(event.pointerId);
  });
  floor.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    const svg = document.getElementById("floor-svg");
    const phone = document.getElementById("phone");
    const local = svg.createSVGPoint();
    local.x = event.clientX;
    local.y = event.clientY;
    const p = local.matrixTransform(svg.getScreenCTM().inverse());
    phone.setAttribute("cx", p.x);
    phone.setAttribute("cy", p.y);
  });
  floor.addEventListener("pointerup", (event) => {
    if (!dragging) return;
    dragging = false;
    movePhone(metres(document.getElementById("floor-svg"), event.clientX, event.clientY));
  });
  floor.addEventListener("keydown", (event) => {
    if (event.target.id !== "phone") return;
    const step = { ArrowLeft: [-0.5, 0], ArrowRight: [0.5, 0], ArrowUp: [0, 0.5], ArrowDown: [0, -0.5] }[event.key];
    if (!step) return;
    event.preventDefault();
    const at = phoneAt();
    movePhone({ x: at.x + step[0], y: at.y + step[1] });
  });
}

const actions = {
  "move-phone": (form) =>
    movePhone({ x: Number(form.x.value), y: Number(form.y.value) }),
  keypad: async (form, output) => {
    const enter = form.dataset.enter === "true";
    let keys = form.keys.value.trim();
    if (enter && !keys.endsWith("#")) keys += "#";
    form.keys.value = "";
    const answer = await json("POST", `/locks/${form.dataset.lock}/keypad`, { keys });
    const last = answer.entries.at(-1);
    say(output, last ? words(last.entry) : "no entry finished yet", opened(last?.entry));
  },
  deliver: async (form, output) => {
    say(output, "delivering…");
    const answer = await json("POST", `/bench/locks/${form.dataset.lock}/deliver`, {
      slot: Number(form.slot.value),
      code: form.code.value,
      kind: form.kind.value,
      one_time: form.one_time.checked,
    });
    say(output, `${answer.outcome}${answer.receipt ? `, receipt ${answer.receipt}` : ""}`, answer.outcome === "delivered");
  },
  phone: async (form, output) => {
    const reasons = form.querySelector(".reasons");
    reasons?.replaceChildren();
    // Every filled field of the form, numbers as numbers, a ticked box as true.
    const body = { action: form.dataset.phone };
    for (const [key, value] of new FormData(form)) {
      const type = form[key].type;
      if (value !== "") body[key] = type === "number" ? Number(value) : type === "checkbox" ? true : value;
    }
    try {
      const answer = await phoneRequest(body);
      say(output, `${answer.value ?? ""} ${answer.status.toLowerCase()}`.trim());
    } catch (error) {
      say(output, "refused", false);
      for (const reason of error.reasons?.length ? error.reasons : [error.message]) {
        const item = document.createElement("li");
        item.textContent = reason;
        reasons?.append(item);
      }
      if (!reasons) throw error;
    }
  },
  "clock-set": async (form, output) => {
    const value = form.at.value;
    const at = `${value.length === 16 ? `${value}:00` : value}Z`;
    const answer = await json("POST", `/locks/${form.dataset.lock}/clock`, { set: at });
    say(output, `now ${answer.now ?? at}`);
  },
  faults: async (form, output) => {
    const faults = {
      delay_ms: Number(form.delay_ms.value || 0),
      refuse_connects: Number(form.refuse_connects.value || 0),
    };
    if (form.drop_after_frames.value) faults.drop_after_frames = Number(form.drop_after_frames.value);
    await json("PUT", `/locks/${form.dataset.lock}/faults`, faults);
    say(output, "faults set");
  },
};

/** Whether a keypad entry opened the door (a slot's code or an offline code). */
const opened = (entry) => entry?.result === "granted" || entry?.result === "granted_offline";

function words(entry) {
  switch (entry.result) {
    case "granted": return `granted (slot ${entry.slot}${entry.consumed ? ", now used" : ""})`;
    case "granted_offline": return `granted (an offline code${entry.consumed ? ", now used" : ""})`;
    case "denied": return `denied: ${entry.reason.replaceAll("_", " ")}`;
    case "locked_out": return `locked out until ${entry.until}`;
    default: return entry.result;
  }
}

/** "Get a backup code": the digits, or why not, in the panel's notice. */
async function askBackup(id, lock, lockName) {
  const output = document.getElementById("phone-backup");
  say(output, `asking for a backup code for ${lockName}…`);
  try {
    const backup = await json("POST", "/bench/phone/backup", { id, lock_id: lock });
    say(output, `Backup code for ${backup.lock_name}: ${backup.value}. It opens the door once, and is retired when the code itself reaches the door.`);
  } catch (error) {
    say(output, `No backup code for ${lockName}: ${error.message}`, false);
  }
}

function wireControls() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    const output = form.querySelector("output");
    try {
      await actions[form.dataset.action](form, output);
    } catch (error) {
      say(output, error.message, false);
    }
    refresh();
  });
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const { key, power, advance, clearFaults, lock, lockName, phoneChange, phoneDelete, phoneBackup } = button.dataset;
    try {
      if (key !== undefined) {
        const input = button.closest("form").keys;
        input.value += key;
        if (key === "#") button.closest("form").requestSubmit();
      } else if (power) {
        await json("POST", `/locks/${lock}/power`, { action: power });
      } else if (advance) {
        await json("POST", `/locks/${lock}/clock`, { advance_seconds: Number(advance) });
      } else if (clearFaults) {
        await json("DELETE", `/locks/${clearFaults}/faults`);
      } else if (phoneChange) {
        await phoneRequest({ action: "change", id: phoneChange });
      } else if (phoneDelete) {
        await phoneRequest({ action: "delete", id: phoneDelete });
      } else if (phoneBackup) {
        await askBackup(phoneBackup, lock, lockName);
      } else {
        return;
      }
    } catch (error) {
      alert(error.message);
    }
    refresh();
  });
}

function wireSession() {
  document.getElementById("record-start").addEventListener("click", async () => {
    await json("POST", "/bench/recording");
    document.getElementById("recorded").value = "";
    document.getElementById("recorded-download").hidden = true;
    refresh();
  });
  document.getElementById("record-stop").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = event.target.name.value;
    const response = await fetch("/bench/recording/stop", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const text = await response.text();
    const area = document.getElementById("recorded");
    area.value = response.ok ? text : JSON.parse(text).error.message;
    if (response.ok) {
      const link = document.getElementById("recorded-download");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/toml" }));
      link.hidden = false;
    }
    refresh();
  });
  const next = document.getElementById("play-next");
  document.getElementById("scenario-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const response = await fetch("/bench/playback", {
      method: "POST",
      headers: { "content-type": "application/toml" },
      body: await file.text(),
    });
    const answer = await response.json();
    const name = document.getElementById("scenario-name");
    document.getElementById("playback-log").replaceChildren();
    if (!response.ok) {
      name.textContent = answer.error.message;
      next.disabled = true;
      return;
    }
    name.textContent = `${answer.name}: ${answer.steps} step(s)`;
    next.disabled = answer.steps === 0;
  });
  next.addEventListener("click", async () => {
    next.disabled = true;
    const response = await fetch("/bench/playback/next", { method: "POST" });
    const answer = await response.json();
    const item = document.createElement("li");
    if (response.ok) {
      item.textContent = `${answer.passed ? "ok" : "FAIL"} ${answer.number}. ${answer.action}: ${answer.detail}`;
      item.className = answer.passed ? "ok" : "bad";
      next.disabled = answer.done;
    } else {
      item.textContent = answer.error.message;
    }
    document.getElementById("playback-log").append(item);
    refresh();
  });
}

// ---- the kiosk ----------------------------------------------------------

function wireKiosk(main) {
  const screens = ["kiosk-welcome", "kiosk-pin", "kiosk-card", "kiosk-access", "kiosk-result"].map((id) => document.getElementById(id));
  const show = (id) => {
    for (const s of screens) s.hidden = s.id !== id;
    const target = document.getElementById(id).querySelector("input, button");
    target?.focus();
  };
  const digits = document.getElementById("kiosk-digits");
  document.getElementById("begin").addEventListener("click", () => { digits.value = ""; show("kiosk-pin"); });
  document.getElementById("kiosk-cancel").addEventListener("click", () => show("kiosk-welcome"));
  document.getElementById("kiosk-done").addEventListener("click", () => show("kiosk-welcome"));
  const result = (outcome, detail) => {
    document.getElementById("kiosk-outcome").textContent = outcome;
    document.getElementById("kiosk-detail").textContent = detail;
    show("kiosk-result");
  };
  document.getElementById("ask-access")?.addEventListener("click", () => show("kiosk-access"));
  document.getElementById("access-cancel").addEventListener("click", () => show("kiosk-welcome"));
  document.getElementById("access-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { [form.via.value]: form.address.value.trim() };
    try {
      await json("POST", "/bench/kiosk/forgot-pin", body);
      result("Check your messages",
        "If we have that address, a new single-use PIN is on its way. It opens once the package room has it.");
    } catch (error) {
      result("We could not send a PIN", error.message);
    }
    form.address.value = "";
  });
  for (const button of document.querySelectorAll("[data-kiosk-key]")) {
    button.addEventListener("click", () => {
      const key = button.dataset.kioskKey;
      if (key === "⌫") digits.value = digits.value.slice(0, -1);
      else if (key === "✓") document.getElementById("kiosk-form").requestSubmit();
      else digits.value += key;
    });
  }
  const lock = encodeURIComponent(main.dataset.lock);
  /** Sends an entry to the lock and shows its decision in words. */
  const decide = async (path, body, words) => {
    let outcome;
    let detail = "";
    try {
      const entry = (await json("POST", `/locks/${lock}/${path}`, body)).entry;
      if (!entry) outcome = "No answer from the lock";
      else if (entry.result === "granted") {
        outcome = "The door is open";
        detail = entry.consumed ? `This ${words.noun} worked once and is now used.` : "Take your package and close the door behind you.";
      } else if (entry.result === "locked_out") {
        outcome = "Too many wrong attempts";
        detail = `The door accepts PINs and cards again at ${new Date(entry.until).toLocaleTimeString()}.`;
      } else {
        outcome = `${words.Noun} not recognised`;
        detail = words.retry;
      }
    } catch (error) {
      outcome = "The lock did not answer";
      detail = error.message;
    }
    result(outcome, detail);
  };
  document.getElementById("kiosk-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = digits.value;
    digits.value = "";
    await decide("keypad", { code }, { noun: "PIN", Noun: "PIN", retry: "Check the PIN in your message and try again." });
  });

  // The card reader: an id typed or chosen among those scanned in this session.
  const cardId = document.getElementById("kiosk-card-id");
  const cardIds = document.getElementById("kiosk-card-ids");
  const used = () => JSON.parse(sessionStorage.getItem("kiosk-cards") || "[]");
  const listUsed = () => {
    cardIds.replaceChildren(...used().map((id) => Object.assign(document.createElement("option"), { value: id })));
  };
  document.getElementById("kiosk-scan").addEventListener("click", () => { cardId.value = ""; listUsed(); show("kiosk-card"); });
  document.getElementById("card-cancel").addEventListener("click", () => show("kiosk-welcome"));
  document.getElementById("card-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = cardId.value.trim();
    if (!id) return;
    sessionStorage.setItem("kiosk-cards", JSON.stringify([id, ...used().filter((u) => u !== id)].slice(0, 20)));
    cardId.value = "";
    await decide("card", { card_id: id }, { noun: "card", Noun: "Card", retry: "Check that this is your key card, or enter your PIN." });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const kiosk = document.querySelector(".kiosk-screen");
  if (kiosk) {
    wireKiosk(kiosk);
    return;
  }
  wireFloor();
  wireControls();
  wireSession();
  const events = new EventSource("/bench/events");
  events.addEventListener("changed", () => refresh());
});
