//! Tracing: how ctrace records what it does, and the trace files that come out of it.
//!
//! - [`recorder`]: the `tracing` layer that collects spans (in the engine, the shim and the init);
//! - [`format`]: the `ctrace-trace/1` file format;
//! - [`store`]: writing, listing and finding trace files under `<root>/traces/`;
//! - [`explain`]: the narrated terminal timeline of `--explain`;
//! - exporters, each reading trace files: [`folded`] (folded stacks, flamegraphs), [`diff`],
//!   [`chrome`] (Perfetto), [`jaeger`] (Jaeger UI JSON), [`otlp`] (OTLP JSON, gRPC, HTTP), with
//!   what they share in [`export`].
//!
//! Phases are spans named after the catalog (`crate::lessons::catalog`); open one with
//! [`phase_span!`](crate::phase_span) so an unknown name fails to compile.

pub mod chrome;
pub mod clock;
pub mod diff;
pub mod explain;
pub mod export;
pub mod folded;
pub mod format;
pub mod jaeger;
pub mod otlp;
#[cfg(test)]
mod props;
pub mod recorder;
pub mod speedscope;
pub mod store;
pub mod zipkin;

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;

/// Opens a phase span: `phase_span!("start.mount", rootfs = %path)`.
///
/// Every phase span carries an empty `note` (one line on what happened to *this* container, shown
/// by `--explain`) and `error`, which marks the span failed.
#[macro_export]
macro_rules! phase_span {
    ($name:literal $(, $($fields:tt)*)?) => {{
        const _: () = assert!(
            $crate::lessons::catalog::contains($name),
            concat!("span name is not in the phase catalog: ", $name)
        );
        ::tracing::info_span!(
            target: "ctrace",
            $name,
            note = ::tracing::field::Empty,
            error = ::tracing::field::Empty
            $(, $($fields)*)?
        )
    }};
}

/// Records a kernel-level action (or any notable step) as an event of the current span:
/// `kernel_event!(src = %a, dst = %b, "mount(overlay)")`.
#[macro_export]
macro_rules! kernel_event {
    ($($t:tt)*) => { ::tracing::info!(target: "ctrace", $($t)*) };
}

/// Records `note` on a span: what happened this time, in a few words.
pub fn note(span: &tracing::Span, note: impl std::fmt::Display) {
    span.record("note", tracing::field::display(note));
}

/// Marks a span failed with `err`.
pub fn fail(span: &tracing::Span, err: &dyn std::fmt::Display) {
    span.record("error", tracing::field::display(err));
}

/// Whether traces are recorded (`CTRACE_TRACE=off` turns recording off).
pub fn recording_enabled() -> bool {
    !matches!(
        std::env::var("CTRACE_TRACE").as_deref(),
        Ok("off" | "0" | "false" | "no")
    )
}

/// Installs the recorder (and an optional live view) as this process's subscriber.
/// `traceparent` continues a trace started by another process.
pub fn install(
    process: &'static str,
    traceparent: Option<&str>,
    live: Option<Arc<dyn recorder::LiveView>>,
) {
    let installed = recorder::active();
    let layer = recorder::Recorder::new(process, traceparent);
    // A second install in one process (tests, a shim forked from the CLI) keeps the first
    // subscriber; the recorder state is shared, so that is harmless, and no second one is built.
    if !installed {
        let subscriber = tracing_subscriber::registry().with(layer);
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
    if let Some(live) = live {
        recorder::set_live_view(live);
    }
}
