"use strict";
// startMailtape(): `mailtape mock` (or `replay`) on free ports for a test,
// with its addresses, a key, RESEND_BASE_URL, and helpers over the inbox's
// HTTP API (docs/api.md) to read and wait for messages and sessions, switch
// the scenario and clear. Types: index.d.ts.

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { binaryPath } = require("./binary.js");

/** A key shaped like Resend's: the mock accepts any such key unless started with --key. */
const DEFAULT_KEY = "re_mailtape_test_0123456789";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function port(addr) {
  return addr ? Number(addr.slice(addr.lastIndexOf(":") + 1)) : undefined;
}

async function startMailtape(options = {}) {
  const mode = options.mode ?? (options.tape ? "replay" : "mock");
  const key = options.key ?? DEFAULT_KEY;
  const ownDir = options.certs ? null : fs.mkdtempSync(path.join(os.tmpdir(), "mailtape-"));
  const certs = options.certs ?? path.join(ownDir, "certs");
  const modeArgs = mode === "replay" ? [options.tape] : ["--scenario", options.scenario ?? "default"];
  const argv = [
    mode, ...modeArgs, ...(options.args ?? []), "--json",
    "--smtps", "127.0.0.1:0", "--starttls", "127.0.0.1:0", "--plain", "127.0.0.1:0",
    "--ui", "127.0.0.1:0", "--certs", certs,
  ];
  const child = spawn(options.binary ?? binaryPath(), argv, {
    cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr = [];
  readline.createInterface({ input: child.stderr }).on("line", (l) => {
    stderr.push(l);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  // The first stdout line is the JSON ready line; the rest (one JSON object
  // per event) is read and dropped so that mailtape never waits on the pipe.
  const lines = readline.createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    const timeout = options.timeout ?? 20000;
    let settled = false;
    const timer = setTimeout(() => fail(`no ready line within ${timeout} ms`), timeout);
    function fail(why) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`mailtape ${mode} did not start: ${stderr.join("\n") || why}`));
    }
    child.once("error", (e) => fail(e.message));
    // stderr's last lines (the reason) arrive just after the exit
    exited.then((code) => setTimeout(() => fail(`exited with status ${code}`), 50));
    lines.once("line", (line) => {
      if (settled) return;
      try {
        const parsed = JSON.parse(line);
        settled = true;
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        fail(`not a ready line: ${line}`);
      }
    });
  });

  const uiUrl = ready.ui;
  async function api(method, p, body) {
    const res = await fetch(uiUrl.replace(/\/$/, "") + p, {
      method,
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  async function waitFor(read, ok, timeout, what) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = await read();
      const found = ok(got);
      if (found) return found;
      if (Date.now() >= deadline) throw new Error(`${what} within ${timeout} ms`);
      await sleep(50);
    }
  }

  let stopped = null;
  const m = {
    mode,
    ready,
    host: "127.0.0.1",
    smtps: ready.smtps, starttls: ready.starttls, plain: ready.plain,
    smtpsPort: port(ready.smtps), starttlsPort: port(ready.starttls), plainPort: port(ready.plain),
    caFile: ready.ca,
    uiUrl,
    resendBaseUrl: ready.rest,
    key,
    get env() {
      const env = { RESEND_API_KEY: key, MAILTAPE_UI_URL: uiUrl };
      if (ready.rest) env.RESEND_BASE_URL = ready.rest;
      if (ready.ca) env.NODE_EXTRA_CA_CERTS = ready.ca;
      return env;
    },
    get stderr() {
      return stderr.join("\n");
    },
    async messages() {
      return (await api("GET", "/api/messages?limit=1000")).messages.reverse();
    },
    async message(id = "latest") {
      return api("GET", "/api/messages/" + encodeURIComponent(id));
    },
    async sessions() {
      return (await api("GET", "/api/sessions?limit=1000")).sessions.reverse();
    },
    async session(key) {
      return api("GET", "/api/sessions/" + Number(key));
    },
    async waitForMessage({ to, subject, timeout = 5000 } = {}) {
      const row = await waitFor(
        () => m.messages(),
        (rows) => rows.reverse().find((r) =>
          (to === undefined || r.to.some((t) => t.toLowerCase() === to.toLowerCase())) &&
          (subject === undefined || r.subject === subject)),
        timeout,
        `no message${to ? " to " + to : ""}${subject ? " with subject " + JSON.stringify(subject) : ""}`,
      );
      return m.message(row.id);
    },
    async waitForMessages(n, { timeout = 5000 } = {}) {
      return waitFor(() => m.messages(), (rows) => rows.length >= n && rows, timeout, `fewer than ${n} messages`);
    },
    async waitForSessions(n, { timeout = 5000 } = {}) {
      return waitFor(() => m.sessions(), (rows) => rows.length >= n && rows, timeout, `fewer than ${n} sessions`);
    },
    async setScenario(name) {
      return api("PUT", "/api/scenario", { scenario: name });
    },
    async scenario() {
      return (await api("GET", "/api/scenario")).scenario;
    },
    async clear() {
      await api("POST", "/api/clear");
    },
    async stop() {
      if (!stopped) {
        stopped = (async () => {
          lines.close();
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          const kill = setTimeout(() => child.kill("SIGKILL"), 10000);
          const code = await exited;
          clearTimeout(kill);
          await sleep(20); // the last stderr lines
          if (ownDir) fs.rmSync(ownDir, { recursive: true, force: true });
          return { code, stderr: stderr.join("\n") };
        })();
      }
      return stopped;
    },
  };
  return m;
}

module.exports = { startMailtape, binaryPath, DEFAULT_KEY };
