// A receiving app in Node, as a Resend user writes one: every delivery is
// verified, unchanged, by Resend's Node SDK (`resend.webhooks.verify`), npm
// `svix` and npm `standardwebhooks`; then the same delivery with its body
// tampered with, and with a stale timestamp, must be refused by all three.
//
//   node webhook_receiver.mjs      # prints {"port": N}, then reads the
//                                  # secret (whsec_…) as its first stdin line
//
// Prints one JSON line per delivery:
//   {"type", "email_id", "body", "accepted": {resend, svix, standardwebhooks},
//    "tampered_refused": {...}, "stale_refused": {...}}
import http from "node:http";
import readline from "node:readline";
import { Resend } from "resend";
import { Webhook as SvixWebhook } from "svix";
import { Webhook as StandardWebhook } from "standardwebhooks";

let secret = null;
const waiting = [];
const rl = readline.createInterface({ input: process.stdin });
rl.once("line", (line) => {
  secret = line.trim();
  for (const w of waiting.splice(0)) w();
});

const resend = new Resend("re_unused_for_verify");

function verifiers(body, h) {
  return {
    resend: () =>
      resend.webhooks.verify({
        payload: body,
        headers: { id: h["svix-id"], timestamp: h["svix-timestamp"], signature: h["svix-signature"] },
        webhookSecret: secret,
      }),
    svix: () =>
      new SvixWebhook(secret).verify(body, {
        "svix-id": h["svix-id"],
        "svix-timestamp": h["svix-timestamp"],
        "svix-signature": h["svix-signature"],
      }),
    // standardwebhooks reads the webhook-* names of the same headers.
    standardwebhooks: () =>
      new StandardWebhook(secret).verify(body, {
        "webhook-id": h["svix-id"],
        "webhook-timestamp": h["svix-timestamp"],
        "webhook-signature": h["svix-signature"],
      }),
  };
}

function outcome(fns, wantOk) {
  const out = {};
  for (const [name, fn] of Object.entries(fns)) {
    try {
      fn();
      out[name] = wantOk;
    } catch (e) {
      out[name] = !wantOk;
      if (wantOk) out[name + "_error"] = String(e);
    }
  }
  return out;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const go = () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const h = req.headers;
      const accepted = outcome(verifiers(body, h), true);
      // An email's id, or a domain's (domain.* events), changed by one letter.
      const tamper = body.includes('"email_id":"') ? '"email_id":"' : '"id":"';
      const tampered = outcome(verifiers(body.replace(tamper, tamper + "x"), h), false);
      const stale = String(Number(h["svix-timestamp"]) - 3600);
      const staleHeaders = { ...h, "svix-timestamp": stale };
      const staleRefused = outcome(verifiers(body, staleHeaders), false);
      let parsed = {};
      try {
        parsed = JSON.parse(body);
      } catch {}
      process.stdout.write(
        JSON.stringify({
          type: parsed.type,
          email_id: parsed.data && (parsed.data.email_id || parsed.data.id),
          body,
          accepted,
          tampered_refused: tampered,
          stale_refused: staleRefused,
        }) + "\n",
      );
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    };
    if (secret === null) waiting.push(go);
    else go();
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
