//! The results as the book shows them: markdown tables, and an SVG plot
//! of the start latencies (median bar, whisker to p90), written by hand:
//! a few rectangles and lines need no plotting library.

use std::fmt::Write;

/// One contender's start latencies and memory.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_rss_kib: u64,
}

/// The start-latency table, with each step's difference to the one before
/// (the cost of its mechanism, as this machine measured it).
pub fn latency_table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| contender | median | p90 | p99 | vs. the row above | peak RSS |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let mut prev: Option<f64> = None;
    for r in rows {
        let delta = match prev {
            Some(p) => format!("{:+.2} ms", r.median_ms - p),
            None => "".into(),
        };
        let _ = writeln!(
            t,
            "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {:.1} MiB |",
            r.name,
            r.median_ms,
            r.p90_ms,
            r.p99_ms,
            delta,
            r.max_rss_kib as f64 / 1024.0
        );
        prev = Some(r.median_ms);
    }
    t
}

/// A horizontal bar per row: median, with a whisker to p90.
pub fn svg(rows: &[Row], title: &str) -> String {
    let (left, bar_h, gap, width) = (190.0, 18.0, 8.0, 460.0);
    let max = rows.iter().map(|r| r.p90_ms).fold(1.0_f64, f64::max) * 1.1;
    let scale = width / max;
    let height = 50.0 + rows.len() as f64 * (bar_h + gap) + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">{title}</text>\n",
        w = left + width + 80.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 40.0 + i as f64 * (bar_h + gap);
        let color = if r.name.starts_with("isolab") {
            "#d9534f"
        } else if r.name.starts_with("step") {
            "#5b9bd5"
        } else {
            "#999999"
        };
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\n\
             <rect x=\"{left}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{bar_h}\" fill=\"{color}\"/>\n\
             <line x1=\"{m:.1}\" y1=\"{my}\" x2=\"{p:.1}\" y2=\"{my}\" stroke=\"black\"/>\n\
             <line x1=\"{p:.1}\" y1=\"{y1}\" x2=\"{p:.1}\" y2=\"{y2}\" stroke=\"black\"/>\n\
             <text x=\"{lx:.1}\" y=\"{ty}\">{med:.1} ms</text>\n",
            tx = left - 6.0,
            ty = y + bar_h - 4.0,
            name = r.name,
            bw = r.median_ms * scale,
            m = left + r.median_ms * scale,
            p = left + r.p90_ms * scale,
            my = y + bar_h / 2.0,
            y1 = y + 4.0,
            y2 = y + bar_h - 4.0,
            lx = left + r.p90_ms * scale + 6.0,
            med = r.median_ms,
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{y}\" fill=\"#555\">bar: median start-to-exit of /bin/true; whisker: p90</text>\n</svg>\n",
        y = height - 10.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, m: f64) -> Row {
        Row {
            name: name.into(),
            median_ms: m,
            p90_ms: m * 1.2,
            p99_ms: m * 1.5,
            max_rss_kib: 2048,
        }
    }

    #[test]
    fn table_and_plot() {
        let rows = [row("step01-clone", 2.0), row("step02-pid-ns", 2.5)];
        let t = latency_table(&rows);
        assert!(
            t.contains("| step02-pid-ns | 2.50 ms | 3.00 ms | 3.75 ms | +0.50 ms | 2.0 MiB |"),
            "{t}"
        );
        let s = svg(&rows, "start");
        assert_eq!(s.matches("<rect x=").count(), 2);
        assert!(s.ends_with("</svg>\n"));
    }
}
