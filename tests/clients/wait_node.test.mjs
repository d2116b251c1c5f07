// Waiting instead of sleeping, from Node (issue 26): `node --test` with
// plain fetch, an app that sends with nodemailer and with Resend's Node
// SDK, and mailtape's server-side wait. A second message goes out 200 ms
// after the first, so a wait that answered with the wrong one would fail.
//
//   MAILTAPE=target/debug/mailtape node --test tests/clients/wait_node.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const nodemailer = require("nodemailer");
const { Resend } = require("resend");

const KEY = "re_NodeWait123_abcdEFGH";
let proc;
let ready;

before(async () => {
  proc = spawn(process.env.MAILTAPE ?? "mailtape", [
    "mock", "--scenario", "unlimited", "--json", "--plain", "127.0.0.1:0",
    "--smtps", "off", "--starttls", "off", "--ui", "127.0.0.1:0",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no ready line within 10 s")), 10000);
    lines.once("line", (l) => { clearTimeout(t); resolve(JSON.parse(l)); });
  });
  ready.ui = ready.ui.replace(/\/$/, "");
  // Keep reading the live view so it never stalls.
  lines.on("line", (l) => assert.ok(!l.includes(KEY), "the key in the live view"));
});

after(() => proc?.kill("SIGTERM"));

const wait = async (params) => {
  const r = await fetch(`${ready.ui}/api/wait/message?${new URLSearchParams(params)}`);
  return { status: r.status, body: await r.json() };
};
const cursor = async () => (await (await fetch(`${ready.ui}/api/cursor`)).json()).cursor;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const smtp = () => {
  const [host, port] = ready.plain.split(":");
  return nodemailer.createTransport({
    host, port: Number(port), secure: false, ignoreTLS: true, auth: { user: "resend", pass: KEY },
  });
};
const signIn = (to, code, token) => ({
  from: "Acme <login@acme.com>", to, subject: "Your Acme sign-in code",
  text: `Hi,\n\nYour verification code is ${code}. It expires in 10 minutes.\n\nOr open https://app.acme.com/login?token=${token}\n`,
  html: `<p>Your verification code is <b>${code}</b>.</p><p><a href="https://app.acme.com/login?token=${token}">Sign in</a></p>`,
});

test("nodemailer: wait, then the code and the link of the first mail, not the one 200 ms later", async () => {
  const since = await cursor();
  const t = smtp();
  // The wait is asked before the app sends: it answers when the mail arrives.
  const waiting = wait({ query: "to:bob@acme.com", since, timeout: "10s", link: "/login" });
  await t.sendMail(signIn("bob@acme.com", "482913", "first"));
  await sleep(200);
  await t.sendMail(signIn("bob@acme.com", "775120", "second"));
  const { status, body: m } = await waiting;
  assert.equal(status, 200);
  assert.equal(m.code, "482913");
  assert.equal(m.link, "https://app.acme.com/login?token=first");
  assert.match(m.codes[0].context, /Your verification code is 482913\. It expires/);
  assert.equal(m.url, `/#/message/${m.id}`);
  const again = await wait({ query: "to:bob@acme.com", since, timeout: "5s" });
  assert.equal(again.body.id, m.id);
  const second = await wait({ query: "to:bob@acme.com", since: m.cursor, timeout: "5s" });
  assert.equal(second.body.code, "775120");
});

test("Resend's Node SDK: wait by tag and key", async () => {
  process.env.RESEND_BASE_URL = ready.rest;
  const resend = new Resend(KEY);
  const since = await cursor();
  const send = (code) => resend.emails.send({
    from: "Acme <login@acme.com>", to: ["carol@acme.com"], subject: "Confirm your email",
    text: `Your one-time code: ${code}\nConfirm: https://app.acme.com/confirm?c=${code}\n`,
    tags: [{ name: "flow", value: "signup" }],
  });
  const first = await send("246810");
  assert.equal(first.error, null);
  await sleep(200);
  await send("135790");
  const { status, body: m } = await wait({ query: `tag:flow key:${KEY}`, since, timeout: "10s", link: "/confirm" });
  assert.equal(status, 200);
  assert.equal(m.id, first.data.id);
  assert.equal(m.code, "246810");
  assert.equal(m.link, "https://app.acme.com/confirm?c=246810");
  assert.deepEqual(m.tags, ["flow=signup"]);
  assert.ok(!JSON.stringify(m).includes(KEY));
});

test("a bad wait is a 400 naming the problem; a timeout a 408 with what came", async () => {
  const bad = await wait({ query: "is:new" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, "bad query: is:new is not known; use is:read, is:unread, is:tagged, is:untagged");
  const since = await cursor();
  await smtp().sendMail(signIn("dave@acme.com", "111222", "d"));
  const late = await wait({ query: "to:erin@acme.com", since, timeout: "300ms" });
  assert.equal(late.status, 408);
  assert.equal(late.body.arrived_count, 1);
  assert.deepEqual(late.body.arrived[0].to, ["dave@acme.com"]);
});
