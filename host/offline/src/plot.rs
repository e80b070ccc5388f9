//! The plots of `edgescore eval`: the ROC curve, the precision-recall curve
//! and the score distribution by class, each as PNG and as SVG.
//!
//! Each plot is described once as a [`Chart`] and drawn by one function
//! with `plotters` on two backends: an RGB buffer that `png` encodes, and
//! an SVG string. The same input gives the same bytes (nothing reads the
//! clock or the machine's fonts).
//!
//! Text is drawn with Noto Sans Regular from the `ttf-noto-sans` crate,
//! embedded in the binary and registered with plotters' `ab_glyph`
//! renderer, so plots have their titles and labels on a machine without
//! system fonts or fontconfig. That crate was chosen over `dejavu` (a 5.5 MB
//! download of every DejaVu face) and `epaint_default_fonts` (tied to egui's
//! releases, with emoji faces and the Ubuntu font licence): it is one
//! 200 KB face selected by a feature, with no dependencies, and the face is
//! under Apache-2.0, the licence of this project. SVG files keep their text
//! as text and ask for Noto Sans, the face their layout was measured with,
//! then any sans-serif face.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::eval::{Curve, Labeled, Metric};

/// The size of every plot, in pixels (the SVG's user units too).
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 600;
/// The name the embedded face is registered under, which SVG files give as
/// their CSS `font-family` list.
pub(crate) const FONT: &str = "Noto Sans, sans-serif";
/// The score histogram's number of bins over [0, 1].
const BINS: usize = 50;

const MODEL: RGBColor = RGBColor(31, 119, 180);
const FRAUD: RGBColor = RGBColor(214, 39, 40);
const REFERENCE: RGBColor = RGBColor(120, 120, 120);

/// One plot in both formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plot {
    pub png: Vec<u8>,
    pub svg: String,
}

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font did not parse: a broken build, not bad input.
    #[error("the embedded font (Noto Sans Regular) could not be loaded")]
    Font,

    #[error("cannot draw the {plot} plot as {format}: {source}")]
    Draw {
        plot: &'static str,
        format: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("cannot encode the {plot} plot as PNG: {source}")]
    Encode {
        plot: &'static str,
        #[source]
        source: png::EncodingError,
    },
}

/// The ROC curve with the diagonal of a random ranking. Where the AUC is
/// undefined there is no curve to draw: the plot says why instead.
pub fn roc(curve: &Curve, auc: Metric) -> Result<Plot, PlotError> {
    let mut lines = vec![Line {
        label: "random ranking".to_owned(),
        color: REFERENCE,
        dashed: true,
        points: vec![(0.0, 0.0), (1.0, 1.0)],
    }];
    if auc.value().is_some() {
        lines.push(Line {
            label: "model".to_owned(),
            color: MODEL,
            dashed: false,
            points: curve.clone(),
        });
    }
    Chart {
        name: "ROC",
        title: title("ROC curve", "AUC", auc),
        x_label: "false positive rate",
        y_label: "true positive rate",
        y_max: 1.0,
        legend: SeriesLabelPosition::LowerRight,
        lines,
        undefined: undefined(auc),
    }
    .render()
}

/// The precision-recall curve, drawn as steps (precision holds until
/// recall moves), with the base rate that a random ranking reaches. Where
/// average precision is undefined the plot says why instead.
pub fn precision_recall(
    curve: &Curve,
    average_precision: Metric,
    base_rate: f64,
) -> Result<Plot, PlotError> {
    let mut lines = Vec::new();
    if average_precision.value().is_some() {
        lines.push(Line {
            label: format!("base rate {base_rate:.4}"),
            color: REFERENCE,
            dashed: true,
            points: vec![(0.0, base_rate), (1.0, base_rate)],
        });
        let mut steps = Vec::with_capacity(curve.len() * 2);
        let mut last_recall = 0.0;
        for &(recall, precision) in curve {
            steps.push((last_recall, precision));
            steps.push((recall, precision));
            last_recall = recall;
        }
        lines.push(Line {
            label: "model".to_owned(),
            color: MODEL,
            dashed: false,
            points: steps,
        });
    }
    Chart {
        name: "precision-recall",
        title: title("Precision-recall curve", "AP", average_precision),
        x_label: "recall",
        y_label: "precision",
        y_max: 1.0,
        legend: SeriesLabelPosition::LowerLeft,
        lines,
        undefined: undefined(average_precision),
    }
    .render()
}

/// The score histogram of each class in [`BINS`] bins, each scaled to its
/// own fullest bin (fraud is too rare to show on a shared scale); the
/// legend gives each class's events and fullest bin. NaN scores are left
/// out; scores outside [0, 1] count in the end bins.
pub fn score_distribution(data: &[Labeled]) -> Result<Plot, PlotError> {
    let mut lines = Vec::with_capacity(2);
    for (positive, name, color) in [(false, "legit", MODEL), (true, "fraud", FRAUD)] {
        let mut counts = [0u64; BINS];
        for d in data
            .iter()
            .filter(|d| d.positive == positive && !d.score.is_nan())
        {
            counts[((d.score.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        let events: u64 = counts.iter().sum();
        let peak = counts.iter().copied().max().unwrap_or(0);
        let mut points = Vec::with_capacity(BINS * 2);
        for (i, &c) in counts.iter().enumerate() {
            let share = c as f64 / peak.max(1) as f64;
            points.push((i as f64 / BINS as f64, share));
            points.push(((i + 1) as f64 / BINS as f64, share));
        }
        lines.push(Line {
            label: format!("{name}: {events} events, fullest bin {peak}"),
            color,
            dashed: false,
            points,
        });
    }
    Chart {
        name: "score distribution",
        title: "Score distribution by class".to_owned(),
        x_label: "score",
        y_label: "events per bin / the class's fullest bin",
        y_max: 1.05,
        legend: SeriesLabelPosition::UpperMiddle,
        lines,
        undefined: None,
    }
    .render()
}

/// `ROC curve (AUC = 0.9500)`, or `ROC curve (AUC undefined)`.
fn title(what: &str, metric_name: &str, metric: Metric) -> String {
    match metric {
        Metric::Value(v) => format!("{what} ({metric_name} = {v:.4})"),
        Metric::Undefined(_) => format!("{what} ({metric_name} undefined)"),
    }
}

fn undefined(metric: Metric) -> Option<&'static str> {
    match metric {
        Metric::Value(_) => None,
        Metric::Undefined(why) => Some(why),
    }
}

/// What a plot shows, whatever it is drawn on. Both axes run from 0; x to
/// 1, y to `y_max`.
struct Chart {
    /// The plot's name in errors.
    name: &'static str,
    title: String,
    x_label: &'static str,
    y_label: &'static str,
    y_max: f64,
    legend: SeriesLabelPosition,
    lines: Vec<Line>,
    /// Why there is no curve, written in the upper middle of the plot
    /// (clear of the ROC diagonal).
    undefined: Option<&'static str>,
}

/// One polyline of a chart, in data coordinates, with its legend entry.
struct Line {
    label: String,
    color: RGBColor,
    /// Reference lines (what a random ranking gives) are dashed.
    dashed: bool,
    points: Vec<(f64, f64)>,
}

impl Chart {
    fn render(&self) -> Result<Plot, PlotError> {
        register_font()?;
        Ok(Plot {
            png: self.png()?,
            svg: self.svg()?,
        })
    }

    fn png(&self) -> Result<Vec<u8>, PlotError> {
        let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
        let area = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        self.draw(area).map_err(|e| self.draw_error("PNG", e))?;
        let encode = |source| PlotError::Encode {
            plot: self.name,
            source,
        };
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(encode)?;
        writer.write_image_data(&rgb).map_err(encode)?;
        writer.finish().map_err(encode)?;
        Ok(png)
    }

    fn svg(&self) -> Result<String, PlotError> {
        let mut svg = String::new();
        let area = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        self.draw(area).map_err(|e| self.draw_error("SVG", e))?;
        Ok(svg)
    }

    fn draw_error<E>(&self, format: &'static str, source: DrawingAreaErrorKind<E>) -> PlotError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        PlotError::Draw {
            plot: self.name,
            format,
            source: Box::new(source),
        }
    }

    /// Title, axes with ticks, grid and labels, the lines with a legend,
    /// and the reason for a missing curve.
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 26))
            .margin(20)
            .x_label_area_size(56)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..1.0, 0.0..self.y_max)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|v: &f64| format!("{v:.1}"))
            .y_label_formatter(&|v: &f64| format!("{v:.1}"))
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .max_light_lines(2)
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for line in &self.lines {
            let style = line.color.stroke_width(if line.dashed { 2 } else { 3 });
            let points = thin(&line.points, self.y_max);
            let series = if line.dashed {
                chart.draw_series(DashedLineSeries::new(points, 8, 6, style))?
            } else {
                chart.draw_series(LineSeries::new(points, style))?
            };
            series
                .label(line.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        if !self.lines.is_empty() {
            chart
                .configure_series_labels()
                .position(self.legend.clone())
                .label_font((FONT, 15))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()?;
        }
        if let Some(why) = self.undefined {
            let style = TextStyle::from((FONT, 24).into_font())
                .color(&FRAUD)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                why.to_owned(),
                (0.5, self.y_max * 0.75),
                style,
            )))?;
        }
        root.present()
    }
}

/// A polyline less each point that falls in the same cell of a
/// `CELLS` x `CELLS` grid over the axes as the point kept before it; the
/// first and last points are always kept. A curve over every threshold of a
/// large file has tens of thousands of points, far more than the plot has
/// pixels, and each would be written out in the SVG.
fn thin(points: &[(f64, f64)], y_max: f64) -> Vec<(f64, f64)> {
    const CELLS: f64 = 2000.0;
    let cell = |(x, y): (f64, f64)| {
        (
            (x * CELLS).round() as i64,
            (y / y_max * CELLS).round() as i64,
        )
    };
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for (i, &point) in points.iter().enumerate() {
        let last = i + 1 == points.len();
        if last || kept.last().is_none_or(|&k| cell(k) != cell(point)) {
            kept.push(point);
        }
    }
    kept
}

/// Registers the embedded face under [`FONT`], once per process.
pub(crate) fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, ttf_noto_sans::REGULAR).is_ok()
    });
    if registered {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PNG decodes to a `WIDTH` x `HEIGHT` RGB image with more than one
    /// colour in it, and the SVG is well-formed XML of the same size whose
    /// text elements include every one of `texts`.
    fn check(plot: &Plot, texts: &[&str]) {
        assert_eq!(&plot.png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&plot.png[12..16], b"IHDR");
        assert_eq!(plot.png[16..20], WIDTH.to_be_bytes());
        assert_eq!(plot.png[20..24], HEIGHT.to_be_bytes());
        let mut reader = png::Decoder::new(std::io::Cursor::new(&plot.png))
            .read_info()
            .expect("PNG header");
        let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut pixels).expect("PNG data");
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let background = &pixels[..3];
        let drawn = pixels.chunks_exact(3).filter(|p| *p != background).count();
        assert!(drawn > 5_000, "only {drawn} pixels drawn");

        let svg = roxmltree::Document::parse(&plot.svg).expect("well-formed SVG");
        let root = svg.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some(WIDTH.to_string().as_str()));
        let written: Vec<&str> = svg
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for text in texts {
            assert!(written.contains(text), "no {text:?} in {written:?}");
        }
    }

    fn curve() -> Curve {
        vec![(0.0, 0.0), (0.1, 0.8), (0.4, 0.95), (1.0, 1.0)]
    }

    #[test]
    fn roc_has_title_axes_ticks_and_legend() {
        let plot = roc(&curve(), Metric::Value(0.95)).expect("plot");
        check(
            &plot,
            &[
                "ROC curve (AUC = 0.9500)",
                "false positive rate",
                "true positive rate",
                "0.0",
                "0.5",
                "1.0",
                "model",
                "random ranking",
            ],
        );
    }

    #[test]
    fn precision_recall_has_the_base_rate() {
        let plot = precision_recall(&curve(), Metric::Value(0.9), 0.02).expect("plot");
        check(
            &plot,
            &[
                "Precision-recall curve (AP = 0.9000)",
                "recall",
                "precision",
                "model",
                "base rate 0.0200",
            ],
        );
    }

    #[test]
    fn score_distribution_has_both_classes() {
        let data: Vec<Labeled> = (0..200)
            .map(|i| Labeled {
                score: (f64::from(i) + 0.5) / 200.0,
                positive: i % 10 == 0,
            })
            .chain([Labeled {
                score: f64::NAN,
                positive: true,
            }])
            .collect();
        let plot = score_distribution(&data).expect("plot");
        check(
            &plot,
            &[
                "Score distribution by class",
                "score",
                "events per bin / the class's fullest bin",
                "legit: 180 events, fullest bin 4",
                "fraud: 20 events, fullest bin 1",
            ],
        );
    }

    /// An undefined metric gets no number in the title, no curve, and its
    /// reason written in the plot.
    #[test]
    fn an_undefined_metric_is_written_not_drawn() {
        let why = "no positive labels";
        let plot = roc(&curve(), Metric::Undefined(why)).expect("plot");
        check(&plot, &["ROC curve (AUC undefined)", why]);
        assert!(!plot.svg.contains(">model<"));
        let plot = precision_recall(&Vec::new(), Metric::Undefined(why), 0.0).expect("plot");
        check(&plot, &["Precision-recall curve (AP undefined)", why]);
        let empty = score_distribution(&[]).expect("plot");
        check(&empty, &["legit: 0 events, fullest bin 0"]);
    }

    /// A curve with a point per event keeps about a point per cell of the
    /// grid, its ends, and its corners.
    #[test]
    fn a_long_curve_is_thinned_to_the_plot_resolution() {
        let n = 100_000;
        let curve: Curve = (0..=n)
            .map(|i| f64::from(i) / f64::from(n))
            .map(|x| (x, x.sqrt()))
            .collect();
        let thinned = thin(&curve, 1.0);
        assert!(thinned.len() < 4_100, "{} points", thinned.len());
        assert_eq!(thinned.first(), curve.first());
        assert_eq!(thinned.last(), curve.last());
        let step = [(0.0, 1.0), (0.5, 1.0), (0.5, 0.2), (1.0, 0.2)];
        assert_eq!(thin(&step, 1.0), step);
        let plot = roc(&curve, Metric::Value(0.66)).expect("plot");
        assert!(plot.svg.len() < 200_000, "{} bytes of SVG", plot.svg.len());
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        let first = roc(&curve(), Metric::Value(0.95)).expect("plot");
        let second = roc(&curve(), Metric::Value(0.95)).expect("plot");
        assert_eq!(first, second);
        let other = roc(&vec![(0.0, 0.0), (1.0, 1.0)], Metric::Value(0.5)).expect("plot");
        assert_ne!(first.png, other.png);
    }
}
