//! The registrations-per-day chart above the customer list: the counts (kept in memory for a
//! minute per publisher: the only aggregate the pages compute) and their SVG.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use maud::{Markup, html};

use crate::domain::PublisherId;
use crate::error::ApiError;
use crate::state::AppState;

/// Days in the registrations chart.
const CHART_DAYS: i64 = 30;
/// How long a chart is served from memory.
const CHART_TTL: Duration = Duration::from_secs(60);

/// Registrations per day.
pub type Days = Arc<Vec<(NaiveDate, i64)>>;

/// Registrations-per-day charts, per publisher, for [`CHART_TTL`].
#[derive(Default)]
pub struct ChartCache(Mutex<HashMap<PublisherId, (Instant, Days)>>);

/// The publisher's registrations of the last [`CHART_DAYS`] days.
pub async fn days(state: &AppState, publisher: PublisherId) -> Result<Days, ApiError> {
    if let Ok(cache) = state.charts.0.lock()
        && let Some((at, days)) = cache.get(&publisher)
        && at.elapsed() < CHART_TTL
    {
        return Ok(days.clone());
    }
    let days = Arc::new(
        crate::service::customers::registrations_per_day(state, publisher, CHART_DAYS).await?,
    );
    if let Ok(mut cache) = state.charts.0.lock() {
        cache.insert(publisher, (Instant::now(), days.clone()));
    }
    Ok(days)
}

/// Registrations per day, as an SVG bar chart.
pub fn chart(days: &[(NaiveDate, i64)]) -> Markup {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let total: i64 = days.iter().map(|(_, n)| n).sum();
    let (w, h, pad) = (900.0_f64, 140.0_f64, 20.0_f64);
    let slot = (w - 2.0 * pad) / days.len().max(1) as f64;
    html! {
        div.chart {
            strong { "Registrations per day, last " (days.len()) " days" }
            span.muted { " · " (total) " in all · most in a day: " (days.iter().map(|(_, n)| *n).max().unwrap_or(0)) }
            svg id="registrations-chart" viewBox={ "0 0 " (w) " " (h + 24.0) } role="img" aria-label="Registrations per day" {
                line x1=(pad) y1=(h) x2=(w - pad) y2=(h) stroke="#cbd2d9" {}
                @for (i, (day, n)) in days.iter().enumerate() {
                    @let bar = if *n == 0 { 0.0 } else { ((*n as f64) / (max as f64) * (h - 10.0)).max(2.0) };
                    rect x=(format!("{:.1}", pad + i as f64 * slot + 1.0)) y=(format!("{:.1}", h - bar))
                        width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{:.1}", bar)) fill="#1a56db" {
                        title { (day.format("%Y-%m-%d")) ": " (n) }
                    }
                }
                @if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
                    text x=(pad) y=(h + 16.0) font-size="11" fill="#7b8794" { (first.format("%b %d")) }
                    text x=(w - pad) y=(h + 16.0) font-size="11" fill="#7b8794" text-anchor="end" { (last.format("%b %d")) }
                }
            }
        }
    }
}
