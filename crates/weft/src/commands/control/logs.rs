//! `weft control logs HOST [-f]`: a host's log records, as its agent
//! streamed them, through the tenant's REST API
//! (`GET /v1/hosts/{id}/logs`).

use super::rest;
use crate::api_client::{ApiArgs, ApiClient};
use crate::output::Format;
use anyhow::{Result, bail};
use http_body_util::BodyExt as _;
use std::io::Write as _;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(clap::Args)]
pub struct Args {
    /// The host: its name or its id.
    host: String,
    /// Keep going: print new records as they come (Ctrl-C stops).
    #[arg(short, long)]
    follow: bool,
    /// Only records since then: a duration ago (90s, 30m, 1h, 7d) or Unix
    /// seconds.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only records at this level or more severe.
    #[arg(long, value_enum)]
    level: Option<Level>,
    /// Only the last N records (and, with --follow, the new ones).
    #[arg(short = 'n', long, value_name = "N")]
    tail: Option<u64>,
    #[command(flatten)]
    api: ApiArgs,
}

fn query(args: &Args) -> Result<String> {
    let mut params = Vec::new();
    if let Some(since) = &args.since {
        if since.is_empty() || !since.bytes().all(|b| b.is_ascii_alphanumeric()) {
            bail!(
                "invalid --since {}: expected a duration such as 90s, 30m, 1h or 7d, or Unix seconds",
                weft_model::error::shown(since)
            );
        }
        params.push(format!("since={since}"));
    }
    if let Some(level) = args.level {
        let level = format!("{level:?}").to_ascii_lowercase();
        params.push(format!("level={level}"));
    }
    if let Some(tail) = args.tail {
        params.push(format!("tail={tail}"));
    }
    if args.follow {
        params.push("follow=true".into());
    }
    Ok(if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    })
}

/// `ms` (Unix milliseconds) as UTC, `2026-12-07T20:06:01.123Z`.
pub fn utc(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One record for people: time, level, target, message.
pub fn human(line: &str) -> String {
    let Ok(r) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_string();
    };
    format!(
        "{} {:<5} {}: {}",
        utc(r["time_ms"].as_i64().unwrap_or(0)),
        r["level"].as_str().unwrap_or("?").to_ascii_uppercase(),
        r["target"].as_str().unwrap_or(""),
        r["message"].as_str().unwrap_or("")
    )
}

pub async fn exec(format: Format, args: Args) -> Result<()> {
    let client = ApiClient::new(&args.api)?;
    let id = rest::host_id(&client, &args.host).await?;
    let path = format!("{}{}", rest::LOGS.path_with(&[&id]), query(&args)?);
    let mut body = client.get(&path).await?.into_body();
    let mut pending = Vec::new();
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            match format {
                Format::Json => writeln!(out, "{line}")?,
                Format::Table => writeln!(out, "{}", human(&line))?,
            }
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
