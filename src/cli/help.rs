//! The examples that end each subcommand's `--help`: two or three command
//! lines a newcomer can paste, each with what it does.

pub(crate) const MOCK: &str = "\
Examples:
  mailtape mock                               # :2465 implicit TLS, :2587 STARTTLS, :2525 plain
  mailtape mock --scenario sandbox            # a new account: only the owner may receive
  mailtape mock --plain 127.0.0.1:0 --json    # any free port; the JSON ready line says which";

pub(crate) const RECORD: &str = "\
Examples:
  mailtape record --tape resend.tape          # in front of smtp.resend.com:465, your real key
  mailtape record --tape resend.tape --upstream smtp.resend.com:587    # STARTTLS to the relay";

pub(crate) const REPLAY: &str = "\
Examples:
  mailtape replay --list                      # the shipped tapes
  mailtape replay builtin:sandbox             # answer as the sandbox account did
  mailtape replay resend.tape --strict        # every session must be played, as recorded";

pub(crate) const SHOW: &str = "\
Examples:
  mailtape show builtin:sandbox               # a shipped tape, with what each failure means
  mailtape show tapes/ --no-explain           # every .tape file of a folder
  mailtape show - --json < resend.tape        # from stdin, as JSON";

pub(crate) const CHECK: &str = "\
Examples:
  mailtape check                              # smtp.resend.com:465; the key from RESEND_API_KEY
  mailtape check --host 127.0.0.1 --port 2587 --ca-file certs/ca.pem    # the local mock
  mailtape check --port 587 --no-send         # STARTTLS, log in, send nothing";

pub(crate) const BENCH: &str = "\
Examples:
  mailtape bench                              # 127.0.0.1:2525; run mock --scenario unlimited
  mailtape bench --connections 50 --messages 20000 --per-connection 20 --pipeline
  mailtape bench --port 2465 --tls implicit --ca-file certs/ca.pem";

pub(crate) const PROFILE: &str = "\
Examples:
  mailtape profile                            # every reply, its code, text and source
  mailtape profile --variant wire             # the wording seen on the wire
  mailtape profile --profile my-profile.toml --json";

pub(crate) const WEBHOOKS: &str = "\
Examples:
  mailtape webhooks                                        # the events and what sends each
  mailtape mock --webhook http://127.0.0.1:4000/hooks      # every event, a new whsec_ secret
  mailtape mock --webhook http://127.0.0.1:4000/hooks,email.bounced --webhook-retry-scale 0.001";
pub(crate) const WAIT: &str = "\
Examples:
  mailtape wait --to bob@acme.com --print code            # the newest mail to bob, else the next: its code
  mailtape wait --to bob@acme.com --link /reset --print link --since now   # the next one's reset link
  mailtape wait --session --query outcome:refused --timeout 5s --json     # a refused session, as JSON
Exit status: 0 found, 124 timed out, 3 found without the code or link asked for, 1 error.";
