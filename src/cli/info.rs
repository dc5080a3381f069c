//! `ctrace info`: what `docker info` prints — containers by state, images, the storage driver,
//! cgroups, the kernel, the runtimes, the state root — from the daemon when one answers (`-H`, or
//! the default socket), else from the engine in this process; and the live OTLP export's
//! counters when the daemon runs one (sent, dropped, failed spans).
//!
//! Not here: the `/info` document itself (`daemon::api::info`, one source for both paths).

use serde_json::Value;

use super::{Context, Failure};

/// `ctrace info [--format json]`.
pub fn info(ctx: &Context, host: Option<&str>, json: bool) -> Result<i32, Failure> {
    let daemon = super::remote::find_daemon(host, &ctx.engine.paths.exec_root)
        .map_err(|m| Failure::new(1, m))?;
    let doc = match &daemon {
        Some(socket) => {
            let r = crate::daemon::client::request(socket, "GET", "/info", &[], None)
                .map_err(|e| Failure::new(1, format!("cannot ask the daemon for its info: {e}")))?;
            if r.status != 200 {
                return Err(Failure::new(1, r.message()));
            }
            r.json()
        }
        None => {
            let e = &ctx.engine;
            let entries = e.list().map_err(|e| Failure::new(1, e))?;
            let images = e.images().and_then(|s| Ok(s.list()?.len())).unwrap_or(0);
            crate::daemon::api::info(&entries, images, &e.paths.root, &e.bridge.name, "")
        }
    };
    if json {
        println!("{doc}");
        return Ok(0);
    }
    print!("{}", render(&doc, daemon.is_some(), ctx.sim.is_some()));
    Ok(0)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The document as `docker info`'s Server section lays it out.
fn render(doc: &Value, via_daemon: bool, simulated: bool) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!(" {k}: {v}\n"));
    line(
        "Server",
        if via_daemon {
            "ctrace daemon".into()
        } else if simulated {
            "the engine in this process (simulated host)".into()
        } else {
            "the engine in this process (no daemon)".into()
        },
    );
    line("Containers", s(&doc["Containers"]));
    line("  Running", s(&doc["ContainersRunning"]));
    line("  Paused", s(&doc["ContainersPaused"]));
    line("  Stopped", s(&doc["ContainersStopped"]));
    line("Images", s(&doc["Images"]));
    line("Server Version", s(&doc["ServerVersion"]));
    line("Storage Driver", s(&doc["Driver"]));
    line("Cgroup Driver", s(&doc["CgroupDriver"]));
    line("Cgroup Version", s(&doc["CgroupVersion"]));
    let mut runtimes: Vec<String> = doc["Runtimes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    runtimes.sort();
    line("Runtimes", runtimes.join(" "));
    line("Default Runtime", s(&doc["DefaultRuntime"]));
    line("Kernel Version", s(&doc["KernelVersion"]));
    line("Operating System", s(&doc["OperatingSystem"]));
    line("Architecture", s(&doc["Architecture"]));
    line("CPUs", s(&doc["NCPU"]));
    line("Name", s(&doc["Name"]));
    line("Root Dir", s(&doc["DockerRootDir"]));
    let otlp = &doc["OtlpExport"];
    if otlp.is_object() {
        line(
            "OTLP Export",
            format!(
                "live to {} — {} spans sent, {} dropped (queue full), {} failed",
                s(&otlp["Endpoint"]),
                s(&otlp["SentSpans"]),
                s(&otlp["DroppedSpans"]),
                s(&otlp["FailedSpans"])
            ),
        );
        if let Some(e) = otlp["LastError"].as_str() {
            line("  Last Error", e.to_string());
        }
    } else if via_daemon {
        line(
            "OTLP Export",
            "off (start the daemon with OTEL_EXPORTER_OTLP_ENDPOINT set)".into(),
        );
    } else {
        line(
            "OTLP Export",
            "after each command when OTEL_EXPORTER_OTLP_ENDPOINT is set (no daemon: nothing queued)"
                .into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_counters_are_shown_when_the_daemon_exports() {
        let doc = serde_json::json!({
            "Containers": 3, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 2,
            "Runtimes": {"runc": {}, "embedded": {}},
            "OtlpExport": {"Endpoint": "http://c:4318/v1/traces", "SentSpans": 40,
                           "DroppedSpans": 7, "FailedSpans": 0, "LastError": null},
        });
        let text = render(&doc, true, false);
        assert!(text.contains(" Containers: 3\n   Running: 1\n"), "{text}");
        assert!(text.contains(" Runtimes: embedded runc\n"), "{text}");
        assert!(
            text.contains("live to http://c:4318/v1/traces — 40 spans sent, 7 dropped"),
            "{text}"
        );
        assert!(!text.contains("Last Error"), "{text}");
        let text = render(&serde_json::json!({}), true, false);
        assert!(text.contains("OTLP Export: off"), "{text}");
    }
}
