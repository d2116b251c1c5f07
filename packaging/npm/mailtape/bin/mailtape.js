#!/usr/bin/env node
"use strict";
// `npx mailtape …` / `mailtape …`: runs the platform's binary with the same
// arguments, passes on the signals that stop it (Ctrl-C, a test runner's
// SIGTERM) and exits with its status.

const { spawn } = require("node:child_process");
const { binaryPath } = require("../binary.js");

let bin;
try {
  bin = binaryPath();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
const child = spawn(bin, process.argv.slice(2), { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (e) => {
  console.error(`mailtape: cannot run ${bin}: ${e.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    // die of the same signal, as a shell expects
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
