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
    if ext == "svg" {
        let mut svg = String::new();
        draw(
            SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area(),
            history,
        )
        .map_err(fail)?;
        return Ok(svg.into_bytes());
    }
    let (w, h) = (800u32, 500u32);
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

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    history: &History,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
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
    let last = history.epochs.len().max(2) as f64;
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
