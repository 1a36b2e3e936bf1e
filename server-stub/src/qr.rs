//! QR codes for the kiosk: a payload rendered as SVG, or as a grayscale PNG
//! (8 pixels per module, a 4-module quiet zone).

use crate::error::{Error, Result};

fn encode(payload: &str) -> Result<qrcode::QrCode> {
    qrcode::QrCode::new(payload.as_bytes()).map_err(|e| Error::internal("qr", e))
}

/// The QR code of `payload` as an SVG document (at least 200 × 200).
pub fn svg(payload: &str) -> Result<String> {
    Ok(encode(payload)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The QR code of `payload` as a grayscale PNG.
pub fn png(payload: &str) -> Result<Vec<u8>> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let qr = encode(payload)?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
            for dy in 0..SCALE {
                let row = (my * SCALE + dy) * side;
                pixels[row + mx * SCALE..row + mx * SCALE + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side).map_err(|e| Error::internal("qr size", e))?;
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::internal("png", e))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::internal("png", e))?;
    }
    Ok(out)
}
