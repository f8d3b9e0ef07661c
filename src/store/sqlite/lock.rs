//! The store's holder: `run` and `once` hold an advisory lock on a file beside the database
//! for as long as they live, so a second daemon on the same store is refused at once instead
//! of delivering alerts twice. Read-only commands take no lock. The kernel drops the lock
//! when the process ends, however it ends.

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock, held until dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: std::fs::File,
}

/// The lock file beside a store: `feedwatch.db` → `feedwatch.db.lock`.
fn lock_path(store: &Path) -> PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl StoreLock {
    /// Takes the lock for `store`, or says which process holds it.
    pub fn acquire(store: &Path) -> Result<StoreLock, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = lock_path(store);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is shared.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !taken {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => "another process".to_string(),
                pid => format!("process {pid}"),
            };
            return Err(format!(
                "the store {} is in use by {holder} (a feedwatch run or once); \
                 one daemon per store",
                store.display()
            ));
        }
        // The holder's PID, for the message a second daemon prints.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(StoreLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fw.db");
        let first = StoreLock::acquire(&db).unwrap();
        // flock locks belong to the open file: a second open in this process conflicts too.
        let e = StoreLock::acquire(&db).unwrap_err();
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        assert!(e.contains("fw.db"), "{e}");
        drop(first);
        StoreLock::acquire(&db).unwrap();
    }
}
