//! How programs print lists: an aligned table with a header, one key per line
//! (`-q`), or one JSON object per line (`--json`); and the human forms of
//! sizes (`1.8 kB`, `72.7 MB`: decimal units, as `docker images`) and ages
//! (`5 seconds`, `about an hour`).

use std::io::{self, Write};

use crate::error::escape;
use std::time::{Duration, SystemTime};

/// Which form a listing takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// An aligned table with a header.
    #[default]
    Table,
    /// Only the key column.
    Quiet,
    /// One JSON object per line.
    Json,
}

/// A table printed with aligned columns once every row is known.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Adds a row; text from outside in it is escaped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| escape(&c).into_owned()).collect());
    }

    /// Prints the table, columns separated by at least three spaces.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}   ", w = widths[c]));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Prints `items` in `format`: a table of `header` and `cells`, their first
/// cell alone, or each serialized as one JSON line.
pub fn print_list<T: serde::Serialize>(
    out: &mut impl Write,
    format: Format,
    header: &[&str],
    items: &[T],
    cells: impl Fn(&T) -> Vec<String>,
) -> io::Result<()> {
    match format {
        Format::Table => {
            let mut table = Table::new(header);
            for item in items {
                table.row(cells(item));
            }
            table.print(out)
        }
        Format::Quiet => {
            for item in items {
                writeln!(
                    out,
                    "{}",
                    escape(&cells(item).into_iter().next().unwrap_or_default())
                )?;
            }
            Ok(())
        }
        Format::Json => {
            for item in items {
                serde_json::to_writer(&mut *out, item).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
    }
}

/// A size in decimal units with one decimal: `512 B`, `1.8 kB`, `72.7 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// How long ago `t` was, in words: `less than a second`, `5 seconds`,
/// `about a minute`, `3 hours`, `2 weeks`. Times in the future count as now.
pub fn human_age(t: SystemTime) -> String {
    human_duration(SystemTime::now().duration_since(t).unwrap_or_default())
}

/// A duration in the words of [`human_age`].
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    let (min, hour, day) = (60, 3600, 86_400);
    match s {
        0 => "less than a second".to_string(),
        1..60 => plural(s, "second"),
        60..120 => "about a minute".to_string(),
        120..3600 => plural(s / min, "minute"),
        3600..7200 => "about an hour".to_string(),
        7200..172_800 => plural(s / hour, "hour"),
        172_800..1_209_600 => plural(s / day, "day"),
        1_209_600..5_184_000 => plural(s / (7 * day), "week"),
        5_184_000..63_072_000 => plural(s / (30 * day), "month"),
        _ => plural(s / (365 * day), "year"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1.0 kB");
        assert_eq!(human_size(1803), "1.8 kB");
        assert_eq!(human_size(72_700_000), "72.7 MB");
        assert_eq!(human_size(999_999), "1.0 MB");
        assert_eq!(human_size(1 << 30), "1.1 GB");
        assert_eq!(human_size(u64::MAX), "18.4 EB");
    }

    #[test]
    fn ages() {
        let d = Duration::from_secs;
        assert_eq!(human_duration(d(0)), "less than a second");
        assert_eq!(human_duration(d(1)), "1 second");
        assert_eq!(human_duration(d(59)), "59 seconds");
        assert_eq!(human_duration(d(90)), "about a minute");
        assert_eq!(human_duration(d(600)), "10 minutes");
        assert_eq!(human_duration(d(4000)), "about an hour");
        assert_eq!(human_duration(d(36_000)), "10 hours");
        assert_eq!(human_duration(d(3 * 86_400)), "3 days");
        assert_eq!(human_duration(d(21 * 86_400)), "3 weeks");
        assert_eq!(human_duration(d(90 * 86_400)), "3 months");
        assert_eq!(human_duration(d(800 * 86_400)), "2 years");
    }

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["REF", "SIZE", "AGE"]);
        t.row(vec![
            "a-long-ref".into(),
            "1.0 kB".into(),
            "5 seconds".into(),
        ]);
        let mut out = Vec::new();
        t.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REF          SIZE     AGE\na-long-ref   1.0 kB   5 seconds\n"
        );
    }
}
