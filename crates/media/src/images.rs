//! Image sizes and thumbnails. Sizes come from the header alone (cheap, on the upload's path);
//! thumbnails are decoded in full, off the request path and only for images whose header promises
//! a size within [`MAX_PIXELS`]: a tiny file declaring 20000 × 20000 pixels (a decompression bomb)
//! gets no thumbnail and is never decoded.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// Largest image (width × height) decoded for a thumbnail: 40 megapixels, 160 MB as RGBA.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Longest side decoded for a thumbnail.
pub const MAX_SIDE: u32 = 16_384;
/// Content type of every thumbnail.
pub const THUMBNAIL_TYPE: &str = "image/jpeg";

/// Types this server decodes (for sizes and thumbnails).
const DECODED: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"];

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image this server decodes: {0}")]
    Unsupported(String),
    #[error("image over the decoding limits")]
    TooLarge,
    #[error("image could not be decoded: {0}")]
    Decode(#[from] image::ImageError),
}

/// Width and height of the image `head` (the first bytes of a file of `content_type`) starts,
/// from its header; `None` when the header is not there or not one this server decodes.
pub fn dimensions(content_type: &str, head: &[u8]) -> Option<(u32, u32)> {
    if !DECODED.contains(&content_type) {
        return None;
    }
    ImageReader::new(Cursor::new(head)).with_guessed_format().ok()?.into_dimensions().ok()
}

/// Whether an image of this type and size gets a thumbnail.
pub fn thumbnailable(content_type: &str, width: u32, height: u32) -> bool {
    DECODED.contains(&content_type)
        && width > 0
        && height > 0
        && width <= MAX_SIDE
        && height <= MAX_SIDE
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

/// A JPEG at most [`THUMBNAIL_SIDE`] pixels on its longer side, the right way up (EXIF
/// orientation applied), transparency flattened onto white. CPU-bound: run it on a blocking
/// thread. The decoder is held to [`MAX_SIDE`] and an allocation budget whatever the header
/// claimed.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ImageError> {
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(image::ImageError::IoError)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if !thumbnailable("image/png", width, height) {
        return Err(ImageError::TooLarge);
    }
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let small = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image
    };
    let rgb = flatten(small);
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    rgb.write_with_encoder(encoder)?;
    Ok(out)
}

/// RGB on a white background.
fn flatten(image: DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return DynamicImage::ImageRgb8(image.into_rgb8());
    }
    let rgba = image.into_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(px[3]);
        for c in 0..3 {
            out[c] = ((u16::from(px[c]) * alpha + 255 * (255 - alpha)) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, if x < width / 2 { 255 } else { 0 }])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(image)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// A valid PNG header declaring `width` × `height` with almost no data: what a decompression
    /// bomb looks like before it is decoded.
    fn bomb(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in
            [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", b"x\x9c\x03\x00\x00\x00\x00\x01"), (b"IEND", b"")]
        {
            let mut chunk = Vec::new();
            chunk.extend_from_slice(kind);
            chunk.extend_from_slice(data);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(&chunk);
            out.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn sizes_come_from_the_header() {
        let file = png(640, 480);
        assert_eq!(dimensions("image/png", &file[..64]), Some((640, 480)), "the header is enough");
        assert_eq!(dimensions("application/pdf", &file), None);
        assert_eq!(dimensions("image/png", b"\x89PNG"), None);
    }

    #[test]
    fn thumbnails_fit_320_pixels_and_keep_the_aspect() {
        let thumb = thumbnail(&png(640, 480)).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 240));
        assert_eq!(image::guess_format(&thumb).unwrap(), image::ImageFormat::Jpeg);
        let small = image::load_from_memory(&thumbnail(&png(40, 20)).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (40, 20), "small images are not enlarged");
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        let file = bomb(20_000, 20_000);
        assert!(file.len() < 100);
        assert_eq!(dimensions("image/png", &file), Some((20_000, 20_000)));
        assert!(!thumbnailable("image/png", 20_000, 20_000));
        let refused = thumbnail(&file);
        assert!(
            matches!(refused, Err(ImageError::TooLarge | ImageError::Decode(image::ImageError::Limits(_)))),
            "{refused:?}"
        );
        // Within the side limit, over the pixel budget: refused by the header check.
        assert!(matches!(thumbnail(&bomb(12_000, 12_000)), Err(ImageError::TooLarge)));
        // Within the side limit but over the pixel budget.
        assert!(!thumbnailable("image/png", 10_000, 10_000));
        assert!(thumbnailable("image/png", 6_000, 4_000));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(thumbnail(b"\x89PNG\r\n\x1a\nnot really").is_err());
        assert!(thumbnail(b"").is_err());
        let mut cut = png(100, 100);
        cut.truncate(cut.len() / 2);
        assert!(thumbnail(&cut).is_err());
    }
}
