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
  default:
    console.error(`unknown op ${op}`);
    process.exit(2);
}
