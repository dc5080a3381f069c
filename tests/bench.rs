//! The benchmark scripts run: `bench/report.py --smoke` (every section with a handful of
//! iterations) against this build, and its JSON has every section, with counts that add up and
//! nothing failed. No latency threshold: the numbers of a smoke run mean nothing, the benchmarks
//! themselves report ratios (`bench/results/`).

mod common;

use serde_json::Value;

fn number(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{} is not a number: {cur}", path.join(".")))
}

#[test]
fn the_report_script_runs_every_section_and_leaves_nothing_behind() {
    let out = std::env::temp_dir().join(format!("ctrace-test-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/report.py");
    let o = std::process::Command::new("python3")
        .args([script, "--smoke", "--bin", common::BIN, "--out"])
        .arg(&out)
        .output()
        .expect("python3 (scripts/deps.sh installs what the script needs)");
    assert!(
        o.status.success(),
        "bench/report.py --smoke failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert!(std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .contains("× floor"));
    for peer in [
        "floor",
        "ctrace-none",
        "ctrace-bridge",
        "runc",
        "docker-none",
    ] {
        assert!(number(&r, &["peers", peer, "median_ms"]) > 0.0, "{peer}");
    }
    assert!((number(&r, &["peers", "floor", "x_floor"]) - 1.0).abs() < 1e-9);
    assert_eq!(number(&r, &["cold", "exit"]), 0.0, "the cold run failed");
    assert_eq!(
        number(&r, &["shim", "shims"]),
        number(&r, &["shim", "containers"]),
        "one shim per running container"
    );
    assert!(number(&r, &["shim", "pss_kb_per_shim"]) > 0.0);
    assert_eq!(number(&r, &["scale", "concurrent_run_d", "failures"]), 0.0);
    assert_eq!(number(&r, &["scale", "stop_at_once", "failures"]), 0.0);
    assert!(number(&r, &["scale", "idle", "ps_a_ms"]) > 0.0);
    for k in ["flamegraph", "chrome", "jaeger", "otlp-json"] {
        assert!(number(&r, &["exporters", k, "max_rss_mb"]) > 0.0, "{k}");
    }
    let _ = std::fs::remove_dir_all(&out);
    // The script's own cleanup: no container, shim or daemon of its roots is left.
    let left = std::process::Command::new("pgrep")
        .args(["-f", "ctrace-report\\."])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes of the report's roots left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("ctrace-report."),
        "mounts of the report left"
    );
}
