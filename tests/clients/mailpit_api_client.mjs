// The npm `mailpit-api` client, unchanged, against mailtape's inbox (issue
// 14): what a test suite written for Mailpit does ("did the reset mail go
// to bob, and what link is in it?"). Settings from matrix.py: MX_UI (the
// inbox URL), MX_PORT (mailtape's plain SMTP port), MX_PASS (the key).
// Exit 0 when every call answered as Mailpit would, 1 with the first
// difference otherwise.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const nodemailer = require("nodemailer");
const { MailpitClient } = require("mailpit-api");

const env = process.env;
const mailpit = new MailpitClient(env.MX_UI);
const smtp = nodemailer.createTransport({
  host: "127.0.0.1", port: Number(env.MX_PORT), secure: false, ignoreTLS: true,
  auth: { user: "resend", pass: env.MX_PASS }, connectionTimeout: 10000, socketTimeout: 10000,
});

const steps = [];
const step = async (name, fn) => {
  const r = await fn();
  steps.push(name);
  return r;
};

try {
  await step("sendMail (reset)", () => smtp.sendMail({
    from: "Acme <billing@acme.com>", to: "Bob <delivered+bob@resend.dev>", cc: "ann@acme.com",
    subject: "Reset your password",
    text: "Reset it: https://app.acme.com/reset?token=abc123\n",
    html: '<p><a href="https://app.acme.com/reset?token=abc123">Reset</a></p>',
    attachments: [{ filename: "terms.txt", content: "the terms\n" }],
  }));
  await step("sendMail (welcome)", () => smtp.sendMail({
    from: "billing@acme.com", to: "delivered+ann@resend.dev", subject: "Welcome aboard", text: "Hi Ann\n",
    headers: { "X-Tags": "onboarding" },
  }));

  const found = await step("waitForMessage", () => mailpit.waitForMessage({ query: "subject:\"Reset your password\"" }, { timeout: 5000, interval: 100 }));
  assert.equal(found.Subject, "Reset your password");
  assert.equal(found.From.Address, "billing@acme.com");
  assert.equal(found.From.Name, "Acme");
  assert.deepEqual(found.To.map((a) => a.Address), ["delivered+bob@resend.dev"]);
  assert.equal(found.To[0].Name, "Bob");
  assert.deepEqual(found.Cc.map((a) => a.Address), ["ann@acme.com"]);
  assert.match(found.Text, /https:\/\/app\.acme\.com\/reset\?token=abc123/);
  assert.match(found.HTML, /href="https:\/\/app\.acme\.com\/reset\?token=abc123"/);
  assert.equal(found.Attachments.length, 1);
  assert.equal(found.Attachments[0].FileName, "terms.txt");
  assert.ok(found.Size > 0 && found.ID && found.MessageID);

  const info = await step("getInfo", () => mailpit.getInfo());
  assert.equal(info.Messages, 2);
  assert.ok(typeof info.Version === "string" && info.RuntimeStats);
  const cfg = await step("getConfiguration", () => mailpit.getConfiguration());
  assert.equal(cfg.MessageRelay.Enabled, false);

  const list = await step("listMessages", () => mailpit.listMessages());
  assert.equal(list.messages_count, 2);
  assert.equal(list.total, 2);
  assert.equal(list.messages[0].Subject, "Welcome aboard"); // newest first
  assert.equal(list.messages[1].Attachments, 1);
  const paged = await step("listMessages(1, 1)", () => mailpit.listMessages(1, 1));
  assert.equal(paged.messages.length, 1);
  assert.equal(paged.start, 1);
  assert.equal(paged.messages[0].Subject, "Reset your password");

  const byTo = await step("searchMessages to:", () => mailpit.searchMessages({ query: "to:delivered+ann@resend.dev" }));
  assert.equal(byTo.messages_count, 1);
  assert.equal(byTo.messages[0].Subject, "Welcome aboard");

  const latest = await step("getMessageSummary()", () => mailpit.getMessageSummary());
  assert.equal(latest.Subject, "Welcome aboard");
  const headers = await step("getMessageHeaders", () => mailpit.getMessageHeaders(found.ID));
  assert.deepEqual(headers.Subject, ["Reset your password"]);
  assert.ok(headers["Message-Id"][0].includes(found.MessageID));
  const source = await step("getMessageSource", () => mailpit.getMessageSource(found.ID));
  assert.match(source, /^Subject: Reset your password\r$/m);
  const part = await step("getMessageAttachment", () => mailpit.getMessageAttachment(found.ID, found.Attachments[0].PartID));
  assert.equal(await part.text(), "the terms\n");
  const text = await step("renderMessageText", () => mailpit.renderMessageText(found.ID));
  assert.match(text, /token=abc123/);
  const html = await step("renderMessageHTML", () => mailpit.renderMessageHTML(found.ID));
  assert.match(html, /Reset<\/a>/);

  // Tags (issue 26): X-Tags on SMTP and Mailpit's tag calls are one thing.
  assert.equal(await step("setTags", () => mailpit.setTags({ IDs: [found.ID], Tags: ["reset", "Flow 1"] })), "ok");
  assert.deepEqual(await step("getTags", () => mailpit.getTags()), ["Flow 1", "onboarding", "reset"]);
  assert.equal(await step("renameTag", () => mailpit.renameTag("Flow 1", "flow-2")), "ok");
  const byTag = await step("searchMessages tag:", () => mailpit.searchMessages({ query: "tag:flow-2" }));
  assert.equal(byTag.messages_count, 1);
  assert.deepEqual(byTag.messages[0].Tags, ["flow-2", "reset"]);
  assert.deepEqual((await mailpit.searchMessages({ query: "tag:onboarding" })).messages[0].Subject, "Welcome aboard");
  assert.equal(await step("deleteTag", () => mailpit.deleteTag("reset")), "ok");
  assert.deepEqual(await mailpit.getTags(), ["flow-2", "onboarding"]);
  const tagged = await step("waitForMessage tag:", () => mailpit.waitForMessage({ query: "tag:onboarding" }, { timeout: 5000, interval: 100 }));
  assert.deepEqual(tagged.Tags, ["onboarding"]);

  assert.equal(await step("setReadStatus", () => mailpit.setReadStatus({ IDs: [found.ID], Read: true })), "ok");
  const unread = await mailpit.searchMessages({ query: "is:unread" });
  assert.equal(unread.messages_count, 1);

  assert.equal(await step("deleteMessages({IDs})", () => mailpit.deleteMessages({ IDs: [found.ID] })), "ok");
  assert.equal((await mailpit.listMessages()).messages_count, 1);
  assert.equal(await step("deleteMessagesBySearch", () => mailpit.deleteMessagesBySearch({ query: "subject:welcome" })), "ok");
  assert.equal((await mailpit.listMessages()).messages_count, 0);
  await smtp.sendMail({ from: "billing@acme.com", to: "delivered@resend.dev", subject: "one more", text: "x\n" });
  await step("waitForMessages", () => mailpit.waitForMessages({ count: 1 }, { timeout: 5000, interval: 100 }));
  assert.equal(await step("deleteMessages()", () => mailpit.deleteMessages()), "ok");
  assert.equal((await mailpit.listMessages()).messages_count, 0);
  await assert.rejects(mailpit.getMessageSummary("no-such-id"), /404/);

  console.log(`mailpit-api ${JSON.parse(readFileSync(new URL("node_modules/mailpit-api/package.json", import.meta.url))).version}: ${steps.length} calls answered as Mailpit would: ${steps.join(", ")}`);
  process.exit(0);
} catch (e) {
  console.log(`after ${steps.length} calls (${steps.join(", ")}): ${e.stack || e}`);
  process.exit(1);
}
