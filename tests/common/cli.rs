//! Driving the `mailtape` binary: spawn it, read its stdout and stderr line
//! by line, stop it with SIGTERM, talk SMTP to it, and search what it wrote
//! for keys.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;

pub const BIN: &str = env!("CARGO_BIN_EXE_mailtape");

/// The binary with the inbox off unless a test asks for it with `--ui`:
/// tests run in parallel, and no two may want port 8025.
pub fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("MAILTAPE_UI", "off");
    cmd
}

pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    err_lines: mpsc::Receiver<String>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

/// Sends each line `from` yields into a channel, on a thread of its own.
fn line_reader(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Running::start_with(&args, bin())
    }

    /// Starts `cmd` (the binary, with its environment set) with `args`.
    pub fn start_with(args: &[String], mut cmd: Command) -> Running {
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .expect("spawn mailtape");
        let lines = line_reader(child.stdout.take().expect("stdout"));
        let err_lines = line_reader(child.stderr.take().expect("stderr"));
        Running {
            child,
            lines,
            err_lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    pub fn line(&mut self) -> String {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line on stdout");
        self.stdout.push(l.clone());
        l
    }

    /// Reads stdout until a line satisfies `f`.
    pub fn until(&mut self, f: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self.line();
            if f(&l) {
                return l;
            }
        }
    }

    /// Reads stderr (the banner, warnings) until a line satisfies `f`.
    pub fn err_until(&mut self, f: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self
                .err_lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("a line on stderr; so far {:?}", self.stderr));
            self.stderr.push(l.clone());
            if f(&l) {
                return l;
            }
        }
    }

    /// The plain listener's address, from the banner on stderr.
    pub fn banner_plain_addr(&mut self) -> String {
        let row = self.err_until(|l| l.trim_start().starts_with("plain "));
        let addr = row.split_whitespace().nth(1).expect("address").to_string();
        self.err_until(|l| l.trim_start().starts_with("login"));
        addr
    }

    /// Sends SIGTERM and waits: the exit status, all of stdout, all of stderr.
    pub fn term(mut self) -> (i32, Vec<String>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = wait_exit(&mut self.child);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stdout.push(l);
        }
        while let Ok(l) = self.err_lines.recv_timeout(Duration::from_secs(2)) {
            self.stderr.push(l);
        }
        let mut err = self.stderr.join("\n");
        if !err.is_empty() {
            err.push('\n');
        }
        (code, std::mem::take(&mut self.stdout), err)
    }
}

/// A test that panics must not leave its mailtape running (holding ports
/// that later tests need).
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn wait_exit(child: &mut Child) -> i32 {
    for _ in 0..200 {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("mailtape did not exit within 10 s");
}

/// A blocking SMTP client for the plain listener.
pub struct Smtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Smtp {
    pub fn connect(addr: &str) -> Smtp {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Smtp {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return all.trim_end().to_string();
            }
        }
    }
    /// Writes bytes as they are, without reading.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write");
    }
    pub fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
}

pub fn plain(user: &str, key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{key}"))
}

/// Every file under `dir`, concatenated.
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

/// The forms of `key` found in `hay` (issue 16): any 10 characters of it
/// in the clear (so a cut or a prefixed key counts); any 16 characters of
/// its base64 at each of the three byte alignments, with line breaks and
/// spaces taken out (a wrapped attachment, an AUTH PLAIN payload with a
/// space in it, JSON's `\r\n`); and the same clear search in the text
/// decoded as quoted-printable (`re=5F…`, soft line breaks) and as RFC 2047
/// encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`, folded or not).
pub fn leaks(hay: &[u8], key: &str) -> Vec<&'static str> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let clear: Vec<&[u8]> = key.as_bytes().windows(10).collect();
    let has_clear = |h: &[u8]| clear.iter().any(|w| contains(h, w));
    let mut found = Vec::new();
    if has_clear(hay) {
        found.push("key");
    }
    // The base64 characters that depend on the key's bytes only, at each
    // alignment: a prefix of 0, 1 or 2 bytes, the first and last
    // characters (shared with neighbours) dropped.
    let mut cores = Vec::new();
    for pad in 0..3usize {
        let mut bytes = vec![0u8; pad];
        bytes.extend_from_slice(key.as_bytes());
        let enc = b64.encode(&bytes);
        let from = (pad * 8).div_ceil(6) + 1;
        let to = (pad + key.len()) * 8 / 6;
        cores.push(enc.as_bytes()[from..to].to_vec());
    }
    let squeezed = squeeze(hay);
    if cores
        .iter()
        .any(|c| c.windows(16).any(|w| contains(&squeezed, w)))
    {
        found.push("base64");
    }
    if has_clear(&quoted_printable(hay)) {
        found.push("quoted-printable");
    }
    if has_clear(&encoded_words(hay)) {
        found.push("RFC 2047");
    }
    found
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `hay` without line breaks, spaces, tabs, and JSON's escaped `\r`/`\n`.
fn squeeze(hay: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        match hay[i] {
            b'\r' | b'\n' | b' ' | b'\t' => i += 1,
            b'\\' if matches!(hay.get(i + 1), Some(b'r' | b'n' | b't')) => i += 2,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `hay` decoded as quoted-printable: `=XX` is a byte, `=` at a line's end
/// (a soft break, also JSON-escaped) is nothing.
fn quoted_printable(hay: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i] == b'=' {
            let rest = &hay[i + 1..];
            if let [a, b, ..] = rest
                && let (Some(a), Some(b)) = (hex(*a), hex(*b))
            {
                out.push((a * 16 + b) as u8);
                i += 3;
                continue;
            }
            let soft = [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n"]
                .into_iter()
                .find(|e| rest.starts_with(e));
            if let Some(e) = soft {
                i += 1 + e.len();
                continue;
            }
        }
        out.push(hay[i]);
        i += 1;
    }
    out
}

/// The text of every RFC 2047 encoded word in `hay`, decoded and
/// concatenated (adjacent words make one text, as a reader shows them).
fn encoded_words(hay: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = String::from_utf8_lossy(hay);
    let mut out = Vec::new();
    let mut rest = &text[..];
    while let Some(at) = rest.find("=?") {
        rest = &rest[at + 2..];
        let mut parts = rest.splitn(4, '?');
        let (Some(_charset), Some(enc), Some(payload)) = (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let Some(after) = parts.next().and_then(|a| a.strip_prefix('=')) else {
            continue;
        };
        match enc {
            "B" | "b" => out.extend(b64.decode(payload).unwrap_or_default()),
            "Q" | "q" => out.extend(quoted_printable(payload.replace('_', " ").as_bytes())),
            _ => {}
        }
        rest = after;
    }
    out
}

/// `CMD` with every listener on a free port and certificates under `dir`;
/// the inbox is off (tests run in parallel: no two may want port 8025).
pub fn ephemeral(cmd: &str, dir: &Path) -> Vec<String> {
    vec![
        cmd.into(),
        "--ui".into(),
        "off".into(),
        "--smtps".into(),
        "127.0.0.1:0".into(),
        "--starttls".into(),
        "127.0.0.1:0".into(),
        "--plain".into(),
        "127.0.0.1:0".into(),
        "--certs".into(),
        dir.join("certs").display().to_string(),
    ]
}

/// `mock` with only the plain listener, on a free port, and `more` flags;
/// the inbox is off (no two tests may want port 8025).
pub fn plain_only(dir: &Path, more: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["mock", "--ui", "off", "--smtps", "off", "--starttls", "off"]
        .iter()
        .chain(&["--plain", "127.0.0.1:0", "--certs"])
        .map(|s| s.to_string())
        .collect();
    args.push(dir.join("certs").display().to_string());
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

/// Whether the argument parser takes a command line (what follows
/// `mailtape`, a `# comment` and any shell redirection or pipe cut off):
/// with `--help` put last, clap checks the flags and values and stops.
/// The error is the parser's first line.
pub fn parses(args: &str) -> Result<(), String> {
    let words: Vec<&str> = args
        .split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .take_while(|w| !matches!(*w, "<" | ">" | "|" | "&&" | "2>&1"))
        .collect();
    let out = Command::new(BIN)
        .args(&words)
        .arg("--help")
        .output()
        .expect("run mailtape");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .to_string())
    }
}

/// The lock on mailtape's default ports (2465, 2587, 2525, 8025, and the
/// README recipe's 3465), held while a test uses them as a user would:
/// tests that run the README as written take it in turn, across test
/// threads and across every checkout and test process on this machine
/// (`flock` on a file in the temporary folder; released when dropped).
pub struct DefaultPorts(#[allow(dead_code)] std::fs::File);

pub fn default_ports() -> DefaultPorts {
    let path = std::env::temp_dir().join("mailtape-default-ports.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("the default ports' lock file");
    file.lock().expect("lock the default ports");
    DefaultPorts(file)
}

/// Holds port 8025 as Mailpit (or another mailtape) would, for as long as
/// it lives: bound here, or already held by another process (then nothing
/// to do: it is taken either way).
pub fn hold_8025() -> Option<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:8025").ok()
}
