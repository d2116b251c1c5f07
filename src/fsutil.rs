//! Writing files so that a crash never leaves a half-written one behind.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over the target. `private` gives the file mode
/// 0600 (for private keys) from the moment it exists.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = temp_path(dir, &name.to_string_lossy());
    let result = write_temp(&tmp, bytes, private).and_then(|()| {
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A temporary name for `name` in `dir`: `.NAME.PID.N.tmp` (what
/// [`remove_stale_temps`] recognises).
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique()))
}

/// Creates `tmp` (it must not exist), writes `bytes` and flushes them to
/// disk; removes it again on failure. `private` gives it mode 0600.
fn write_temp(tmp: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let result = create_temp(tmp, bytes, private).and_then(|file| file.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Creates `tmp` (it must not exist) and writes `bytes`, not yet flushed;
/// removes it again on failure.
fn create_temp(tmp: &Path, bytes: &[u8], private: bool) -> io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = opts.open(tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        Ok(file)
    });
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Removes temporary files a crashed mailtape left in `dir` (from
/// [`write_atomic`]: `.NAME.PID.N.tmp`), when their process is gone. Only
/// where the process table can be read (Linux); elsewhere it leaves them.
pub fn remove_stale_temps(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
            continue;
        };
        // NAME.PID.N: the PID is the second field from the end.
        let mut fields = inner.rsplit('.');
        let (Some(_n), Some(pid)) = (fields.next(), fields.next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !proc.join(pid).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// A file to create under a name not taken yet: `stem.ext` in `dir`, else
/// `stem-2.ext`, `stem-3.ext`, …
pub struct NewFile<'a> {
    /// The folder.
    pub dir: &'a Path,
    /// The name without the extension.
    pub stem: &'a str,
    /// The extension.
    pub ext: &'a str,
    /// What the file holds.
    pub bytes: &'a [u8],
}

/// Creates each file whole and on disk, never over an existing one — not
/// even one another process creates at the same moment (issue 16: two
/// mailtapes sharing a folder). Each is written to a temporary file and
/// flushed, then linked to the first free name (a link fails if the name
/// exists, where a rename would replace it), and the temporary removed;
/// then each folder is flushed once for all of its files (group commit).
/// One result per file: the path it got.
pub fn create_new_files(files: &[NewFile<'_>]) -> Vec<io::Result<PathBuf>> {
    // Written first, all of them; then flushed to disk side by side: the
    // file system commits concurrent fsyncs together (ext4's journal, XFS's
    // log), where one after the other each would wait for a commit of its own.
    let written: Vec<io::Result<(PathBuf, fs::File)>> = files
        .iter()
        .map(|f| {
            let tmp = temp_path(f.dir, &format!("{}.{}", f.stem, f.ext));
            create_temp(&tmp, f.bytes, false).map(|file| (tmp, file))
        })
        .collect();
    let synced = in_parallel(written, |w| {
        let (tmp, file) = w?;
        match file.sync_all() {
            Ok(()) => Ok(tmp),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    });
    let mut results: Vec<io::Result<PathBuf>> = files
        .iter()
        .zip(synced)
        .map(|(f, r)| {
            let tmp = r?;
            let made = link_new(&tmp, f.dir, f.stem, f.ext);
            let _ = fs::remove_file(&tmp);
            made
        })
        .collect();
    let mut dirs: Vec<&Path> = files.iter().map(|f| f.dir).collect();
    dirs.sort();
    dirs.dedup();
    // The names are only durable once their folder is.
    let dir_synced = in_parallel(dirs.clone(), |d| fs::File::open(d)?.sync_all());
    for (dir, synced) in dirs.into_iter().zip(dir_synced) {
        if let Err(e) = synced {
            for (f, r) in files.iter().zip(results.iter_mut()) {
                if f.dir == dir && r.is_ok() {
                    *r = Err(io::Error::new(e.kind(), e.to_string()));
                }
            }
        }
    }
    results
}

/// Most threads flushing files at once.
const SYNC_THREADS: usize = 16;

/// `f` over every item, on up to [`SYNC_THREADS`] threads (on this one for a
/// single item); the results in order.
fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let threads = items.len().min(SYNC_THREADS);
    let mut lanes: Vec<Vec<(usize, T)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        lanes[i % threads].push((i, item));
    }
    let f = &f;
    let run = move |lane: Vec<(usize, T)>| -> Vec<(usize, R)> {
        lane.into_iter().map(|(i, t)| (i, f(t))).collect()
    };
    let mut out: Vec<(usize, R)> = std::thread::scope(|s| {
        let mut done = Vec::new();
        let mut handles = Vec::new();
        for lane in lanes {
            // A lane whose thread cannot be made (out of threads) runs here.
            let (tx, rx) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new().spawn_scoped(s, move || {
                let lane: Vec<(usize, T)> = rx.recv().unwrap_or_default();
                run(lane)
            });
            match spawned {
                Ok(h) => {
                    let _ = tx.send(lane);
                    handles.push(h);
                }
                Err(_) => done.extend(run(lane)),
            }
        }
        for h in handles {
            done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        done
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Links `tmp` to the first free name for `stem.ext` in `dir`.
fn link_new(tmp: &Path, dir: &Path, stem: &str, ext: &str) -> io::Result<PathBuf> {
    for n in 1u32.. {
        let path = if n == 1 {
            dir.join(format!("{stem}.{ext}"))
        } else {
            dir.join(format!("{stem}-{n}.{ext}"))
        };
        match fs::hard_link(tmp, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: rename, unless the name is
            // taken (not atomic across processes there, but never over a
            // file already present).
            Err(e) if matches!(e.raw_os_error(), Some(1 | 95)) => {
                if path.exists() {
                    continue;
                }
                fs::rename(tmp, &path)?;
                return Ok(path);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name"))
}

/// Whether files can be created in `dir`: creates a temporary file there
/// and removes it.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    let probe = temp_path(dir, "probe");
    let r = write_temp(&probe, b"", false);
    let _ = fs::remove_file(&probe);
    r
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_atomic(&p, b"one", true).unwrap();
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // no temporary files left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // a crashed writer's leftovers go; a live one's stay
        let dead = dir.path().join(".x.tape.4000000.3.tmp");
        let live = dir
            .path()
            .join(format!(".y.tape.{}.4.tmp", std::process::id()));
        fs::write(&dead, "half").unwrap();
        fs::write(&live, "half").unwrap();
        remove_stale_temps(dir.path());
        assert!(!dead.exists() && live.exists());
        // new files never replace one: the next free name
        let made = create_new_files(&[
            NewFile {
                dir: dir.path(),
                stem: "k",
                ext: "pem",
                bytes: b"three",
            },
            NewFile {
                dir: dir.path(),
                stem: "k",
                ext: "pem",
                bytes: b"four",
            },
        ]);
        let made: Vec<PathBuf> = made.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            made,
            [dir.path().join("k-2.pem"), dir.path().join("k-3.pem")]
        );
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read(&made[1]).unwrap(), b"four");
        assert!(check_writable(dir.path()).is_ok());
        assert!(check_writable(&dir.path().join("missing")).is_err());
    }
}
