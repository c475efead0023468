//! `--plot FILE.svg|FILE.png`: training (and validation) loss per epoch, with
//! axes, labels and a legend. Text is measured (and, in PNG, drawn) with a
//! TrueType font found on the system (DejaVu Sans, Liberation Sans, ...),
//! looked up before training starts. The file is written atomically, in the
//! same step as the model (`train.rs`).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use synapse_train::History;

const FONT_PATHS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The picture of `history` as the bytes of an SVG or PNG file (by `path`'s
/// extension); the caller writes it, together with the model, atomically.
pub fn render_history(history: &History, path: &Path) -> Result<Vec<u8>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fail = |e: String| anyhow!("--plot {}: {e}", path.display());
    register_font().map_err(fail)?;
    let (w, h) = (
        800u32,
        if Lower::of(history).is_some() {
            800
        } else {
            500
        },
    );
    if ext == "svg" {
        let mut svg = String::new();
        draw(
            SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
            history,
        )
        .map_err(fail)?;
        return Ok(svg.into_bytes());
    }
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        history,
    )
    .map_err(fail)?;
    encode_png(&rgb, w, h)
}

/// Makes a system font available to plotters (once per process).
pub fn register_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for p in FONT_PATHS {
                if let Ok(bytes) = std::fs::read(p) {
                    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                    return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                        .map_err(|_| format!("the font {p} cannot be read"));
                }
            }
            Err("plots need a TrueType font (DejaVu Sans or Liberation Sans, e.g. Debian's fonts-dejavu-core) and none was found".into())
        })
        .clone()
}

/// The lower panel: the validation metric (accuracy for a classifier, mae
/// for regression) and the learning rate when the schedule changes it.
struct Lower {
    metric: Option<(&'static str, Vec<(f64, f64)>)>,
    lr: Option<Vec<(f64, f64)>>,
}

impl Lower {
    fn of(history: &History) -> Option<Self> {
        let metric = history.epochs.first().and_then(|r| r.val).and_then(|v| {
            let name = if v.accuracy.is_some() {
                "validation accuracy"
            } else {
                "validation mae"
            };
            let points = history
                .epochs
                .iter()
                .filter_map(|r| {
                    r.val
                        .and_then(|v| v.accuracy.or(v.mae))
                        .map(|m| (r.epoch as f64, m))
                })
                .collect::<Vec<_>>();
            (!points.is_empty()).then_some((name, points))
        });
        let lr: Vec<(f64, f64)> = history
            .epochs
            .iter()
            .map(|r| (r.epoch as f64, r.lr))
            .collect();
        let varies = lr.windows(2).any(|w| w[0].1 != w[1].1);
        let lr = varies.then_some(lr);
        (metric.is_some() || lr.is_some()).then_some(Self { metric, lr })
    }
}

/// The smallest and largest finite values, widened when equal.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (
            lo - 0.5 * lo.abs().max(1e-12),
            hi + 0.5 * hi.abs().max(1e-12),
        )
    }
}

fn draw_lower<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    lower: Lower,
    last: f64,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let lr_style = GREEN.mix(0.8).stroke_width(2);
    let metric_style = MAGENTA.stroke_width(2);
    let caption = match (&lower.metric, &lower.lr) {
        (Some((name, _)), Some(_)) => format!("{name} and learning rate"),
        (Some((name, _)), None) => name.to_string(),
        _ => "learning rate".to_string(),
    };
    let (primary, primary_name, primary_style, secondary) = match lower.metric {
        Some((name, points)) => (points, name, metric_style, lower.lr),
        None => (
            lower.lr.unwrap_or_default(),
            "learning rate",
            lr_style,
            None,
        ),
    };
    let (lo, hi) = range(primary.iter().map(|p| p.1));
    let (slo, shi) = range(secondary.iter().flatten().map(|p| p.1));
    let mut chart = ChartBuilder::on(&area)
        .caption(caption, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .right_y_label_area_size(if secondary.is_some() { 80 } else { 0 })
        .build_cartesian_2d(1f64..last, lo..hi)
        .map_err(e)?
        .set_secondary_coord(1f64..last, slo..shi);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(primary_name)
        .y_label_formatter(&|y| crate::progress::figure(*y))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(primary, primary_style))
        .map_err(e)?
        .label(primary_name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], primary_style));
    if let Some(lr) = secondary {
        chart
            .configure_secondary_axes()
            .y_desc("learning rate")
            .y_label_formatter(&|y| crate::progress::figure(*y))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(e)?;
        chart
            .draw_secondary_series(LineSeries::new(lr, lr_style))
            .map_err(e)?
            .label("learning rate (right axis)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], lr_style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(e)?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    history: &History,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
    let last = history.epochs.len().max(2) as f64;
    let root = match Lower::of(history) {
        Some(lower) => {
            let (upper, bottom) = root.split_vertically(500);
            draw_lower(bottom, lower, last)?;
            upper
        }
        None => root,
    };
    let train: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .map(|r| (r.epoch as f64, r.loss))
        .collect();
    let val: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .filter_map(|r| r.val.map(|v| (r.epoch as f64, v.loss)))
        .collect();
    let values = train
        .iter()
        .chain(&val)
        .map(|p| p.1)
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo.min(0.0), if hi > lo { hi } else { lo + 1.0 })
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption("Training loss per epoch", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..last, lo..hi * 1.05)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("loss")
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))
        .map_err(e)?
        .label("training loss")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    if !val.is_empty() {
        chart
            .draw_series(LineSeries::new(val, RED.stroke_width(2)))
            .map_err(e)?
            .label("validation loss")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// An RGB buffer as PNG bytes.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("encoding the PNG")?;
    writer.write_image_data(rgb).context("encoding the PNG")?;
    writer.finish().context("encoding the PNG")?;
    Ok(out)
}
