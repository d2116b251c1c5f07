// The inbox in a real browser (issue 14): Debian's headless Chromium driven
// by playwright-core, against `mailtape mock --ui 127.0.0.1:0`, with
// nodemailer as the app. Run by .ci/run after tests/clients/install.sh:
//
//   node tests/clients/browser_inbox.mjs --mailtape target/debug/mailtape [--screenshots docs]
//
// Checks: the page loads with no console errors; a session sent by a real
// client appears without a reload within a second; clicking a refused
// session shows the redacted transcript and the explanation; a message's
// HTML renders and a <script> in it does not run; the scenario switch
// changes the next session's reply; the key is nowhere in the page's HTML.
// The Webhooks view: a message's events (sent, delivered, then an opened
// sent from the page) with each attempt's request and response, and a
// replay that makes one more attempt; a retry waiting says when it is due.
// Writes screenshots of the session list, a refused session and the
// Webhooks view.
import { spawn } from "node:child_process";
import http from "node:http";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const nodemailer = require("nodemailer");

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const MAILTAPE = opt("--mailtape", "target/debug/mailtape");
const SHOTS = opt("--screenshots", null);
const CHROMIUM = opt("--chromium", "/usr/bin/chromium");
const KEY = "re_browser_" + Math.random().toString(16).slice(2, 14);

const work = mkdtempSync(join(tmpdir(), "mailtape-browser-"));
let server;
let context;

// The app's webhook endpoint: counts what it receives, answers 200.
const hooksGot = [];
function startReceiver() {
  return new Promise((resolve) => {
    const r = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        hooksGot.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("received by the browser test's endpoint");
      });
    });
    r.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${r.address().port}/hooks`));
    r.unref();
  });
}

function startServer(hookUrl) {
  return new Promise((resolve, reject) => {
    server = spawn(MAILTAPE, ["mock", "--json", "--ui", "127.0.0.1:0", "--plain", "127.0.0.1:0",
      "--smtps", "off", "--starttls", "off", "--certs", join(work, "certs"), "--webhook", hookUrl], { stdio: ["ignore", "pipe", "inherit"] });
    server.on("error", reject);
    const lines = createInterface({ input: server.stdout });
    lines.once("line", (l) => resolve(JSON.parse(l)));
    lines.on("line", () => {}); // keep draining the live view
  });
}

function mailer(port, user = "resend") {
  return nodemailer.createTransport({
    host: "127.0.0.1", port, secure: false, ignoreTLS: true,
    auth: { user, pass: KEY }, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000,
  });
}

const checks = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    checks.push([name, "ok", Date.now() - t0]);
    console.log(`ok    ${name}`);
  } catch (e) {
    checks.push([name, "FAILED", Date.now() - t0]);
    console.log(`FAIL  ${name}\n      ${String(e.stack || e).split("\n").filter((l) => !l.includes("\x1b[2m")).slice(0, 12).join("\n      ")}`);
  }
}

async function main() {
  const ready = await startServer(await startReceiver());
  const ui = ready.ui;
  const smtp = Number(ready.plain.split(":").pop());
  assert.ok(ui, "the ready line has ui");
  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 760 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  // What the message frame's sandbox and CSP refuse is logged as errors:
  // proof they worked, kept apart from the page's own errors.
  const blocked = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const t = m.text();
    if (/Blocked script execution in '.*\/api\/messages\/.*' because the document's frame is sandboxed/.test(t) ||
        /violates the following Content Security Policy directive: "img-src data:"/.test(t)) blocked.push(t);
    else problems.push("console: " + t);
  });
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  // The page and the message frames talk only to the inbox itself.
  const outside = [];
  page.on("requestfinished", (r) => { if (!r.url().startsWith(ui) && !r.url().startsWith("data:")) outside.push(r.url()); });

  await check("the page loads with no console errors", async () => {
    await page.goto(ui);
    await page.waitForSelector("#live.on", { timeout: 5000 });
    assert.equal(await page.title(), "mailtape inbox");
    assert.deepEqual(problems, []);
  });

  await check("a session sent by nodemailer appears without reload within a second", async () => {
    const before = await page.locator("[data-testid=session-row]").count();
    await mailer(smtp).sendMail({
      from: "Acme <billing@acme.com>", to: "delivered@resend.dev", subject: "Reset your password",
      text: "Reset it: https://app.acme.com/reset?token=abc\n",
      html: '<h1 id="hello">Reset your password</h1><p id="static">static text</p>' +
        '<script>document.getElementById("static").textContent = "SCRIPT RAN"; parent.document.title = "pwned";</script>' +
        '<img src="https://tracker.example/pixel.gif" alt="">' +
        '<a href="https://app.acme.com/reset?token=abc">Reset</a>',
    });
    const sent = Date.now();
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=session-row]").length > n, before, { timeout: 1000 });
    const took = Date.now() - sent;
    assert.ok(took < 1000, `took ${took} ms`);
    const first = page.locator("[data-testid=session-row]").first();
    assert.match(await first.innerText(), /billing@acme\.com → delivered@resend\.dev/);
    assert.match(await first.innerText(), /accepted 250/);
  });

  await check("a message's HTML renders and its <script> does not run", async () => {
    await page.click("#tab-messages");
    await page.locator("[data-testid=message-row]").first().click();
    const frame = page.frameLocator("[data-testid=html-frame]");
    await frame.locator("#hello").waitFor({ timeout: 5000 });
    assert.equal(await frame.locator("#hello").innerText(), "Reset your password");
    await page.waitForTimeout(300);
    assert.equal(await frame.locator("#static").innerText(), "static text");
    assert.equal(await page.title(), "mailtape inbox");
    assert.ok(blocked.some((b) => b.includes("Blocked script execution")), "the browser reports the script blocked");
    const sandbox = await page.getAttribute("[data-testid=html-frame]", "sandbox");
    assert.ok(!sandbox.includes("allow-scripts"), sandbox);
    const links = await page.locator("[data-testid=links] a").allInnerTexts();
    assert.ok(links.includes("https://app.acme.com/reset?token=abc"), links.join(","));
    // No remote image was fetched (the CSP blocks it until the switch is on).
    assert.ok(!outside.some((u) => u.includes("tracker.example")), outside.join(","));
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "inbox-message.png") });
    await page.click("#tab-sessions");
  });

  await check("the Webhooks view shows a message's events, attempts and a replay", async () => {
    await page.click("#tab-messages");
    await page.locator("[data-testid=message-row]").first().click();
    await page.click("[data-testid=send-opened]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=webhook-row]").length >= 3, null, { timeout: 5000 });
    const rows = await page.locator("[data-testid=webhook-row]").allInnerTexts();
    assert.match(rows.join("\n"), /email\.opened/);
    assert.match(rows.join("\n"), /email\.sent/);
    assert.match(rows.join("\n"), /email\.delivered/);
    assert.ok(await page.isVisible("[data-testid=tab-webhooks]"), "the tab is shown in mock mode");
    const endpoints = await page.innerText("[data-testid=webhook-endpoints]");
    assert.match(endpoints, /enabled http:\/\/127\.0\.0\.1:\d+\/hooks/);
    await page.waitForFunction(() => /delivered 200/.test(document.querySelector("[data-testid=webhook-row]")?.innerText), null, { timeout: 5000 });
    await page.locator("[data-testid=webhook-row]").last().click();
    await page.locator("[data-testid=attempt]").first().waitFor();
    const detail = await page.innerText("#detail");
    assert.match(detail, /svix-signature\s+v1,/);
    assert.match(detail, /received by the browser test's endpoint/);
    assert.match(await page.innerText("[data-testid=webhook-payload]"), /"type": "email.sent"/);
    assert.ok(!/whsec_/.test(await page.content()), "no secret in the page");
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "inbox-webhooks.png") });
    const before = hooksGot.length;
    await page.click("[data-testid=webhook-replay]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=attempt]").length >= 2, null, { timeout: 5000 });
    assert.equal(hooksGot.length, before + 1, "the replay reached the endpoint");
    assert.deepEqual(hooksGot.map((h) => h.type).slice(0, 3), ["email.sent", "email.delivered", "email.opened"]);
    await page.click("#tab-sessions");
  });

  await check("a refused session shows its redacted transcript and the explanation", async () => {
    await assert.rejects(
      mailer(smtp, "billing@acme.com").sendMail({ from: "billing@acme.com", to: "delivered@resend.dev", subject: "x", text: "x" }),
      /535/,
    );
    await page.waitForFunction(() => /refused at AUTH 535/.test(document.querySelector("[data-testid=session-row]")?.innerText), null, { timeout: 2000 });
    await page.locator("[data-testid=session-row]").first().click();
    const transcript = page.locator("[data-testid=transcript]");
    await transcript.waitFor();
    const text = await transcript.innerText();
    assert.match(text, /AUTH PLAIN <redacted user=billing@acme\.com key=re_…/);
    assert.match(text, /S: 535 Invalid username/);
    assert.ok(!/^null/m.test(await page.innerText("#detail")), "no stray null in the detail");
    const explain = await page.locator("[data-testid=explain]").allInnerTexts();
    assert.ok(explain.some((e) => /user name/i.test(e)), explain.join(" | "));
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "inbox-refused.png") });
  });

  await check("the scenario switch changes the next session's reply", async () => {
    await page.selectOption("[data-testid=scenario]", "sandbox");
    await page.waitForFunction(() => document.getElementById("account").textContent.includes("sandbox owner"), null, { timeout: 3000 });
    await assert.rejects(
      mailer(smtp).sendMail({ from: "onboarding@resend.dev", to: "bob@gmail.com", subject: "hi", text: "hi" }),
      /550.*You can only send testing emails to your own email address/,
    );
    await page.locator("[data-testid=session-row]").first().waitFor();
    await page.waitForFunction(() => /refused after DATA 550/.test(document.querySelector("[data-testid=session-row]").innerText), null, { timeout: 2000 });
    await page.selectOption("[data-testid=scenario]", "default");
    await page.waitForFunction(() => document.getElementById("account").textContent === "", null, { timeout: 3000 });
    await mailer(smtp).sendMail({ from: "onboarding@resend.dev", to: "bob@gmail.com", subject: "hi again", text: "hi" });
  });

  await check("the outcome filter and the search narrow the list", async () => {
    await page.selectOption("[data-testid=outcome]", "refused");
    await page.waitForFunction(() => /^1–2 of 2 /.test(document.getElementById("range").textContent), null, { timeout: 3000 })
      .catch(async (e) => { throw new Error(e.message + " range: " + await page.textContent("#range")); });
    await page.selectOption("[data-testid=outcome]", "");
    await page.fill("[data-testid=search]", "reset your");
    await page.waitForFunction(() => /^1–1 of 1/.test(document.getElementById("range").textContent), null, { timeout: 3000 });
    await page.fill("[data-testid=search]", "");
    await page.waitForFunction(() => /of 4\b/.test(document.getElementById("range").textContent), null, { timeout: 3000 });
    if (SHOTS) {
      await page.locator("[data-testid=session-row]").nth(1).click();
      await page.locator("[data-testid=transcript]").waitFor();
      await page.screenshot({ path: join(SHOTS, "inbox-sessions.png") });
    }
  });

  await check("the key is nowhere in the page's HTML", async () => {
    const b64 = Buffer.from(KEY).toString("base64");
    for (const view of ["#tab-sessions", "#tab-messages"]) {
      await page.click(view);
      await page.locator("[data-testid$=-row]").first().click();
      await page.waitForTimeout(200);
      for (const f of page.frames()) {
        const html = await f.content();
        assert.ok(!html.includes(KEY) && !html.includes(b64), "the key in " + f.url());
      }
    }
  });

  await check("a deep link opens a message with its code; the key filter shows one app's mail", async () => {
    const other = "re_otherapp_" + Math.random().toString(16).slice(2, 12);
    const since = (await (await fetch(`${ui}api/cursor`)).json()).cursor;
    await nodemailer.createTransport({ host: "127.0.0.1", port: smtp, secure: false, ignoreTLS: true,
      auth: { user: "resend", pass: other } }).sendMail({
      from: "login@acme.com", to: "delivered@resend.dev", subject: "Your sign-in code",
      text: "Your verification code is 482913.\nhttps://app.acme.com/login?t=1\n" });
    const m = await (await fetch(`${ui}api/wait/message?query=subject:sign-in&since=${since}&timeout=5s`)).json();
    assert.equal(m.code, "482913");
    await page.goto(ui.replace(/\/$/, "") + m.url);
    await page.locator("[data-testid=codes]").waitFor({ timeout: 5000 });
    assert.match(await page.locator("[data-testid=codes]").innerText(), /482913 · text · .*verification code is 482913/);
    // The list of keys follows the live events: the two apps, and "every key".
    await page.waitForFunction(() => document.querySelectorAll("#key-filter option").length === 3, null, { timeout: 3000 });
    await page.selectOption("#key-filter", m.key);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=message-row]").length === 1, null, { timeout: 3000 });
    assert.match(await page.locator("[data-testid=row-code]").first().innerText(), /482913/);
    const html = await page.content();
    assert.ok(!html.includes(other), "the other key in the page");
    await page.selectOption("#key-filter", "");
    assert.deepEqual(problems, []);
  });

  await check("a phone-sized window shows the list, then the detail", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.click("#tab-sessions");
    assert.ok(await page.locator("#list-pane").isVisible());
    await page.locator("[data-testid=session-row]").first().click();
    await page.locator("[data-testid=transcript]").waitFor();
    assert.ok(!(await page.locator("#list-pane").isVisible()));
    await page.click("#back");
    assert.ok(await page.locator("#list-pane").isVisible());
    await page.setViewportSize({ width: 1280, height: 760 });
  });

  await check("a waiting retry says when it is due", async () => {
    // An endpoint on a port nothing listens on: refused, retried in 5 s.
    const closed = await new Promise((resolve) => {
      const s = http.createServer();
      s.listen(0, "127.0.0.1", () => { const port = s.address().port; s.close(() => resolve(port)); });
    });
    const add = await fetch(ui.replace(/\/$/, "") + "/api/webhooks", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ endpoint: `http://127.0.0.1:${closed}/down`, events: ["email.sent"] }),
    });
    assert.equal(add.status, 201);
    const { id } = await add.json();
    await mailer(smtp).sendMail({ from: "Acme <a@acme.com>", to: "delivered@resend.dev", subject: "retry", text: "x" });
    await page.click("#tab-webhooks");
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=webhook-row]")].some((r) => /next attempt/.test(r.innerText)), null, { timeout: 5000 });
    await page.locator("[data-testid=webhook-row]", { hasText: "next attempt" }).first().click();
    await page.locator("[data-testid=attempt]").first().waitFor();
    const detail = await page.innerText("#detail");
    assert.match(detail, /next attempt/);
    assert.match(detail, /retry 2 of 8 at \d{4}-\d\d-\d\dT/);
    await fetch(ui.replace(/\/$/, "") + `/api/webhooks/endpoints/${id}`, { method: "DELETE" });
    await page.click("#tab-sessions");
  });

  await check("Clear all empties both lists", async () => {
    page.once("dialog", (d) => d.accept());
    await page.click("[data-testid=clear]");
    await page.waitForFunction(() => document.getElementById("counts").textContent.startsWith("0 sessions · 0 messages"), null, { timeout: 3000 });
    assert.equal(await page.locator("[data-testid=session-row]").count(), 0);
  });

  await check("no console errors at the end either, nothing fetched from outside", async () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(outside, []);
  });
}

let failed = true;
try {
  await main();
  failed = checks.some(([, r]) => r !== "ok");
} catch (e) {
  console.log("FAIL  " + (e.stack || e));
} finally {
  if (context) await context.close().catch(() => {});
  if (server) server.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
console.log(`${checks.filter(([, r]) => r === "ok").length} passed, ${checks.filter(([, r]) => r !== "ok").length} failed`);
process.exit(failed ? 1 : 0);
