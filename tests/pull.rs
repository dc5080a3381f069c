//! `ctrace pull` and pull-on-run against a real registry on 127.0.0.1 (Debian's
//! `docker-registry`), with images pushed by skopeo from OCI layouts built here.

mod common;

use common::registry::{build_layout, host_arch, Registry};

/// The harness itself: a layout built from the host's busybox pushes into a fresh registry.
#[test]
fn harness_pushes_a_layout_into_a_local_registry() {
    let reg = Registry::start("harness");
    let dir = reg.dir.join("layout");
    let img = build_layout(&dir, "hello", 0, &[host_arch()]);
    reg.push(&img.layout, &img.layout_ref, "test/hello:v1", false);
    // config + 2 layers + manifest
    assert_eq!(reg.stored_blobs(), 4);
}
