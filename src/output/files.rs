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

use crate::fsutil::{NewFile, create_new_files, write_atomic};
use crate::tape::{Tape, Transcript};

/// What a job's owner is told once it is done: the path of the file it
/// made (a mailbox message, a session's own tape), or why it failed.
pub(crate) type Ack = tokio::sync::oneshot::Sender<Result<Option<PathBuf>, SaveError>>;

/// A file that could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveError {
    /// What could not be written, e.g. `message mailbox/ID.eml`.
    pub what: String,
    /// The kind of failure.
    pub kind: std::io::ErrorKind,
    /// The system's words for it.
    pub error: String,
}

impl SaveError {
    fn new(what: String, e: &std::io::Error) -> SaveError {
        SaveError {
            what,
            kind: e.kind(),
            error: e.to_string(),
        }
    }

    /// Whether the disk (or the user's quota on it) is full: worth `452`
    /// (insufficient storage) rather than `451`.
    pub fn is_full(&self) -> bool {
        matches!(
            self.kind,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    }
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.what, self.error)
    }
}

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
        /// Told once it is on disk.
        ack: Option<Ack>,
    },
    /// A message for the mailbox: `stem.eml` in `dir`, or the next free name.
    Eml {
        /// The mailbox.
        dir: PathBuf,
        /// The name (the message id).
        stem: String,
        /// What it holds.
        bytes: Vec<u8>,
        /// Told once it is on disk.
        ack: Option<Ack>,
    },
    /// A tape file of its own that is not a session of this server (a
    /// webhook attempt): `stem.tape` in `dir`, or the next free name. Not
    /// counted as a finished session.
    Tape {
        /// The folder.
        dir: PathBuf,
        /// The name.
        stem: String,
        /// What it holds (made into text here, off its owner's path).
        tape: Tape,
        /// Told whether it was written.
        done: Option<Done>,
    },
    /// Answer once everything sent before is on disk.
    Flush(SyncSender<()>),
}

/// Told whether a [`Job::Tape`] was written.
pub(crate) type Done = Box<dyn FnOnce(bool) + Send>;

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

/// One job of a batch: whom to tell, and how it went so far.
struct Outcome {
    ack: Option<Ack>,
    result: Result<Option<PathBuf>, SaveError>,
}

/// A file of the batch to create, and the job it belongs to.
struct Planned {
    dir: PathBuf,
    stem: String,
    ext: &'static str,
    bytes: Vec<u8>,
    what: &'static str,
    job: usize,
}

fn run(rx: Receiver<Job>, comments: Vec<String>, on_written: OnWritten) {
    while let Ok(first) = rx.recv() {
        // Group commit: everything queued meanwhile is written together,
        // each folder and tape file flushed to disk once for all of it.
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
        let mut planned: Vec<Planned> = Vec::new();
        let mut appends: BTreeMap<PathBuf, (String, Vec<usize>)> = BTreeMap::new();
        let mut sessions = 0;
        let mut acks = Vec::new();
        let mut dones: Vec<(usize, Done)> = Vec::new();
        for job in batch {
            let at = outcomes.len();
            match job {
                Job::Session {
                    dir,
                    file,
                    transcript,
                    ack,
                } => {
                    sessions += 1;
                    outcomes.push(Outcome {
                        ack,
                        result: Ok(None),
                    });
                    if let Some(dir) = dir {
                        let t = &transcript.meta;
                        planned.push(Planned {
                            dir,
                            stem: format!("{}-s{}", t.started.replace([':', '-'], ""), t.id),
                            ext: "tape",
                            bytes: Tape {
                                comments: vec![],
                                sessions: vec![Transcript::clone(&transcript)],
                            }
                            .to_text()
                            .into_bytes(),
                            what: "tape",
                            job: at,
                        });
                    }
                    if let Some(file) = file {
                        let (block, owners) = appends.entry(file).or_default();
                        block.push('\n');
                        block.push_str(&transcript.to_tape());
                        owners.push(at);
                    }
                }
                Job::Eml {
                    dir,
                    stem,
                    bytes,
                    ack,
                } => {
                    outcomes.push(Outcome {
                        ack,
                        result: Ok(None),
                    });
                    planned.push(Planned {
                        dir,
                        stem,
                        ext: "eml",
                        bytes,
                        what: "message",
                        job: at,
                    });
                }
                Job::Tape {
                    dir,
                    stem,
                    tape,
                    done,
                } => {
                    outcomes.push(Outcome {
                        ack: None,
                        result: Ok(None),
                    });
                    planned.push(Planned {
                        dir,
                        stem,
                        ext: "tape",
                        bytes: tape.to_text().into_bytes(),
                        what: "tape",
                        job: at,
                    });
                    if let Some(done) = done {
                        dones.push((at, done));
                    }
                }
                Job::Flush(ack) => acks.push(ack),
            }
        }
        let files: Vec<NewFile<'_>> = planned
            .iter()
            .map(|p| NewFile {
                dir: &p.dir,
                stem: &p.stem,
                ext: p.ext,
                bytes: &p.bytes,
            })
            .collect();
        for (p, made) in planned.iter().zip(create_new_files(&files)) {
            let result = &mut outcomes[p.job].result;
            match made {
                Ok(path) => {
                    if result.is_ok() {
                        *result = Ok(Some(path));
                    }
                }
                Err(e) => {
                    let what = format!("{} {}/{}.{}", p.what, p.dir.display(), p.stem, p.ext);
                    *result = Err(SaveError::new(what, &e));
                }
            }
        }
        for (path, (block, owners)) in appends {
            if let Err(e) = append(&path, &block, &comments) {
                let err = SaveError::new(format!("to the tape {}", path.display()), &e);
                for o in owners {
                    outcomes[o].result = Err(err.clone());
                }
            }
        }
        if sessions > 0 {
            on_written(sessions);
        }
        for o in &mut outcomes {
            if let Err(e) = &o.result {
                // Said on stderr whatever the live view; the owner says it
                // live too, and answers the client.
                tracing::error!("{e}");
            }
            if let Some(ack) = o.ack.take() {
                let _ = ack.send(o.result.clone());
            }
        }
        for (at, done) in dones {
            done(outcomes.get(at).is_some_and(|o| o.result.is_ok()));
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
/// it changed the file; an error when even that does not parse, or it is
/// not text of bounded lines (`--tape /dev/zero`). A file that cannot be
/// opened is left to the first append to report.
pub(crate) fn repair(path: &std::path::Path) -> Result<bool, crate::Error> {
    let origin = path.display().to_string();
    let Ok(file) = fs::File::open(path) else {
        return Ok(false);
    };
    let text = crate::tape::read::text(file, &origin)?;
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
        Some(e) => Err(e.into()),
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
        assert!(matches!(repair(&p), Ok(true)));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), whole);
        assert!(matches!(repair(&p), Ok(false)));
        std::fs::write(&p, "not a tape").unwrap();
        assert!(repair(&p).is_err());
    }
}
