#!/usr/bin/env bash
# Installs the SMTP clients of the conformance matrix (tests/clients/matrix.py):
# Debian packages with apt-get, nodemailer with npm into tests/clients/node_modules.
# WordPress is NOT installed (it would pull in a web server and a database):
# its .deb is fetched with `apt-get download` into tests/clients/.cache, and
# matrix.py unpacks it with `dpkg-deb -x` into a temp folder on each run.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

echo "== apt-get update"
$SUDO apt-get update -qq
echo "== apt-get install (swaks, msmtp, curl, openssl, php-cli, PHPMailer, python3)"
$SUDO apt-get install -y -qq --no-install-recommends \
  swaks libio-socket-ssl-perl libnet-ssleay-perl libauthen-sasl-perl libio-socket-inet6-perl \
  msmtp curl openssl ca-certificates \
  php-cli libphp-phpmailer \
  python3 >/dev/null
# The inbox's browser test (browser_inbox.mjs): Debian's Chromium, driven by
# playwright-core (which downloads no browser of its own).
echo "== apt-get install chromium"
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
# Node: this machine's image ships nodejs with npm bundled (a repack that
# conflicts with Debian's separate npm package); install Debian's only if absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== apt-get install nodejs npm"
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

echo "== apt-get download wordpress (matrix.py unpacks it into a temp folder; never installed)"
mkdir -p .cache
rm -f .cache/wordpress_*.deb
(cd .cache && $SUDO apt-get -q -o APT::Sandbox::User=root download wordpress)
ls .cache/wordpress_*.deb

echo "== npm ci (nodemailer, Resend's Node SDK, mailpit-api, playwright-core, svix, standardwebhooks into tests/clients/node_modules)"
npm ci --no-audit --no-fund --loglevel=error

echo "== pip install resend requests (Resend's Python SDK for rest_matrix.py; requests for test_wait_python.py)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "resend>=2.52,<3"

echo "== pip install svix standardwebhooks jsonschema pyyaml (the webhook verifiers and the OpenAPI schema check, for webhooks_matrix.py)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  "svix>=1.60,<2" "standardwebhooks>=1.0,<2" "jsonschema>=4.18,<5" "pyyaml>=6,<7" "requests>=2.28,<3"

echo "== client versions"
swaks --version | head -n1
msmtp --version | head -n1
curl --version | head -n1
openssl version
php --version | head -n1
node --version
node -e 'console.log("nodemailer " + require("nodemailer/package.json").version)'
node -e 'console.log("resend (npm) " + JSON.parse(require("fs").readFileSync("node_modules/resend/package.json")).version)'
python3 -c 'import importlib.metadata as m; print("resend (PyPI) " + m.version("resend"))'
python3 -c 'import importlib.metadata as m; print(" · ".join(p + " (PyPI) " + m.version(p) for p in ("svix", "standardwebhooks", "jsonschema")))'
for pkg in mailpit-api playwright-core svix standardwebhooks; do
  node -e 'const p = process.argv[1]; console.log(p + " " + JSON.parse(require("fs").readFileSync("node_modules/" + p + "/package.json")).version)' "$pkg"
done
chromium --version 2>/dev/null | head -n1
python3 --version
