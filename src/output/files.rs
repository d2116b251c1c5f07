//! The file writer: one thread that writes tapes and the mailbox, so no
//! session ever waits on a disk. Sessions that end together are appended to
//! the tape file in one write and one flush to disk (group commit).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use crate::fsutil::{unused_path, write_atomic};
use crate::tape::{Tape, Transcript};

/// Work for the writer.
pub(crate) enum Job {
    /// A finished session: its own file in `dir`, and/or appended to `file`.
    Session {
        /// Folder for one tape per session.
        dir: Option<PathBuf>,
        /// The tape file sessions are appended to.
        file: Option<PathBuf>,
        /// The session.
        transcript: Arc<Transcript>,
    },
    /// A message for the mailbox.
    Eml {
        /// Where it goes.
        path: PathBuf,
        /// What it holds.
        bytes: Vec<u8>,
    },
    /// Answer once everything sent before is on disk.
    Flush(SyncSender<()>),
}

/// Called with how many sessions were just written.
pub(crate) type OnWritten = Arc<dyn Fn(usize) + Send + Sync>;

/// The writer thread and its queue.
pub(crate) struct Writer {
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread. `comments` head a tape file it creates.
    pub(crate) fn start(comments: Vec<String>, on_written: OnWritten) -> std::io::Result<Writer> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("mailtape-writer".into())
            .spawn(move || run(rx, comments, on_written))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a job; false if the thread is gone.
    pub(crate) fn send(&self, job: Job) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    /// Blocks until everything queued before is written.
    pub(crate) fn flush(&self) {
        let (ack, done) = sync_channel(1);
        if self.send(Job::Flush(ack)) {
            let _ = done.recv();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What could not be written is said on stderr (as a log line).
fn on_error(what: String) {
    tracing::error!("{what}");
}

fn run(rx: Receiver<Job>, comments: Vec<String>, on_written: OnWritten) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut appends: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut sessions = 0;
        let mut acks = Vec::new();
        for job in batch {
            match job {
                Job::Session {
                    dir,
                    file,
                    transcript,
                } => {
                    sessions += 1;
                    if let Some(dir) = dir {
                        let t = &transcript.meta;
                        let stem = format!("{}-s{}", t.started.replace([':', '-'], ""), t.id);
                        let text = Tape {
                            comments: vec![],
                            sessions: vec![Transcript::clone(&transcript)],
                        }
                        .to_text();
                        let path = unused_path(&dir, &stem, "tape");
                        if let Err(e) = write_atomic(&path, text.as_bytes(), false) {
                            on_error(format!("cannot write tape {}: {e}", path.display()));
                        }
                    }
                    if let Some(file) = file {
                        let block = appends.entry(file).or_default();
                        block.push('\n');
                        block.push_str(&transcript.to_tape());
                    }
                }
                Job::Eml { path, bytes } => {
                    if let Err(e) = write_atomic(&path, &bytes, false) {
                        on_error(format!("cannot write message {}: {e}", path.display()));
                    }
                }
                Job::Flush(ack) => acks.push(ack),
            }
        }
        for (path, block) in appends {
            if let Err(e) = append(&path, &block, &comments) {
                on_error(format!("cannot append to the tape {}: {e}", path.display()));
            }
        }
        if sessions > 0 {
            on_written(sessions);
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

/// Appends whole sessions in one write, then flushes them to disk. A new
/// file gets the version line and the comments first.
fn append(path: &std::path::Path, block: &str, comments: &[String]) -> std::io::Result<()> {
    let fresh = fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    let mut text = String::with_capacity(block.len() + 256);
    if fresh {
        text.push_str(
            &Tape {
                comments: comments.to_vec(),
                sessions: vec![],
            }
            .to_text(),
        );
    }
    text.push_str(block);
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// Makes an existing tape file whole again after a crash tore its last
/// session: cuts it back to the last session that parses. Returns whether
/// it changed the file; an error when even that does not parse.
pub(crate) fn repair(path: &std::path::Path) -> Result<bool, crate::tape::TapeError> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(false);
    };
    let origin = path.display().to_string();
    let err = match Tape::parse(&text, &origin) {
        Ok(_) if text.is_empty() || text.ends_with('\n') => return Ok(false),
        Ok(_) => None,
        Err(e) => Some(e),
    };
    // A torn write can only be at the end: try the text before the last session.
    if let Some(cut) = text.rfind("\n\n## session ") {
        let head = &text[..cut + 1];
        if Tape::parse(head, &origin).is_ok() {
            let _ = write_atomic(path, head.as_bytes(), false);
            return Ok(true);
        }
    }
    match err {
        Some(e) => Err(e),
        None => {
            let _ = write_atomic(path, format!("{text}\n").as_bytes(), false);
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_session_is_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tape");
        let whole = "# mailtape tape v1\n\n## session 1\nS: 220 x\n*: closed by client\n";
        std::fs::write(&p, format!("{whole}\n## session 2\n+0.01")).unwrap();
        assert_eq!(repair(&p), Ok(true));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), whole);
        assert_eq!(repair(&p), Ok(false));
        std::fs::write(&p, "not a tape").unwrap();
        assert!(repair(&p).is_err());
    }
}
