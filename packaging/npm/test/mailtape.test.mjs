// The npm package as a user's project installs it: the `mailtape` bin from
// the platform package, and startMailtape() with nodemailer over SMTP and
// Resend's Node SDK over REST. Run by .ci/run in a fresh npm project:
//   node --test mailtape.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import nodemailer from "nodemailer";
import { Resend } from "resend";
import { startMailtape, binaryPath } from "mailtape";

test("the bin prints the version", () => {
  const out = execFileSync("npx", ["--no-install", "mailtape", "--version"], { encoding: "utf8" });
  assert.match(out, /^mailtape \d+\.\d+\.\d+\n$/);
  // the platform package's binary, not one on PATH
  assert.match(binaryPath(), /node_modules[\\/]@mailtape[\\/][a-z0-9]+-[a-z0-9]+[\\/]bin[\\/]mailtape(\.exe)?$/);
});

test("nodemailer over implicit TLS: delivered, then the sandbox's 550", async (t) => {
  const m = await startMailtape();
  t.after(() => m.stop());
  const transport = nodemailer.createTransport({
    host: m.host, port: m.smtpsPort, secure: true,
    auth: { user: "resend", pass: m.key },
    tls: { ca: fs.readFileSync(m.caFile) }, // verification stays on
  });
  const info = await transport.sendMail({
    from: "Acme <billing@acme.com>", to: "delivered@resend.dev",
    subject: "Your invoice", text: "Hi, your invoice is at https://acme.com/invoices/42",
  });
  assert.match(info.response, /^250 OK /);
  const msg = await m.waitForMessage({ to: "delivered@resend.dev" });
  assert.equal(msg.subject, "Your invoice");
  assert.deepEqual(msg.links, ["https://acme.com/invoices/42"]);

  await m.setScenario("sandbox");
  await assert.rejects(
    transport.sendMail({ from: "onboarding@resend.dev", to: "someone@gmail.com", subject: "Hi", text: "Hi" }),
    (e) => e.responseCode === 550 && e.response.includes("You can only send testing emails to your own email address"),
  );
  const sessions = await m.waitForSessions(2);
  assert.deepEqual(sessions.map((s) => [s.outcome, s.code]), [["accepted", 250], ["refused_data", 550]]);
  assert.ok(!(await m.session(sessions[0].key)).text.includes(m.key), "the key is redacted");
  transport.close();
});

test("Resend's SDK over REST: delivered and read back, the sandbox's 403, clear", async (t) => {
  const m = await startMailtape();
  t.after(() => m.stop());
  process.env.RESEND_BASE_URL = m.resendBaseUrl; // read when the client is made
  const resend = new Resend(m.key);
  const { data, error } = await resend.emails.send({
    from: "Acme <billing@acme.com>", to: ["delivered@resend.dev"], subject: "Hi from the SDK", html: "<p>Hello over REST</p>",
  });
  assert.equal(error, null);
  const msg = await m.waitForMessage({ subject: "Hi from the SDK" });
  assert.equal(msg.protocol, "http");
  assert.equal((await resend.emails.get(data.id)).data.last_event, "delivered");

  await m.setScenario("sandbox");
  const refused = await resend.emails.send({ from: "onboarding@resend.dev", to: "someone@gmail.com", subject: "Hi", text: "Hi" });
  assert.equal(refused.data, null);
  assert.equal(refused.error.statusCode, 403);
  assert.match(refused.error.message, /^You can only send testing emails to your own email address/);

  await m.clear();
  assert.deepEqual(await m.messages(), []);
  const { code } = await m.stop();
  assert.equal(code, 0);
});

test("a replay a client departs from exits 1", async () => {
  const m = await startMailtape({ tape: "builtin:wrong-key" });
  const transport = nodemailer.createTransport({ host: m.host, port: m.plainPort, secure: false, ignoreTLS: true });
  await assert.rejects(transport.sendMail({ from: "a@acme.com", to: "b@acme.com", text: "x" }));
  transport.close();
  const { code, stderr } = await m.stop();
  assert.equal(code, 1, stderr);
});
