//! Logs (tracing, through the non-blocking [`sink`]) and metrics (Prometheus).

pub mod note;
pub mod sampler;
pub mod sink;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the log subscriber: JSON lines or human-readable, filtered by `log.level`
/// (`RUST_LOG` wins when set), written to stderr off the caller's thread ([`sink`]). Only the
/// first call in a process takes effect. Access lines (target `access`) are written by the
/// edge itself (`http::access`), when this filter enables `access` at INFO.
pub fn init_logs(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink::SinkWriter);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            // The innermost span once (`span`), not again in a list (`spans`).
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Writes out the log lines still waiting (call before the process exits).
pub fn flush_logs() {
    sink::stderr().flush();
}

/// The process-wide Prometheus recorder (one per process: tests start many servers).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            const LATENCY: &[f64] = &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Histograms keep every sample until upkeep folds them: without a scrape, memory
            // would grow with every request.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            // Shown from the start: a zero is an answer, a missing series is not.
            metrics::counter!(sink::DROPPED).increment(0);
            handle
        })
        .clone()
}
