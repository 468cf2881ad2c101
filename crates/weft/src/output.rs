//! Tables for people, JSON for scripts.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The error chain on one line: each cause once, outermost first, joined
/// by ": ". No error repeats its source in its own message (the workspace's
/// error rule), so nothing needs to be filtered out here.
pub fn one_line(err: &anyhow::Error) -> String {
    let causes: Vec<String> = err.chain().map(ToString::to_string).collect();
    causes.join(": ").replace('\n', " ")
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Print rows under headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// "3.2 MiB" style sizes.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long ago a Unix time was, for people: "never", "5s ago", "3m 2s ago".
pub fn age(unix: i64, now: i64) -> String {
    if unix <= 0 {
        return "never".into();
    }
    let secs = (now - unix).max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m {}s ago", secs / 60, secs % 60),
        3600..86400 => format!("{}h {}m ago", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages() {
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(age(0, 100), "never");
        assert_eq!(age(95, 100), "5s ago");
        assert_eq!(age(1000 - 182, 1000), "3m 2s ago");
        assert_eq!(age(10000 - 7300, 10000), "2h 1m ago");
    }

    #[test]
    fn error_chains_print_each_cause_once_in_order() {
        let err = anyhow::anyhow!("inner problem")
            .context("outer")
            .context("top");
        assert_eq!(one_line(&err), "top: outer: inner problem");
        let multi_line = anyhow::anyhow!("first\nsecond").context("read x");
        assert_eq!(one_line(&multi_line), "read x: first second");
    }

    /// A chain as a user sees it: context of the binary, a library error
    /// that says what it was doing, the OS error as its source.
    #[test]
    fn a_library_chain_reads_once() {
        #[derive(Debug)]
        struct Bind {
            port: u16,
            ifname: String,
            source: std::io::Error,
        }
        impl std::fmt::Display for Bind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "bind UDP port {} for {}", self.port, self.ifname)
            }
        }
        impl std::error::Error for Bind {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let err = anyhow::Error::new(Bind {
            port: 51820,
            ifname: "wg0".into(),
            source: std::io::Error::from_raw_os_error(libc::EADDRINUSE),
        })
        .context("create network blue");
        assert_eq!(
            one_line(&err),
            "create network blue: bind UDP port 51820 for wg0: Address already in use (os error 98)"
        );
    }

    /// The library errors the CLI prints follow the rule: the message does
    /// not contain the source's text.
    #[test]
    fn library_errors_do_not_repeat_their_source() {
        let wg = weft_wg::WgError::Tun {
            ifname: "wg0".into(),
            source: std::io::Error::from_raw_os_error(libc::EBUSY),
        };
        let err = anyhow::Error::new(wg);
        assert_eq!(
            one_line(&err),
            "create TUN wg0: Device or resource busy (os error 16)"
        );
    }
}
