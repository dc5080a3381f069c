//! Container names: docker-style generated names and race-free reservation.
//!
//! A name is reserved by creating `<root>/names/<name>` with `O_EXCL`, so two creates racing for
//! one name cannot both win (docker's `reserveName`).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

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

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Reserves `name` for `id`; `Ok(false)` when it is taken.
pub fn reserve(dir: &Path, name: &str, id: &str) -> io::Result<bool> {
    fs::create_dir_all(dir)?;
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(name))
    {
        Ok(mut f) => {
            f.write_all(id.as_bytes())?;
            if crate::sys::atomic::durable() {
                f.sync_all()?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The id holding `name`, if any.
pub fn holder(dir: &Path, name: &str) -> Option<String> {
    if !valid(name) {
        return None;
    }
    fs::read_to_string(dir.join(name)).ok()
}

/// Releases `name` (only if `id` holds it).
pub fn release(dir: &Path, name: &str, id: &str) {
    if holder(dir, name).as_deref() == Some(id) {
        let _ = fs::remove_file(dir.join(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(valid("web"));
        assert!(valid("a_b.c-d"));
        assert!(!valid("w"));
        assert!(!valid("-web"));
        assert!(!valid("we b"));
        assert!(!valid("../x"));
        for _ in 0..50 {
            assert!(valid(&generate()));
        }
    }
}
