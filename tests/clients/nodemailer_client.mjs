// nodemailer as an app would use it: one message, certificate verification on.
// Settings from the environment (set by matrix.py): MX_HOST, MX_PORT,
// MX_TLS (plain | starttls | smtps), MX_MECH (PLAIN | LOGIN), MX_USER, MX_PASS,
// MX_FROM (empty: a null reverse-path, MAIL FROM:<>), MX_TO, MX_CA, MX_TIMEOUT.
// Exit 0 when the message was accepted, 1 with the error otherwise.
import fs from "node:fs";
import { createRequire } from "node:module";

// nodemailer is installed into tests/clients/node_modules by install.sh.
const require = createRequire(import.meta.url);
const nodemailer = require("nodemailer");

const env = process.env;
const tls = env.MX_TLS;
const timeout = Number(env.MX_TIMEOUT || "10") * 1000;
const transporter = nodemailer.createTransport({
  host: env.MX_HOST,
  port: Number(env.MX_PORT),
  secure: tls === "smtps",        // implicit TLS
  requireTLS: tls === "starttls", // STARTTLS or fail
  ignoreTLS: tls === "plain",     // no TLS at all
  name: "app.local",
  auth: { user: env.MX_USER, pass: env.MX_PASS, method: env.MX_MECH },
  tls: { ca: fs.readFileSync(env.MX_CA) }, // rejectUnauthorized stays true
  connectionTimeout: timeout,
  greetingTimeout: timeout,
  socketTimeout: timeout,
});

const message = {
  from: env.MX_FROM ? `Acme <${env.MX_FROM}>` : "nobody@invalid",
  to: env.MX_TO,
  subject: "Hello from nodemailer",
  text: "Hi, this is a test.\n",
};
if (!env.MX_FROM) message.envelope = { from: "", to: [env.MX_TO] };

try {
  const info = await transporter.sendMail(message);
  console.log(`sent: ${info.response}`);
} catch (e) {
  console.log(`error: code=${e.code} responseCode=${e.responseCode} command=${e.command}`);
  console.log(`response: ${e.response}`);
  console.log(`message: ${e.message}`);
  process.exit(1);
}
