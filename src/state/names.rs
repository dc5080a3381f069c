//! Container names: docker-style generated names and race-free reservation.
//!
//! A name is reserved by linking a locked file holding the id to `<root>/names/<name>`, so two
//! creates racing for one name cannot both win (docker's `reserveName`), and it is released only
//! by its owner: `rm`, or the create that reserved it failing ([`Reservation`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const ADJECTIVES: &[&str] = &[
    "admiring",
    "affectionate",
    "amazing",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "confident",
    "cool",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "focused",
    "friendly",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pensive",
    "practical",
    "quirky",
    "relaxed",
    "reverent",
    "romantic",
    "serene",
    "sharp",
    "silly",
    "stoic",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "wizardly",
    "wonderful",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "almeida",
    "archimedes",
    "babbage",
    "banach",
    "bardeen",
    "bell",
    "bhabha",
    "bohr",
    "borg",
    "bose",
    "brahmagupta",
    "carson",
    "cerf",
    "chandrasekhar",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "fermat",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "hopper",
    "hypatia",
    "johnson",
    "kalam",
    "kepler",
    "knuth",
    "lamport",
    "leakey",
    "lovelace",
    "margulis",
    "mayer",
    "mccarthy",
    "meitner",
    "mirzakhani",
    "morse",
    "newton",
    "noether",
    "pascal",
    "pike",
    "poincare",
    "ramanujan",
    "ritchie",
    "shannon",
    "sinoussi",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wozniak",
    "wu",
    "yalow",
    "yonath",
];

/// A random `adjective_surname`, like docker's namesgenerator.
pub fn generate() -> String {
    let mut b = [0u8; 4];
    crate::sys::random::fill(&mut b);
    let a = u16::from_ne_bytes([b[0], b[1]]) as usize % ADJECTIVES.len();
    let s = u16::from_ne_bytes([b[2], b[3]]) as usize % SURNAMES.len();
    format!("{}_{}", ADJECTIVES[a], SURNAMES[s])
}

/// The longest name: one file name under `<root>/names/`.
pub const MAX_NAME: usize = 255;

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most [`MAX_NAME`] long.
pub fn valid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b.len() <= MAX_NAME
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A name held by a create in progress: the file `<names>/<name>` (holding the id) with an
/// exclusive `flock` on it, kept until the container is registered or the create has failed.
/// While it is held nobody else can take the name over; once the container is registered the
/// name is taken for good, until `rm` releases it.
#[derive(Debug)]
pub struct Reservation {
    file: File,
    path: PathBuf,
}

impl Reservation {
    /// Gives the name up (a failed create), while still holding it: nobody can have taken it.
    pub fn release(self) {
        let _ = fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Tries to lock `file` without waiting.
fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether `file` is still what `path` names (not unlinked or replaced since it was opened).
fn still_named(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Reserves `name` for `id` atomically (docker's `reserveName`): the name's file appears at
/// once with the id in it and locked (`link` of a locked temporary file), so of any number of
/// creates racing for one name exactly one wins. `Err(holder)` when it is taken — by a
/// registered container (`registered(holder)`) or by a create still in progress (its lock is
/// held). A name whose file is neither — its create died before registering — is taken over:
/// the kernel released the dead owner's lock, so that is known, not guessed.
pub fn reserve(
    dir: &Path,
    name: &str,
    id: &str,
    registered: &dyn Fn(&str) -> bool,
) -> io::Result<Result<Reservation, String>> {
    fs::create_dir_all(dir)?;
    let path = dir.join(name);
    for _ in 0..16 {
        let tmp = dir.join(format!(".reserving-{id}"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(id.as_bytes())?;
        try_lock(&file)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(Ok(Reservation { file, path })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mut theirs = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            // Released in between: try again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut holder = String::new();
        if !try_lock(&theirs)? {
            theirs.read_to_string(&mut holder)?;
            return Ok(Err(holder));
        }
        if !still_named(&theirs, &path) {
            continue;
        }
        theirs.read_to_string(&mut holder)?;
        if registered(&holder) {
            return Ok(Err(holder));
        }
        // Abandoned by a create that died: ours now, under its lock.
        theirs.set_len(0)?;
        theirs.seek(io::SeekFrom::Start(0))?;
        theirs.write_all(id.as_bytes())?;
        return Ok(Ok(Reservation { file: theirs, path }));
    }
    Err(io::Error::other(format!(
        "the name {name:?} changed hands too often while reserving it: try again"
    )))
}

/// Whether `id` looks like a container id (64 hex digits), so it can name a directory.
pub fn valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id holding `name`, if any.
pub fn holder(dir: &Path, name: &str) -> Option<String> {
    if !valid(name) {
        return None;
    }
    fs::read_to_string(dir.join(name)).ok()
}

/// Releases `name` if `id` holds it (`rm`), under the name's lock so that it never removes a
/// name someone else has just taken.
pub fn release(dir: &Path, name: &str, id: &str) {
    if !valid(name) {
        return;
    }
    let path = dir.join(name);
    let Ok(mut file) = OpenOptions::new().read(true).open(&path) else {
        return;
    };
    let mut holder = String::new();
    // Someone else's (a create in progress holds its lock): not ours to touch, nor to wait for.
    if file.read_to_string(&mut holder).is_err() || holder != id {
        return;
    }
    // SAFETY: flock on an fd we own; besides us, only a create finding the name registered
    // holds it, for a moment.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return;
    }
    holder.clear();
    if file.seek(io::SeekFrom::Start(0)).is_err() {
        return;
    }
    if file.read_to_string(&mut holder).is_ok() && holder == id && still_named(&file, &path) {
        let _ = fs::remove_file(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_won_once_and_released_only_by_its_owner() {
        let dir = std::env::temp_dir().join(format!("ctrace-names-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let registered = |_: &str| false;
        let mine = reserve(&dir, "web", "aaa", &registered).unwrap().unwrap();
        // In progress: its lock is held, so it is not taken over.
        assert_eq!(
            reserve(&dir, "web", "bbb", &registered)
                .unwrap()
                .unwrap_err(),
            "aaa"
        );
        // Nobody but the holder releases it.
        release(&dir, "web", "bbb");
        assert_eq!(holder(&dir, "web").as_deref(), Some("aaa"));
        drop(mine);
        // Registered: taken for good.
        let is_aaa = |h: &str| h == "aaa";
        assert_eq!(
            reserve(&dir, "web", "ccc", &is_aaa).unwrap().unwrap_err(),
            "aaa"
        );
        // Not registered and not locked: its create died, the name is taken over.
        let taken = reserve(&dir, "web", "ddd", &registered).unwrap().unwrap();
        assert_eq!(holder(&dir, "web").as_deref(), Some("ddd"));
        taken.release();
        assert_eq!(holder(&dir, "web"), None);
        let again = reserve(&dir, "web", "eee", &registered).unwrap().unwrap();
        drop(again);
        release(&dir, "web", "eee");
        assert_eq!(holder(&dir, "web"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert!(valid("web"));
        assert!(valid("a_b.c-d"));
        assert!(!valid("w"));
        assert!(!valid("-web"));
        assert!(!valid("we b"));
        assert!(!valid("../x"));
        assert!(valid(&"a".repeat(MAX_NAME)));
        assert!(!valid(&"a".repeat(300)), "longer than a file name");
        for _ in 0..50 {
            assert!(valid(&generate()));
        }
    }
}
