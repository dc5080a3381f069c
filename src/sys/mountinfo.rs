//! The one parser of `/proc/<pid>/mountinfo` (proc(5)):
//! `id parent major:minor root mount-point options [optional…] - fstype source super-options`.
//! Cgroup detection, rootfs setup, volumes, mounts and the `--step` live view all read mounts
//! through it.

use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    /// The path inside the filesystem that is mounted (`/` unless a bind of a subdirectory).
    pub root: String,
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub options: String,
    /// Optional fields (`shared:1`, `master:2`).
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (`rw,memory` for a cgroup v1 mount).
    pub super_options: String,
}

/// Parses a mountinfo text; lines that are not well formed are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    if left.len() < 6 || right.len() < 3 {
        return None;
    }
    Some(Mount {
        id: left[0].parse().ok()?,
        parent: left[1].parse().ok()?,
        root: unescape(left[3]),
        mount_point: PathBuf::from(unescape(left[4])),
        options: left[5].to_string(),
        optional: left[6..].iter().map(|s| s.to_string()).collect(),
        fstype: right[0].to_string(),
        source: unescape(right[1]),
        super_options: right[2].to_string(),
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` (octal).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory
31 22 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:13 - cgroup2 cgroup2 rw,nsdelegate
40 1 8:1 /data /mnt/with\\040space ro,relatime - ext4 /dev/vda1 rw
garbage line";

    #[test]
    fn every_field_of_a_line_is_read_and_garbage_is_skipped() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].super_options, "rw,memory");
        assert_eq!(m[1].optional, vec!["shared:12"]);
        assert_eq!(m[2].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(m[3].root, "/data");
        assert_eq!(m[3].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!((m[0].id, m[0].parent), (22, 1));
    }

    #[test]
    fn escapes_are_octal_and_a_lone_backslash_stays() {
        assert_eq!(unescape("a\\011b\\134c"), "a\tb\\c");
        assert_eq!(unescape("end\\"), "end\\");
        assert_eq!(unescape("x\\9zz"), "x\\9zz");
    }
}
