"use strict";
// Which binary to run: $MAILTAPE_BINARY, else the one in the platform
// package npm installed beside this one (optionalDependencies, each with
// "os" and "cpu", so npm installs only the one that fits: esbuild's and
// Biome's way of shipping a native binary).

const PLATFORMS = {
  "linux x64": "@mailtape/linux-x64",
  "linux arm64": "@mailtape/linux-arm64",
  "darwin x64": "@mailtape/darwin-x64",
  "darwin arm64": "@mailtape/darwin-arm64",
  "win32 x64": "@mailtape/win32-x64",
};

function binaryPath() {
  if (process.env.MAILTAPE_BINARY) return process.env.MAILTAPE_BINARY;
  const key = `${process.platform} ${process.arch}`;
  const pkg = PLATFORMS[key];
  if (!pkg) {
    throw new Error(`mailtape: no binary is built for ${key}; build one with cargo and set MAILTAPE_BINARY=/path/to/mailtape`);
  }
  const exe = process.platform === "win32" ? "mailtape.exe" : "mailtape";
  try {
    return require.resolve(`${pkg}/bin/${exe}`);
  } catch {
    throw new Error(
      `mailtape: the package ${pkg} is not installed (npm installs it with mailtape unless optional dependencies are off: ` +
        `reinstall without --omit=optional / --no-optional), or set MAILTAPE_BINARY=/path/to/mailtape`,
    );
  }
}

module.exports = { binaryPath, PLATFORMS };
