// The Node SDK's side of rest_record.py: a few calls, and what the SDK
// answered for each (data, error, and the retry-after header), as one JSON
// line, so a recording and its replay can be compared byte for byte.
//
//   RESEND_BASE_URL=http://127.0.0.1:PORT RESEND_API_KEY=re_… node rest_record_node.mjs ok|limited|changed
import { Resend } from "resend";

const resend = new Resend(process.env.RESEND_API_KEY);
const email = (subject, from = "Acme <billing@acme.com>") => ({
  from, to: ["delivered@resend.dev"], subject, html: `<p>${subject}</p>`, text: subject,
});
const answer = (r) => ({ data: r.data, error: r.error, retryAfter: r.headers?.["retry-after"] ?? null });

const op = process.argv[2];
const out = [];
if (op === "ok") {
  const sent = await resend.emails.send(email("node sends"));
  out.push(answer(sent));
  out.push(answer(await resend.emails.send(email("node bad from", "not an address"))));
  out.push(answer(await resend.emails.get(sent.data?.id)));
} else if (op === "limited") {
  out.push(answer(await resend.emails.send(email("node too fast"))));
} else if (op === "changed") {
  out.push(answer(await resend.emails.send(email("node sends something else"))));
}
console.log(JSON.stringify(out));
