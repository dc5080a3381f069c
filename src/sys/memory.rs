//! Giving memory back while idle: what a long-lived, mostly sleeping process (the shim) does so
//! that a hundred of them cost little. Two things are released:
//!
//! - the heap's free memory (`malloc_trim`), which glibc otherwise keeps for the next allocation;
//! - this process's mappings of clean file pages (the binary's code and read-only data, the
//!   libraries'): `madvise(MADV_DONTNEED)` unmaps them from this process only. They stay in the
//!   page cache, so touching one again later is a minor fault, not a read from disk.
//!
//! Only mappings that hold no anonymous page are released: a relocated, then write-protected
//! region (RELRO) reads as `r--p` of the file, but its pages are private copies the loader
//! wrote, and dropping them would bring back the file's unrelocated bytes.
//!
//! Not here: deciding when a process is idle (the shim does), or limiting memory (cgroups).

/// Releases what an idle process does not need; returns the bytes of file pages unmapped.
/// Best effort: an error leaves the process as it was.
#[cfg(target_os = "linux")]
pub fn release_idle() -> u64 {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    for r in clean_file_ranges(&smaps) {
        // SAFETY: the range is a whole mapping of clean file pages with no private copy: dropping
        // this process's page table entries loses nothing; a later access faults them back in.
        let rc = unsafe {
            libc::madvise(
                r.start as *mut libc::c_void,
                r.end - r.start,
                libc::MADV_DONTNEED,
            )
        };
        if rc == 0 {
            released += r.resident;
        }
    }
    released
}

/// Elsewhere (only the simulator runs): nothing to release.
#[cfg(not(target_os = "linux"))]
pub fn release_idle() -> u64 {
    0
}

/// A mapping that may be released, with its resident bytes.
#[derive(Debug, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    resident: u64,
}

/// The mappings of `smaps` (the text of `/proc/self/smaps`) that are file-backed, not writable,
/// resident and hold no anonymous page.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn clean_file_ranges(smaps: &str) -> Vec<Range> {
    let mut out = Vec::new();
    let mut current: Option<(Range, bool)> = None;
    let finish = |c: Option<(Range, bool)>, out: &mut Vec<Range>| {
        if let Some((r, true)) = c {
            if r.resident > 0 {
                out.push(r);
            }
        }
    };
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            finish(current.take(), &mut out);
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = words.next().unwrap_or_default();
            let path = words.nth(3).unwrap_or_default();
            let eligible = path.starts_with('/') && perms.starts_with('r') && !perms.contains('w');
            current = Some((
                Range {
                    start,
                    end,
                    resident: 0,
                },
                eligible,
            ));
            continue;
        }
        let Some((r, eligible)) = current.as_mut() else {
            continue;
        };
        let mut kb = || {
            words
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        match first {
            "Rss:" => r.resident = kb() * 1024,
            "Anonymous:" | "Private_Dirty:" | "Shared_Dirty:" if kb() > 0 => *eligible = false,
            _ => {}
        }
    }
    finish(current.take(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 123 /usr/bin/ctrace
Rss:                1024 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 123 /usr/bin/ctrace
Rss:                4096 kB
Anonymous:             0 kB
55d0c0900000-55d0c0a00000 r--p 00900000 fd:01 123 /usr/bin/ctrace
Rss:                 512 kB
Anonymous:           512 kB
Private_Dirty:       512 kB
55d0c0a00000-55d0c0a10000 rw-p 00a00000 fd:01 123 /usr/bin/ctrace
Rss:                  64 kB
Anonymous:            64 kB
55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0 [heap]
Rss:                 900 kB
Anonymous:           900 kB
7f0000000000-7f0000001000 r--p 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Rss:                   8 kB
Anonymous:             0 kB
";

    #[test]
    fn only_clean_resident_read_only_file_mappings_are_released() {
        let r = clean_file_ranges(SMAPS);
        assert_eq!(
            r,
            vec![
                Range {
                    start: 0x55d0c0000000,
                    end: 0x55d0c0100000,
                    resident: 1024 * 1024
                },
                Range {
                    start: 0x55d0c0100000,
                    end: 0x55d0c0900000,
                    resident: 4096 * 1024
                },
            ],
            "the relocated RELRO, the writable data, the heap, a mapping with nothing resident \
             and the vdso stay"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_leaves_the_process_working() {
        let before = std::fs::read_to_string("/proc/self/status").unwrap();
        let released = release_idle();
        // The code runs on: every page it needs faults back in from the page cache.
        let after = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(before.contains("VmRSS") && after.contains("VmRSS"));
        assert!(released > 0, "a test binary has resident code to release");
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
