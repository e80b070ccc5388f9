//! PNG plots for `edgescore eval`: the ROC curve, the precision-recall
//! curve and the score distribution by class. Drawn on a small RGB canvas
//! with a built-in 5x7 font and written as PNG (zlib through `flate2`), so
//! plotting needs no system library or font.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::eval::{Curve, Labeled, Metric};

const WIDTH: usize = 640;
const HEIGHT: usize = 480;
/// The plot area inside the canvas.
const LEFT: usize = 70;
const RIGHT: usize = 610;
const TOP: usize = 50;
const BOTTOM: usize = 420;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GREY: Rgb = [220, 220, 220];
const BLUE: Rgb = [31, 119, 180];
const RED: Rgb = [214, 39, 40];

/// An RGB raster.
struct Canvas {
    pixels: Vec<Rgb>,
}

impl Canvas {
    fn new() -> Self {
        let mut canvas = Self {
            pixels: vec![WHITE; WIDTH * HEIGHT],
        };
        canvas.frame();
        canvas
    }

    fn set(&mut self, x: i64, y: i64, color: Rgb) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            self.pixels[y as usize * WIDTH + x as usize] = color;
        }
    }

    /// A line `thickness` pixels wide (Bresenham with a square pen).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: Rgb, thickness: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thickness {
                for oy in 0..thickness {
                    self.set(x + ox - thickness / 2, y + oy - thickness / 2, color);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Canvas coordinates of a point in [0, 1] x [0, 1] data space.
    fn at(x: f64, y: f64) -> (i64, i64) {
        let px = LEFT as f64 + x.clamp(0.0, 1.0) * (RIGHT - LEFT) as f64;
        let py = BOTTOM as f64 - y.clamp(0.0, 1.0) * (BOTTOM - TOP) as f64;
        (px.round() as i64, py.round() as i64)
    }

    /// Axes, grid lines and tick labels at 0, 0.25, ..., 1.
    fn frame(&mut self) {
        for i in 0..=4 {
            let v = f64::from(i) / 4.0;
            self.line(Self::at(v, 0.0), Self::at(v, 1.0), GREY, 1);
            self.line(Self::at(0.0, v), Self::at(1.0, v), GREY, 1);
            let label = format!("{v}");
            let (x, y) = Self::at(v, 0.0);
            self.text(x - 8, y + 8, &label, BLACK);
            let (x, y) = Self::at(0.0, v);
            self.text(x - 14 - 12 * label.len() as i64, y - 7, &label, BLACK);
        }
        self.line(Self::at(0.0, 0.0), Self::at(1.0, 0.0), BLACK, 2);
        self.line(Self::at(0.0, 0.0), Self::at(0.0, 1.0), BLACK, 2);
    }

    fn polyline(&mut self, points: &[(f64, f64)], color: Rgb) {
        for pair in points.windows(2) {
            self.line(
                Self::at(pair[0].0, pair[0].1),
                Self::at(pair[1].0, pair[1].1),
                color,
                3,
            );
        }
    }

    /// Text at 2x scale; characters without a glyph are drawn as spaces.
    fn text(&mut self, x: i64, y: i64, text: &str, color: Rgb) {
        for (i, c) in text.chars().enumerate() {
            let Some(rows) = glyph(c.to_ascii_uppercase()) else {
                continue;
            };
            for (r, row) in rows.iter().enumerate() {
                for col in 0..5 {
                    if row & (0b10000 >> col) != 0 {
                        for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(
                                x + i as i64 * 12 + col * 2 + ox,
                                y + r as i64 * 2 + oy,
                                color,
                            );
                        }
                    }
                }
            }
        }
    }

    fn labels(&mut self, title: &str, x_label: &str, y_label: &str) {
        self.text(LEFT as i64, 4, title, BLACK);
        self.text(
            ((LEFT + RIGHT) / 2) as i64 - 6 * x_label.len() as i64,
            BOTTOM as i64 + 34,
            x_label,
            BLACK,
        );
        self.text(8, TOP as i64 - 22, y_label, BLACK);
    }

    /// The reason an undefined metric has no curve, in red across the plot.
    fn undefined(&mut self, metric: Metric) {
        if let Metric::Undefined(why) = metric {
            let (x, y) = Self::at(0.5, 0.5);
            self.text(x - 6 * why.len() as i64, y - 7, why, RED);
        }
    }

    /// The canvas as a PNG file.
    fn png(&self) -> std::io::Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(HEIGHT * (1 + WIDTH * 3));
        for row in self.pixels.chunks_exact(WIDTH) {
            raw.push(0); // filter: none
            raw.extend(row.iter().flatten());
        }
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&raw)?;
        let data = zlib.finish()?;
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = Vec::new();
        header.extend((WIDTH as u32).to_be_bytes());
        header.extend((HEIGHT as u32).to_be_bytes());
        header.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter choice, no interlace
        chunk(&mut png, b"IHDR", &header);
        chunk(&mut png, b"IDAT", &data);
        chunk(&mut png, b"IEND", &[]);
        Ok(png)
    }
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend(kind);
    png.extend(data);
    let crc = crc32(&png[start..]);
    png.extend(crc.to_be_bytes());
}

/// CRC-32 (ISO-HDLC), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The ROC curve with the diagonal of a random ranking. Where the AUC is
/// undefined there is no curve to draw: the plot says why instead.
pub fn roc_png(roc: &Curve, auc: Metric) -> std::io::Result<Vec<u8>> {
    let mut canvas = Canvas::new();
    canvas.line(Canvas::at(0.0, 0.0), Canvas::at(1.0, 1.0), GREY, 2);
    canvas.polyline(roc, BLUE);
    canvas.labels(
        &title("ROC CURVE  AUC", auc),
        "FALSE POSITIVE RATE",
        "TRUE POSITIVE RATE",
    );
    canvas.undefined(auc);
    canvas.png()
}

/// The precision-recall curve with the base rate (a random ranking). Where
/// average precision is undefined the plot says why instead.
pub fn pr_png(pr: &Curve, average_precision: Metric, base_rate: f64) -> std::io::Result<Vec<u8>> {
    let mut canvas = Canvas::new();
    if average_precision.value().is_some() {
        canvas.line(
            Canvas::at(0.0, base_rate),
            Canvas::at(1.0, base_rate),
            GREY,
            2,
        );
    }
    // A step curve: precision holds until recall moves.
    let mut steps = Vec::with_capacity(pr.len() * 2);
    let mut last = (0.0, pr.first().map_or(1.0, |p| p.1));
    for &(recall, precision) in pr {
        steps.push((last.0, precision));
        steps.push((recall, precision));
        last = (recall, precision);
    }
    canvas.polyline(&steps, BLUE);
    canvas.labels(
        &title("PRECISION-RECALL  AP", average_precision),
        "RECALL",
        "PRECISION",
    );
    canvas.undefined(average_precision);
    canvas.png()
}

/// `ROC CURVE  AUC = 0.9500`, or `... UNDEFINED` (the font has no brackets).
fn title(what: &str, metric: Metric) -> String {
    match metric {
        Metric::Value(v) => format!("{what} = {v:.4}"),
        Metric::Undefined(_) => format!("{what} UNDEFINED"),
    }
}

/// The score histogram of each class, each scaled to its own peak (fraud is
/// too rare to show on a shared scale).
pub fn distribution_png(data: &[Labeled]) -> std::io::Result<Vec<u8>> {
    const BINS: usize = 50;
    let mut canvas = Canvas::new();
    for (positive, color) in [(false, BLUE), (true, RED)] {
        let mut counts = [0u64; BINS];
        for d in data
            .iter()
            .filter(|d| d.positive == positive && !d.score.is_nan())
        {
            counts[((d.score.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        let peak = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut points = Vec::with_capacity(BINS * 2);
        for (i, &c) in counts.iter().enumerate() {
            let y = c as f64 / peak;
            points.push((i as f64 / BINS as f64, y));
            points.push(((i + 1) as f64 / BINS as f64, y));
        }
        canvas.polyline(&points, color);
    }
    canvas.labels("SCORE BY CLASS", "SCORE", "SHARE OF PEAK");
    canvas.text(RIGHT as i64 - 150, TOP as i64 + 10, "FRAUD", RED);
    canvas.text(RIGHT as i64 - 150, TOP as i64 + 30, "LEGIT", BLUE);
    canvas.png()
}

/// A 5x7 glyph, one row per byte, the leftmost pixel in bit 4.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'Y' => [17, 17, 10, 4, 4, 4, 4],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        ' ' => [0; 7],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_reference_value() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn png_has_signature_and_chunks() {
        let png = roc_png(
            &vec![(0.0, 0.0), (0.1, 0.8), (1.0, 1.0)],
            Metric::Value(0.95),
        )
        .expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    }

    /// An undefined metric gets no number in the title and its reason in
    /// the plot, in characters the font can draw.
    #[test]
    fn an_undefined_metric_is_written_not_drawn() {
        assert_eq!(
            title("ROC CURVE  AUC", Metric::Value(0.95)),
            "ROC CURVE  AUC = 0.9500"
        );
        let undefined = Metric::Undefined("no positive labels");
        assert_eq!(
            title("ROC CURVE  AUC", undefined),
            "ROC CURVE  AUC UNDEFINED"
        );
        for why in ["no positive labels", "no negative labels", "no events"] {
            assert!(why.chars().all(|c| glyph(c.to_ascii_uppercase()).is_some()));
        }
        let blank = roc_png(&Vec::new(), Metric::Value(0.5)).expect("png");
        let said = roc_png(&Vec::new(), undefined).expect("png");
        assert_ne!(blank, said);
        pr_png(&Vec::new(), undefined, 0.0).expect("png");
    }
}
