//! Detach keys, as the daemon applies them to an attached client's input: the spec parsed as
//! moby's `term.ToBytes` does (`ctrl-p,ctrl-q`: comma-separated, each one character or
//! `ctrl-<x>` for `x` in `@`, `a`–`z`, `[`, `\`, `]`, `^`, `_`), and a watcher that holds back
//! the bytes of a partial sequence and tells when the whole one went by (moby's `EscapeProxy`).
//!
//! As in moby, the keys apply to a terminal's input only (`Tty`); without one, every byte is
//! data. The docker CLI watches for the same keys on its side; a client without that logic (a
//! websocket, an SDK) relies on the daemon's.
//!
//! Not here: what ends when the keys are seen (the attach handlers in
//! [`super::routes`]).

/// Docker's default detach keys (`detachKeys` in the daemon's configuration).
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// The control keys by their code: `ctrl-@` is 0, `ctrl-a` 1, …, `ctrl-_` 31.
const CTRL: [&str; 32] = [
    "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f", "ctrl-g", "ctrl-h",
    "ctrl-i", "ctrl-j", "ctrl-k", "ctrl-l", "ctrl-m", "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q",
    "ctrl-r", "ctrl-s", "ctrl-t", "ctrl-u", "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z",
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_",
];

/// The bytes of a detach-keys spec, or the key that is not one (moby's `term.ToBytes`: `DEL`
/// is 127, any other single character is itself).
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    spec.split(',')
        .map(|key| {
            if key.len() == 1 {
                return Ok(key.as_bytes()[0]);
            }
            if key == "DEL" {
                return Ok(127);
            }
            CTRL.iter()
                .position(|c| *c == key)
                .map(|code| code as u8)
                .ok_or_else(|| format!("Unknown character: '{key}'"))
        })
        .collect()
}

/// The keys of an attach's `detachKeys` (the default when absent or empty); moby's 400 when the
/// spec is not one.
pub fn for_attach(spec: Option<&str>) -> Result<Vec<u8>, String> {
    let spec = spec.filter(|s| !s.is_empty()).unwrap_or(DEFAULT);
    parse(spec).map_err(|_| format!("Invalid detach keys ({spec}) provided"))
}

/// The keys of an exec's `DetachKeys` (the default when absent or empty); moby's words for an
/// exec's bad spec.
pub fn for_exec(spec: Option<&str>) -> Result<Vec<u8>, String> {
    let spec = spec.filter(|s| !s.is_empty()).unwrap_or(DEFAULT);
    parse(spec).map_err(|_| format!("Invalid escape keys ({spec}) provided"))
}

/// What came of one chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes to pass on (possibly none: all held back as a partial sequence).
    Data(Vec<u8>),
    /// The keys went by: the bytes before them are to be passed on, then the attach ends.
    Detach(Vec<u8>),
}

/// Watches a client's input for the detach keys across chunks.
#[derive(Debug, Clone)]
pub struct Watch {
    keys: Vec<u8>,
    /// How many of the keys the input has matched so far (held back, not yet passed on).
    matched: usize,
}

impl Watch {
    /// A watch for `keys`; with none, every byte passes.
    pub fn new(keys: Vec<u8>) -> Watch {
        Watch { keys, matched: 0 }
    }

    /// One chunk of input: the bytes to pass on, or the detach. The bytes of a partial sequence
    /// are held back until the input either completes it (detach) or leaves it (they are passed
    /// on, before the byte that left it).
    pub fn feed(&mut self, chunk: &[u8]) -> Input {
        if self.keys.is_empty() {
            return Input::Data(chunk.to_vec());
        }
        let mut out = Vec::with_capacity(chunk.len() + self.matched);
        for &b in chunk {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Input::Detach(out);
                }
                continue;
            }
            // A partial sequence left: its bytes were data after all. The byte that left it may
            // begin the sequence again.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return Input::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Input::Data(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_mobys_to_bytes_does() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse("ctrl-@,ctrl-a,ctrl-z").unwrap(), [0, 1, 26]);
        assert_eq!(
            parse("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [27, 28, 29, 30, 31]
        );
        assert_eq!(parse("a,b,@,DEL").unwrap(), [b'a', b'b', b'@', 127]);
        for bad in ["ctrl-P", "ctrl-1", "ctrl-", "a,,b", "", "ab", "ctrl-p,"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("ctrl-P").unwrap_err(), "Unknown character: 'ctrl-P'");
    }

    #[test]
    fn a_bad_spec_gets_mobys_message_and_none_is_the_default() {
        assert_eq!(for_attach(None).unwrap(), [16, 17]);
        assert_eq!(for_attach(Some("")).unwrap(), [16, 17]);
        assert_eq!(
            for_attach(Some("ctrl-x,yy")).unwrap_err(),
            "Invalid detach keys (ctrl-x,yy) provided"
        );
        assert_eq!(
            for_exec(Some("zz")).unwrap_err(),
            "Invalid escape keys (zz) provided"
        );
    }

    #[test]
    fn the_keys_detach_and_what_came_before_them_passes() {
        let mut w = Watch::new(vec![16, 17]);
        assert_eq!(w.feed(b"ls\r\x10\x11rest"), Input::Detach(b"ls\r".to_vec()));
    }

    #[test]
    fn a_sequence_split_across_chunks_still_detaches() {
        let mut w = Watch::new(vec![16, 17]);
        assert_eq!(w.feed(b"x\x10"), Input::Data(b"x".to_vec()));
        assert_eq!(w.feed(b"\x11"), Input::Detach(Vec::new()));
    }

    #[test]
    fn the_bytes_of_an_incomplete_prefix_are_passed_through() {
        let mut w = Watch::new(vec![16, 17]);
        assert_eq!(w.feed(b"\x10"), Input::Data(Vec::new()));
        assert_eq!(w.feed(b"a"), Input::Data(b"\x10a".to_vec()));
        // A prefix typed twice: the first is data, the second may still begin the keys.
        assert_eq!(w.feed(b"\x10\x10"), Input::Data(b"\x10".to_vec()));
        assert_eq!(w.feed(b"\x11"), Input::Detach(Vec::new()));
    }

    #[test]
    fn without_keys_every_byte_passes() {
        let mut w = Watch::new(Vec::new());
        assert_eq!(w.feed(b"\x10\x11"), Input::Data(b"\x10\x11".to_vec()));
    }
}
