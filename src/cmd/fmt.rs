//! `scimform fmt [--check]`: config files laid out by one formatter, comments and key order
//! kept, and nothing written whose meaning would change (`config::reformat`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Error, print_stdout};
use crate::cli::{DEFAULT_CONFIG, FmtArgs};
use crate::config::reformat;

pub fn run(args: &FmtArgs) -> Result<(), Error> {
    let path = args
        .file
        .as_deref()
        .unwrap_or_else(|| Path::new(DEFAULT_CONFIG));
    let files = reformat::reformat_files(path).map_err(|errors| Error::from(errors.0))?;
    let unformatted: Vec<&reformat::Reformatted> =
        files.iter().filter(|file| file.text.is_some()).collect();
    if args.check {
        let mut listing = String::new();
        for file in &unformatted {
            let _ = writeln!(listing, "{} is not formatted", file.path.display());
        }
        print_stdout(&listing)?;
        return if unformatted.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "{} of {} {} not formatted; run `scimform fmt` to lay {} out",
                unformatted.len(),
                files.len(),
                if files.len() == 1 {
                    "file is"
                } else {
                    "files are"
                },
                if unformatted.len() == 1 { "it" } else { "them" },
            )))
        };
    }
    // Renaming over a symlink would replace the link with a file and leave its target as it
    // was: refused for every file before any is written.
    for file in &unformatted {
        if std::fs::symlink_metadata(&file.path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::msg(format!(
                "{} was not formatted, nor any other file: it is a symlink; run `scimform fmt` \
                 on the file it points to",
                file.path.display()
            )));
        }
    }
    for file in &unformatted {
        let text = file.text.as_deref().unwrap_or_default();
        write_replacing(&file.path, text)
            .map_err(|e| Error::msg(format!("cannot write {}: {e}", file.path.display())))?;
        print_stdout(&format!("formatted {}\n", file.path.display()))?;
    }
    Ok(())
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`, keeping the
/// file's permissions: an interrupted `fmt` leaves the old file or the new one, never half.
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".fmt.tmp");
    let temporary = PathBuf::from(name);
    std::fs::write(&temporary, text)?;
    let permissions = std::fs::metadata(path)?.permissions();
    let renamed = std::fs::set_permissions(&temporary, permissions)
        .and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}
