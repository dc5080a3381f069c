//! The flag sets of the seam's mount and namespace calls, under one name on every platform.
//!
//! On Linux they are nix's own types. Elsewhere — where the crate is built only for the
//! simulator, which models these calls rather than making them — the same names and Linux's own
//! values are defined here, so the engine, the runtime and the simulated host are one code
//! path on every platform.
//!
//! Not here: what a flag does (the `host::linux` implementation calls the kernel; `sim::host`
//! models it).

#[cfg(target_os = "linux")]
pub use nix::mount::{MntFlags, MsFlags};
#[cfg(target_os = "linux")]
pub use nix::sched::CloneFlags;

/// Linux's values under Linux's names, for platforms whose nix has no such types (compiled
/// everywhere, so that a test on Linux checks them against nix's own).
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod portable {
    bitflags::bitflags! {
        /// `mount(2)` flags, with Linux's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct MsFlags: u64 {
            const MS_RDONLY = 1;
            const MS_NOSUID = 2;
            const MS_NODEV = 4;
            const MS_NOEXEC = 8;
            const MS_SYNCHRONOUS = 16;
            const MS_REMOUNT = 32;
            const MS_MANDLOCK = 64;
            const MS_DIRSYNC = 128;
            const MS_NOATIME = 1024;
            const MS_NODIRATIME = 2048;
            const MS_BIND = 4096;
            const MS_MOVE = 8192;
            const MS_REC = 16384;
            const MS_SILENT = 32768;
            const MS_UNBINDABLE = 1 << 17;
            const MS_PRIVATE = 1 << 18;
            const MS_SLAVE = 1 << 19;
            const MS_SHARED = 1 << 20;
            const MS_RELATIME = 1 << 21;
            const MS_STRICTATIME = 1 << 24;
            const MS_LAZYTIME = 1 << 25;
        }
    }

    bitflags::bitflags! {
        /// `umount2(2)` flags, with Linux's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct MntFlags: i32 {
            const MNT_FORCE = 1;
            const MNT_DETACH = 2;
            const MNT_EXPIRE = 4;
            const UMOUNT_NOFOLLOW = 8;
        }
    }

    bitflags::bitflags! {
        /// `clone(2)`/`unshare(2)` namespace flags, with Linux's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct CloneFlags: i32 {
            const CLONE_NEWNS = 0x0002_0000;
            const CLONE_NEWCGROUP = 0x0200_0000;
            const CLONE_NEWUTS = 0x0400_0000;
            const CLONE_NEWIPC = 0x0800_0000;
            const CLONE_NEWUSER = 0x1000_0000;
            const CLONE_NEWPID = 0x2000_0000;
            const CLONE_NEWNET = 0x4000_0000;
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub use portable::{CloneFlags, MntFlags, MsFlags};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::portable;

    /// Every portable flag has the name and value of nix's Linux flag (and nothing the engine
    /// uses is missing from the portable set).
    #[test]
    fn the_portable_flags_carry_linuxs_names_and_values() {
        let mut wrong = Vec::new();
        for (name, f) in portable::MsFlags::all().iter_names() {
            let linux = nix::mount::MsFlags::from_name(name).map(|l| l.bits());
            if linux != Some(f.bits()) {
                wrong.push((name, f.bits(), linux));
            }
        }
        for (name, f) in portable::MntFlags::all().iter_names() {
            let linux = nix::mount::MntFlags::from_name(name).map(|l| l.bits() as u64);
            if linux != Some(f.bits() as u64) {
                wrong.push((name, f.bits() as u64, linux));
            }
        }
        for (name, f) in portable::CloneFlags::all().iter_names() {
            let linux = nix::sched::CloneFlags::from_name(name).map(|l| l.bits() as u64);
            if linux != Some(f.bits() as u64) {
                wrong.push((name, f.bits() as u64, linux));
            }
        }
        assert!(
            wrong.is_empty(),
            "portable flags that differ from Linux's: {wrong:?}"
        );
    }
}
