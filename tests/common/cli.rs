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
        (code, self.stdout, err)
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

/// The forms of `key` found in `hay`: in the clear, as AUTH PLAIN (with
/// and without authzid), as AUTH LOGIN.
pub fn leaks(hay: &[u8], key: &str) -> Vec<&'static str> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forms: [(&'static str, String); 4] = [
        ("key", key.to_string()),
        ("AUTH PLAIN", plain("resend", key)),
        (
            "AUTH PLAIN with authzid",
            b64(&format!("resend\0resend\0{key}")),
        ),
        ("AUTH LOGIN", b64(key)),
    ];
    let text = String::from_utf8_lossy(hay);
    forms
        .iter()
        .filter(|(_, f)| text.contains(f.as_str()))
        .map(|(n, _)| *n)
        .collect()
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
