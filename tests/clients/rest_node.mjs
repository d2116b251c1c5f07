// One operation of the REST client matrix (rest_matrix.py) with the official
// Node SDK (npm `resend`), pointed at mailtape by RESEND_BASE_URL as an app
// would be. Prints one JSON line: what the SDK returned, untouched.
//
//   RESEND_BASE_URL=http://127.0.0.1:PORT RESEND_API_KEY=re_… node rest_node.mjs OP FROM TO
import { Resend } from "resend";

const [op, from, to] = process.argv.slice(2);
const resend = new Resend(process.env.RESEND_API_KEY);
const email = (subject) => ({ from, to: [to], subject, html: `<p>${subject}</p>`, text: subject });
const out = (v) => console.log(JSON.stringify(v));

switch (op) {
  case "send":
    out(await resend.emails.send(email("node send")));
    break;
  case "batch":
    out(await resend.batch.send([email("node batch 1"), email("node batch 2")]));
    break;
  case "get": {
    const sent = await resend.emails.send(email("node get"));
    out({ sent, got: await resend.emails.get(sent.data?.id) });
    break;
  }
  case "burst": {
    const all = await Promise.all([1, 2, 3].map((n) => resend.emails.send(email(`node burst ${n}`))));
    out(all);
    break;
  }
  case "idempotent": {
    const key = `welcome-${process.pid}`;
    const first = await resend.emails.send(email("node idempotent"), { idempotencyKey: key });
    const again = await resend.emails.send(email("node idempotent"), { idempotencyKey: key });
    const other = await resend.emails.send(email("node other body"), { idempotencyKey: key });
    out({ first, again, other });
    break;
  }
  case "two":
    out([await resend.emails.send(email("node 1 of 3")), await resend.emails.send(email("node 2 of 3"))]);
    break;
  case "account": {
    // Every domains and api-keys call, as an onboarding flow makes them;
    // TO is the domain. The new key's token is used, never printed.
    const s = {};
    s.domainCreate = await resend.domains.create({ name: to });
    const id = s.domainCreate.data?.id;
    s.domainGet = await resend.domains.get(id);
    s.domainList = await resend.domains.list({ limit: 10 });
    s.domainUpdate = await resend.domains.update({ id, openTracking: true, clickTracking: true });
    s.domainVerify = await resend.domains.verify(id);
    s.domainAfter = await resend.domains.get(id);
    s.keyCreate = await resend.apiKeys.create({ name: "ci", permission: "sending_access", domain_id: id });
    const token = s.keyCreate.data?.token ?? "";
    if (s.keyCreate.data) s.keyCreate.data.token = /^re_[A-Za-z0-9_]{8,}$/.test(token) ? "<a key>" : "<not a key>";
    s.keyList = await resend.apiKeys.list();
    const scoped = new Resend(token);
    const mail = { from: `billing@${to}`, to: ["delivered@resend.dev"], subject: "node key", text: "hi" };
    s.sendWithKey = await scoped.emails.send(mail);
    s.keyRemove = await resend.apiKeys.remove(s.keyCreate.data?.id);
    s.sendAfterRemove = await scoped.emails.send(mail);
    s.domainRemove = await resend.domains.remove(id);
    out(s);
    break;
  }
  case "emails": {
    // Every emails call: send (with an attachment and a tag), get, list,
    // attachments, a scheduled one moved and canceled, a batch.
    const s = {};
    const hello = Buffer.from("hello").toString("base64");
    s.send = await resend.emails.send({
      ...email("node tour"),
      attachments: [{ filename: "a.txt", content: hello }],
      tags: [{ name: "category", value: "welcome" }],
    });
    const id = s.send.data?.id;
    s.get = await resend.emails.get(id);
    s.list = await resend.emails.list({ limit: 2 });
    s.attachments = await resend.emails.attachments.list({ emailId: id });
    s.attachment = await resend.emails.attachments.get({ emailId: id, id: s.attachments.data?.data?.[0]?.id });
    s.scheduled = await resend.emails.send({ ...email("node later"), scheduledAt: "in 1 min" });
    const later = s.scheduled.data?.id;
    s.update = await resend.emails.update({ id: later, scheduledAt: "in 2 min" });
    s.cancel = await resend.emails.cancel(later);
    s.canceled = await resend.emails.get(later);
    s.batch = await resend.batch.send([email("node batch 1"), email("node batch 2")]);
    out(s);
    break;
  }
  default:
    console.error(`unknown op ${op}`);
    process.exit(2);
}
