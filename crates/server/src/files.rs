//! The files the server writes — its SQLite store (with SQLite's `-wal` and `-shm` beside it)
//! and the token file — are private to their owner (mode 0600, folders 0700) and never written
//! through a symbolic link: a link planted at one of those paths would otherwise turn a write
//! into the overwrite of whatever it points to, or hand the directory to other users.
//!
//! Files are opened with `O_NOFOLLOW`, so the check and the open are one system call, and with
//! `O_NONBLOCK`, so a FIFO put in a file's place is refused instead of blocking the open.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::error::ServerError;

/// The companions SQLite creates beside a database in WAL mode (and a rollback journal, should
/// one be left from an older run).
pub(crate) const STORE_COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Creates `dir` and its missing parents, each new one with mode 0700.
pub fn create_private_dir_all(dir: &Path) -> Result<(), ServerError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|source| ServerError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// Opens `path` for writing, creating it with mode 0600 when missing (truncating it when asked).
/// Refuses a symbolic link and anything but a regular file; an existing file wider than 0600 is
/// narrowed to it.
pub fn open_private(path: &Path, truncate: bool) -> Result<File, ServerError> {
    let fail = |source| ServerError::File {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    // Created if missing, so only an error leaves it unopened.
    let file = private_open(path, &mut options)?
        .ok_or_else(|| fail(io::Error::from(io::ErrorKind::NotFound)))?;
    // Truncated only once it is known to be a regular file.
    if truncate {
        file.set_len(0).map_err(fail)?;
    }
    Ok(file)
}

/// Narrows an existing file to mode 0600, refusing a symbolic link; nothing when it is missing.
pub(crate) fn narrow_existing(path: &Path) -> Result<(), ServerError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    private_open(path, &mut options).map(drop)
}

/// Makes the store's files private before SQLite opens them: the database is created 0600 if
/// missing (SQLite gives its `-wal` and `-shm` the database's mode), and any companion left
/// from a run before is checked and narrowed too.
pub(crate) fn prepare_store(path: &Path) -> Result<(), ServerError> {
    drop(open_private(path, false)?);
    for suffix in STORE_COMPANIONS {
        narrow_existing(&with_suffix(path, suffix))?;
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`serve.db` → `serve.db-wal`).
#[must_use]
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens with `O_NOFOLLOW | O_NONBLOCK` and checks what was opened. `Ok(None)` when the file is
/// missing and `options` does not create it.
#[cfg(unix)]
fn private_open(
    path: &Path,
    options: &mut std::fs::OpenOptions,
) -> Result<Option<File>, ServerError> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |source| ServerError::File {
        path: path.to_owned(),
        source,
    };
    options
        .mode(0o600)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits());
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: the last component is a symbolic link.
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
            return Err(ServerError::Symlink(path.to_owned()));
        }
        Err(e) => return Err(fail(e)),
    };
    let metadata = file.metadata().map_err(fail)?;
    if !metadata.is_file() {
        return Err(ServerError::NotAFile(path.to_owned()));
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    Ok(Some(file))
}

#[cfg(not(unix))]
fn private_open(
    path: &Path,
    options: &mut std::fs::OpenOptions,
) -> Result<Option<File>, ServerError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => return Err(ServerError::Symlink(path.to_owned())),
        Ok(m) if !m.is_file() => return Err(ServerError::NotAFile(path.to_owned())),
        _ => {}
    }
    match options.open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ServerError::File {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a small text file (a token), following symbolic links (secrets are often mounted as
/// links) but refusing anything that is not a regular file, and reading at most `limit` bytes.
pub fn read_small(path: &Path, limit: u64) -> Result<String, ServerError> {
    use std::io::Read;
    let fail = |source| ServerError::TokenFile {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits());
    }
    let file = options.open(path).map_err(fail)?;
    if !file.metadata().map_err(fail)?.is_file() {
        return Err(ServerError::NotAFile(path.to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(fail)?;
    if bytes.len() as u64 > limit {
        return Err(fail(io::Error::other(format!(
            "it is larger than {limit} bytes"
        ))));
    }
    String::from_utf8(bytes).map_err(|_| fail(io::Error::other("it is not UTF-8 text")))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_and_narrows_to_0600() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        drop(open_private(&new, false).unwrap());
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_private(&old, false).unwrap());
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "x");
        drop(open_private(&old, true).unwrap());
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "");
    }

    #[test]
    fn refuses_symlinks_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            open_private(&link, true),
            Err(ServerError::Symlink(_))
        ));
        assert!(matches!(
            narrow_existing(&link),
            Err(ServerError::Symlink(_))
        ));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(mode(&target), 0o644);
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
        assert!(matches!(
            open_private(&dangling, false),
            Err(ServerError::Symlink(_))
        ));
        assert!(!dir.path().join("nothing").exists());

        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            read_small(&fifo, 100),
            Err(ServerError::NotAFile(_))
        ));
        assert!(matches!(
            open_private(&fifo, false),
            Err(ServerError::NotAFile(_))
        ));
    }

    #[test]
    fn reads_at_most_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_small(&file, 10).unwrap(), "0123456789");
        assert!(read_small(&file, 9).is_err());
    }
}
