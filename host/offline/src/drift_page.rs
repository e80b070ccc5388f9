//! The HTML report of `edgescore drift`: one self-contained page (no
//! script, no file or font fetched from elsewhere) with a table of the
//! statistics per distribution, most drifted first, and per distribution
//! a bar chart of the reference's and the current file's share of events
//! in each bin, drawn with `plotters` as SVG and written into the page.
//!
//! Bin labels in a chart have their numbers cut to four significant
//! digits; the page's table of each distribution has them whole.

use plotters::coord::Shift;
use plotters::prelude::*;

use edgescore_drift::monitor::DistributionDrift;
use edgescore_drift::{DriftReport, Kind, State};

use crate::drift::most_drifted_first;
use crate::plot::{FONT, PlotError, register_font};

/// A chart's width, in SVG user units; its height grows with its bins.
const WIDTH: u32 = 800;
const ROW_HEIGHT: u32 = 26;
/// A bin's height in the chart's own units.
const SPAN: i32 = 100;

const REFERENCE: RGBColor = RGBColor(150, 150, 150);
const STABLE: RGBColor = RGBColor(31, 119, 180);
const MODERATE: RGBColor = RGBColor(230, 140, 20);
const ACT: RGBColor = RGBColor(214, 39, 40);

/// Where the two sides came from, as the page names them.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The reference: a profile's path, or the training file profiled.
    pub reference: &'a str,
    /// The current file.
    pub current: &'a str,
}

/// The whole page for `report`.
pub fn page(report: &DriftReport, sources: Sources<'_>) -> Result<String, PlotError> {
    let all = most_drifted_first(report);
    let reference_rows: u64 = report.score.reference.iter().sum();
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Drift of pipeline {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Drift of pipeline {name}</h1>\n\
         <p>Reference: <code>{reference}</code> ({reference_rows} rows). \
         Current: <code>{current}</code> ({events} events).</p>\n\
         <p>PSI over each distribution's bins, an empty bin counted as {epsilon} of its side; \
         stable under {moderate}, moderate from {moderate}, act from {act}. \
         Categorical features also have the Jensen-Shannon distance (natural log).</p>\n",
        name = escape(&report.pipeline),
        reference = escape(sources.reference),
        current = escape(sources.current),
        events = report.window_events,
        epsilon = report.psi_epsilon,
        moderate = report.config.moderate,
        act = report.config.act,
    ));

    html.push_str(
        "<h2>Most drifted first</h2>\n<table>\n<tr><th>distribution</th><th>kind</th>\
         <th>PSI</th><th>Jensen-Shannon</th><th>state</th></tr>\n",
    );
    for (i, d) in all.iter().enumerate() {
        html.push_str(&format!(
            "<tr><td><a href=\"#d{i}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>{}</tr>\n",
            escape(&d.name),
            kind_name(d.kind),
            number(d.psi),
            number(d.jensen_shannon),
            state_cell(d.state)
        ));
    }
    html.push_str("</table>\n");

    let (r, c) = (report.decisions.reference, report.decisions.current);
    html.push_str(
        "<h2>Decisions</h2>\n<table>\n<tr><th>decision</th><th>reference</th><th>current</th></tr>\n",
    );
    for (name, r_count, c_count) in [
        ("allow", r.allow, c.allow),
        ("review", r.review, c.review),
        ("block", r.block, c.block),
    ] {
        html.push_str(&format!(
            "<tr><td>{name}</td><td>{}</td><td>{}</td></tr>\n",
            count_and_share(r_count, r.total()),
            count_and_share(c_count, c.total())
        ));
    }
    html.push_str("</table>\n<h2>Distributions</h2>\n");

    for (i, d) in all.iter().enumerate() {
        html.push_str(&format!(
            "<section id=\"d{i}\">\n<h3>{} {}</h3>\n",
            escape(&d.name),
            state_badge(d.state)
        ));
        html.push_str(&chart(d)?);
        html.push_str(
            "\n<details><summary>bins</summary>\n<table>\n\
             <tr><th>bin</th><th>reference</th><th>current</th></tr>\n",
        );
        let (r_total, c_total): (u64, u64) = (d.reference.iter().sum(), d.current.iter().sum());
        for ((label, &r), &c) in d.bins.iter().zip(&d.reference).zip(&d.current) {
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                escape(label),
                count_and_share(r, r_total),
                count_and_share(c, c_total)
            ));
        }
        html.push_str("</table>\n</details>\n</section>\n");
    }
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

const STYLE: &str = "body{font-family:'Noto Sans',sans-serif;margin:2em auto;max-width:860px;\
color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{padding:0.25em 0.8em;\
text-align:left;border-bottom:1px solid #ddd}td:nth-child(n+2){font-variant-numeric:tabular-nums}\
.state{font-weight:bold;padding:0.1em 0.5em;border-radius:0.3em;color:#fff}\
.stable{background:#1f77b4}.moderate{background:#e68c14}.act{background:#d62728}\
.collecting{background:#999}svg{display:block;max-width:100%;height:auto}section{margin-top:2em}";

/// One distribution's chart: per bin, top to bottom, the reference's
/// share of its rows (grey) and the current file's (coloured by state).
fn chart(d: &DistributionDrift) -> Result<String, PlotError> {
    register_font()?;
    let shares = |counts: &[u64]| -> Vec<f64> {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        counts.iter().map(|&n| n as f64 / total).collect()
    };
    let bars = Bars {
        title: match d.psi {
            Some(psi) => format!("{}: PSI {psi:.4} ({})", d.name, d.state.name()),
            None => format!("{}: no events", d.name),
        },
        labels: d.bins.iter().map(|l| compact(l)).collect(),
        reference: shares(&d.reference),
        current: shares(&d.current),
        color: state_color(d.state),
    };
    let height = 110 + ROW_HEIGHT * bars.labels.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        bars.draw(root).map_err(|source| PlotError::Draw {
            plot: "drift",
            format: "SVG",
            source: Box::new(source),
        })?;
    }
    Ok(svg)
}

/// What one distribution's chart shows.
struct Bars {
    title: String,
    /// One per bin, top to bottom.
    labels: Vec<String>,
    /// Each side's share of its events per bin.
    reference: Vec<f64>,
    current: Vec<f64>,
    color: RGBColor,
}

impl Bars {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let slots = self.labels.len().max(1);
        let peak = self
            .reference
            .iter()
            .chain(&self.current)
            .copied()
            .fold(0.01, f64::max);
        // Bin i sits in [SPAN * (slots - 1 - i), SPAN * (slots - i)]: the
        // first at the top, its label at the middle (whole numbers keep
        // plotters' ticks there: every SPAN / 2 from 0).
        let span = SPAN as usize;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(190)
            // Room on the right for the legend.
            .build_cartesian_2d(0.0..peak * 1.3, 0..SPAN * slots as i32)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(6)
            .y_labels(2 * slots + 1)
            .x_label_formatter(&|v: &f64| format!("{:.0}%", v * 100.0))
            .y_label_formatter(&|&v: &i32| {
                let v = usize::try_from(v).unwrap_or(0);
                if v % span == span / 2 {
                    let bin = slots - 1 - (v / span).min(slots - 1);
                    self.labels.get(bin).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("share of events")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for (side, shares, fill, offset) in [
            ("reference", &self.reference, REFERENCE, 52),
            ("current", &self.current, self.color, 12),
        ] {
            let bars = shares.iter().enumerate().map(|(i, &share)| {
                let bottom = SPAN * (slots - 1 - i) as i32 + offset;
                Rectangle::new([(0.0, bottom), (share, bottom + 36)], fill.filled())
            });
            chart
                .draw_series(bars)?
                .label(side)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], fill.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()
    }
}

fn state_color(state: State) -> RGBColor {
    match state {
        State::Collecting | State::Stable => STABLE,
        State::Moderate => MODERATE,
        State::Act => ACT,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Numeric => "numeric",
        Kind::Categorical => "categorical",
    }
}

fn state_badge(state: State) -> String {
    format!("<span class=\"state {0}\">{0}</span>", state.name())
}

fn state_cell(state: State) -> String {
    format!("<td>{}</td>", state_badge(state))
}

/// A statistic to four decimals, or a dash.
fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "&ndash;".to_owned(), |v| format!("{v:.4}"))
}

/// `1234 (12.3%)`.
fn count_and_share(count: u64, total: u64) -> String {
    format!(
        "{count} ({:.1}%)",
        100.0 * count as f64 / total.max(1) as f64
    )
}

/// `label` with each number in it cut to four significant digits
/// (`[12.345678, 30)` is `[12.35, 30)`).
fn compact(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut rest = label;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit() || c == '-') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .char_indices()
            .skip(1)
            .find(|&(_, c)| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')))
            .map_or(tail.len(), |(i, _)| i);
        let token = &tail[..end];
        match token.parse::<f64>() {
            Ok(x) => out.push_str(&short_number(x)),
            Err(_) => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `x` to four significant digits, without trailing zeros; scientific
/// notation when very large or very small.
fn short_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..7).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Text for HTML, between tags or in a double-quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgescore_drift::{DriftMonitor, ProfileBuilder};

    fn report() -> DriftReport {
        let mut builder = ProfileBuilder::new(
            vec![
                ("amount".into(), Kind::Numeric),
                ("<channel>".into(), Kind::Categorical),
            ],
            10,
        );
        for i in 0..500 {
            builder.add(&[f64::from(i) * 1.234_567, f64::from(i % 2)], 0.1, "allow");
        }
        let profile = builder.finish("fraud", "t 1", "00");
        let monitor = DriftMonitor::new("fraud", "offline", profile, crate::drift::whole_file(500));
        let rows: Vec<f64> = (0..500)
            .flat_map(|i| [f64::from(i) * 3.7, f64::from(i % 3)])
            .collect();
        monitor.observe(0, &rows, &[0.1; 500], &["review"; 500]);
        monitor.report(0)
    }

    #[test]
    fn the_page_has_a_chart_per_distribution_and_escapes_names() {
        let sources = Sources {
            reference: "profile.json",
            current: "a&b.csv",
        };
        let html = page(&report(), sources).expect("page");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(
            html.matches("<svg").count(),
            3,
            "two features and the score"
        );
        assert!(html.contains("&lt;channel&gt;"));
        assert!(!html.contains("<channel>"));
        assert!(html.contains("a&amp;b.csv"));
        assert!(html.contains("Jensen-Shannon"));
        // The most drifted (amount, far past the reference) first.
        let amount = html.find("#d0\">amount<").expect("amount first");
        assert!(amount < html.find("#d2\">score<").expect("score last"));
        for svg in html.split("<svg").skip(1) {
            let end = svg.find("</svg>").expect("closed");
            roxmltree::Document::parse(&format!("<svg{}</svg>", &svg[..end]))
                .expect("well-formed SVG");
        }
    }

    #[test]
    fn numbers_in_labels_are_cut_to_four_digits() {
        assert_eq!(compact("[12.345678, 30)"), "[12.35, 30)");
        assert_eq!(compact("< -0.0000123"), "< -1.230e-5");
        assert_eq!(compact("[0.1, 1234567.8]"), "[0.1, 1234568]");
        assert_eq!(compact("other"), "other");
        assert_eq!(compact("missing"), "missing");
        assert_eq!(compact("> 1e300"), "> 1.000e300");
    }
}
