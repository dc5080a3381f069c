//! docker's `-u` resolution against the image's `/etc/passwd` and `/etc/group`: the spec carries
//! numeric ids only.

use std::path::Path;

use super::{ResolvedUser, SpecError, MAX_ID};
use crate::runtime::rootfs::secure_join;

/// Docker's user resolution against the image: `""` is root, then `uid`, `uid:gid`, `name`,
/// `name:group`, `uid:group`… looked up in `<rootfs>/etc/passwd` and `<rootfs>/etc/group`
/// (moby `getUser` on libcontainer's `GetExecUserPath`). A missing file only matters for
/// names: numeric ids need no entry.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, SpecError> {
    let passwd = read_user_db(rootfs, "/etc/passwd")?;
    let group = read_user_db(rootfs, "/etc/group")?;
    resolve_user_in(passwd.as_deref(), group.as_deref(), user)
}

/// Reads an image's user database without following its symlinks out of the rootfs (an image
/// whose `/etc/passwd` links to `/etc/shadow` must not read the host's).
fn read_user_db(rootfs: &Path, path: &str) -> Result<Option<String>, SpecError> {
    let full = secure_join(rootfs, Path::new(path)).map_err(|source| SpecError::ReadUserDb {
        path: rootfs.join(path.trim_start_matches('/')),
        source,
    })?;
    match std::fs::read(&full) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SpecError::ReadUserDb { path: full, source }),
    }
}

/// One `/etc/passwd` line, as libcontainer's parser reads it (bad numbers read as 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: i64,
    pub gid: i64,
    pub home: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: i64,
    pub members: Vec<String>,
}

/// Parses `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            PasswdEntry {
                name: f[0].to_string(),
                uid: atoi(f.get(2)),
                gid: atoi(f.get(3)),
                home: f.get(5).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

/// Parses `/etc/group`: `name:password:gid:member,member`.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            GroupEntry {
                name: f[0].to_string(),
                gid: atoi(f.get(2)),
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn atoi(field: Option<&&str>) -> i64 {
    field.and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// [`resolve_user`] on the files' contents (`None`: the image has no such file).
pub fn resolve_user_in(
    passwd: Option<&str>,
    group: Option<&str>,
    spec: &str,
) -> Result<ResolvedUser, SpecError> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, rest)) => (u, rest.split(':').next().unwrap_or("")),
        None => (spec, ""),
    };
    let uid_arg: Option<i64> = user_arg.parse().ok();
    let gid_arg: Option<i64> = group_arg.parse().ok();

    let users = passwd.map(parse_passwd).unwrap_or_default();
    let matched = users.iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(uid) = uid_arg {
            u.uid == uid
        } else {
            u.name == user_arg
        }
    });
    let (mut uid, mut gid) = (0i64, 0i64);
    let matched_name = match matched {
        Some(u) => {
            uid = u.uid;
            gid = u.gid;
            Some(u.name.as_str())
        }
        None if user_arg.is_empty() => None,
        None => {
            // Only a numeric user may be absent from passwd.
            uid = uid_arg.ok_or_else(|| SpecError::UnknownUser(user_arg.to_string()))?;
            None
        }
    };
    if !(0..=MAX_ID).contains(&uid) {
        return Err(SpecError::IdOutOfRange);
    }

    let mut sgids = Vec::new();
    if !group_arg.is_empty() || matched_name.is_some() {
        let groups = group.map(parse_group).unwrap_or_default();
        if !group_arg.is_empty() {
            let found = groups.iter().find(|g| match gid_arg {
                Some(gid) => g.gid == gid,
                None => g.name == group_arg,
            });
            gid = match (found, gid_arg) {
                (Some(g), _) => g.gid,
                (None, Some(n)) => n,
                (None, None) => return Err(SpecError::UnknownGroup(group_arg.to_string())),
            };
            if !(0..=MAX_ID).contains(&gid) {
                return Err(SpecError::IdOutOfRange);
            }
        } else if let Some(name) = matched_name {
            // Supplementary groups only in the implicit form, as libcontainer does.
            sgids = groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m == name))
                .map(|g| g.gid)
                .collect();
        }
    }
    // moby `getUser` puts the primary gid first (the fix for CVE-2022-36109: a group denied by
    // a file's group permission must not be droppable by leaving the supplementary list).
    let additional_gids = std::iter::once(gid)
        .chain(sgids)
        .map(|g| g as u32)
        .collect();
    Ok(ResolvedUser {
        uid: uid as u32,
        gid: gid as u32,
        additional_gids,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        \n\
        www-data:x:33:33:www-data:/var/www:/bin/false\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:root\n\
        www-data:x:33:\n\
        web:x:500:www-data,daemon\n\
        staff:x:50:www-data\n\
        nogroup:x:65534:\n";

    fn resolve(spec: &str) -> Result<ResolvedUser, SpecError> {
        resolve_user_in(Some(PASSWD), Some(GROUP), spec)
    }

    pub(in crate::runtime::spec) fn user(uid: u32, gid: u32, gids: &[u32]) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: gids.to_vec(),
        }
    }

    #[test]
    fn empty_user_is_root_with_roots_groups() {
        assert_eq!(resolve("").unwrap(), user(0, 0, &[0, 10]));
    }

    #[test]
    fn names_resolve_with_their_groups() {
        assert_eq!(resolve("root").unwrap(), user(0, 0, &[0, 10]));
        assert_eq!(resolve("www-data").unwrap(), user(33, 33, &[33, 500, 50]));
        assert_eq!(resolve("nobody").unwrap(), user(65534, 65534, &[65534]));
    }

    #[test]
    fn numbers_resolve_with_or_without_entries() {
        assert_eq!(resolve("33").unwrap(), user(33, 33, &[33, 500, 50]));
        assert_eq!(resolve("1234").unwrap(), user(1234, 0, &[0]));
        assert_eq!(
            resolve("65534:65534").unwrap(),
            user(65534, 65534, &[65534])
        );
        assert_eq!(resolve("1234:4321").unwrap(), user(1234, 4321, &[4321]));
    }

    #[test]
    fn explicit_group_replaces_gid_and_drops_supplementary_groups() {
        assert_eq!(resolve("www-data:staff").unwrap(), user(33, 50, &[50]));
        assert_eq!(resolve("33:web").unwrap(), user(33, 500, &[500]));
        assert_eq!(resolve("daemon:7").unwrap(), user(1, 7, &[7]));
        assert_eq!(resolve("nobody:").unwrap(), user(65534, 65534, &[65534]));
    }

    #[test]
    fn unknown_names_fail_with_dockers_wording() {
        let e = resolve("nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nope: no matching entries in passwd file"
        );
        let e = resolve("root:nogrp").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogrp: no matching entries in group file"
        );
        assert!(matches!(resolve("-1"), Err(SpecError::IdOutOfRange)));
        assert!(matches!(
            resolve("0:4294967296"),
            Err(SpecError::IdOutOfRange)
        ));
    }

    #[test]
    fn missing_files_allow_numbers_only() {
        assert_eq!(resolve_user_in(None, None, "").unwrap(), user(0, 0, &[0]));
        assert_eq!(
            resolve_user_in(None, None, "5:6").unwrap(),
            user(5, 6, &[6])
        );
        assert!(matches!(
            resolve_user_in(None, None, "root"),
            Err(SpecError::UnknownUser(n)) if n == "root"
        ));
    }
}
