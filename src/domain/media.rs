//! Pictures and documents: the limits, and the decode-and-re-encode every image goes through.
//!
//! Nothing an uploader or a remote server sends is stored or served as it came: an image is
//! decoded (with a pixel cap against decompression bombs), turned the right way up from its EXIF
//! orientation, resized for its purpose and encoded afresh, so EXIF, GPS positions, comments and
//! anything smuggled after the image data are gone. Documents are PDFs, checked by their magic.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits, imageops::FilterType};

/// Largest image upload, in bytes.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// Largest document upload, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Most pixels an image may declare (Mastodon's limit, 7680x4320): a bigger one is refused
/// before any pixel is decoded, so a small file cannot expand into gigabytes.
pub const MAX_IMAGE_PIXELS: u64 = 7680 * 4320;
/// Most memory the decoder may allocate for one image.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;
/// Most attachments on one update.
pub const MAX_ATTACHMENTS: usize = 4;
/// Longest alt text (Mastodon's limit is 1,500).
pub const MAX_ALT_CHARS: usize = 1500;
/// Avatars are cropped to this square.
pub const AVATAR_SIZE: (u32, u32) = (400, 400);
/// Headers are cropped to this.
pub const HEADER_SIZE: (u32, u32) = (1500, 500);
/// Longest side of an attached image.
pub const ATTACHMENT_MAX_SIDE: u32 = 1920;
/// Longest side of a cached preview of a remote attachment.
pub const PREVIEW_MAX_SIDE: u32 = 800;
/// JPEG quality of re-encoded photographs.
pub const JPEG_QUALITY: u8 = 85;

/// What an image is for, which decides its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A square avatar.
    Avatar,
    /// A wide header.
    Header,
    /// An image attached to an update.
    Attachment,
    /// A smaller cached copy of a remote attachment.
    Preview,
}

/// Why a file was refused; the message is for the person who sent it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// Over the size limit.
    #[error("{what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// "image" or "document".
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a picture in a format we read.
    #[error("not an image we can read (JPEG, PNG, WebP or GIF){0}")]
    NotAnImage(String),
    /// Declares more pixels than the cap.
    #[error("image is {width}x{height} pixels; the limit is {limit} pixels in all")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The cap.
        limit: u64,
    },
    /// A document that is not a PDF.
    #[error("documents must be PDF files")]
    NotADocument,
    /// An empty file.
    #[error("the file is empty")]
    Empty,
}

/// A picture ready to store: freshly encoded bytes and what pages and Mastodon need to show it.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The encoded file.
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub media_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// A BlurHash placeholder (4x3 components), as Mastodon shows while loading.
    pub blurhash: Option<String>,
}

/// File extension for a media type we store.
pub fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// Media type of a stored file, from its extension.
pub fn media_type_of(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Whether a media type is one of the pictures we produce.
pub fn is_image(media_type: &str) -> bool {
    media_type.starts_with("image/")
}

/// The width and height an image declares, read from its header only (nothing is decoded).
pub fn declared_size(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::NotAnImage(format!(": {e}")))?
        .into_dimensions()
        .map_err(|e| MediaError::NotAnImage(format!(": {e}")))
}

/// Decodes, orients, resizes and re-encodes an image. Refuses oversized files, unknown formats,
/// truncated data and images that declare more than [`MAX_IMAGE_PIXELS`].
pub fn process_image(bytes: &[u8], purpose: Purpose) -> Result<Processed, MediaError> {
    check_size(bytes, "image", MAX_IMAGE_BYTES)?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::NotAnImage(format!(": {e}")))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif) => {}
        Some(other) => return Err(MediaError::NotAnImage(format!(" ({other:?} is not accepted)"))),
        None => return Err(MediaError::NotAnImage(String::new())),
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| MediaError::NotAnImage(format!(": {e}")))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            limit: MAX_IMAGE_PIXELS,
        });
    }
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| MediaError::NotAnImage(format!(": {e}")))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    let image = resize(image, purpose);
    encode(&image)
}

fn resize(image: DynamicImage, purpose: Purpose) -> DynamicImage {
    // A picture far larger than its target is first reduced with the integer box filter, so
    // Lanczos never builds its floating-point buffers at full size (a 7680x4320 picture took
    // over 200 MiB that way).
    let (target_w, target_h) = match purpose {
        Purpose::Avatar => AVATAR_SIZE,
        Purpose::Header => HEADER_SIZE,
        Purpose::Attachment => (ATTACHMENT_MAX_SIDE, ATTACHMENT_MAX_SIDE),
        Purpose::Preview => (PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE),
    };
    let (w, h) = image.dimensions();
    let image = if w > 4 * target_w.max(target_h) || h > 4 * target_w.max(target_h) {
        let side = 2 * target_w.max(target_h);
        image.thumbnail(side, side)
    } else {
        image
    };
    let bound = |image: DynamicImage, side: u32| {
        let (w, h) = image.dimensions();
        if w <= side && h <= side {
            image
        } else {
            image.resize(side, side, FilterType::Lanczos3)
        }
    };
    match purpose {
        Purpose::Avatar => image.resize_to_fill(AVATAR_SIZE.0, AVATAR_SIZE.1, FilterType::Lanczos3),
        Purpose::Header => image.resize_to_fill(HEADER_SIZE.0, HEADER_SIZE.1, FilterType::Lanczos3),
        Purpose::Attachment => bound(image, ATTACHMENT_MAX_SIDE),
        Purpose::Preview => bound(image, PREVIEW_MAX_SIDE),
    }
}

fn encode(image: &DynamicImage) -> Result<Processed, MediaError> {
    let (width, height) = image.dimensions();
    let translucent = image.color().has_alpha() && image.to_rgba8().pixels().any(|p| p.0[3] < 255);
    let mut bytes = Vec::new();
    let media_type = if translucent {
        let encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        image
            .to_rgba8()
            .write_with_encoder(encoder)
            .map_err(|e| MediaError::NotAnImage(format!(": {e}")))?;
        "image/png"
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        image
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(|e| MediaError::NotAnImage(format!(": {e}")))?;
        "image/jpeg"
    };
    let thumb = image.thumbnail(32, 32).to_rgb8();
    let blurhash = blurhash(4, 3, thumb.width(), thumb.height(), thumb.as_raw());
    Ok(Processed {
        bytes,
        media_type,
        width,
        height,
        blurhash,
    })
}

fn check_size(bytes: &[u8], what: &'static str, limit: usize) -> Result<(), MediaError> {
    match bytes.len() {
        0 => Err(MediaError::Empty),
        size if size > limit => Err(MediaError::TooLarge { what, size, limit }),
        _ => Ok(()),
    }
}

/// Checks a document upload: a PDF within [`MAX_DOCUMENT_BYTES`]. Returns its media type.
pub fn check_document(bytes: &[u8]) -> Result<&'static str, MediaError> {
    check_size(bytes, "document", MAX_DOCUMENT_BYTES)?;
    // PDF readers accept the header anywhere in the first KiB.
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        Ok("application/pdf")
    } else {
        Err(MediaError::NotADocument)
    }
}

/// Whether bytes look like one of the image formats we read (to route an upload).
pub fn looks_like_image(bytes: &[u8]) -> bool {
    image::guess_format(bytes).is_ok()
}

const BASE83: &[u8; 83] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

fn base83(value: u32, length: u32, out: &mut String) {
    for i in 1..=length {
        let digit = (value / 83u32.pow(length - i)) % 83;
        out.push(char::from(BASE83[digit as usize]));
    }
}

fn srgb_to_linear(v: u8) -> f64 {
    let v = f64::from(v) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(v: f64) -> u32 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.003_130_8 {
        v * 12.92 * 255.0 + 0.5
    } else {
        (1.055 * v.powf(1.0 / 2.4) - 0.055) * 255.0 + 0.5
    };
    s as u32
}

fn sign_pow(v: f64, e: f64) -> f64 {
    v.abs().powf(e).copysign(v)
}

/// Encodes a BlurHash (the algorithm of woltapp/blurhash) of packed RGB pixels.
pub fn blurhash(x_components: u32, y_components: u32, width: u32, height: u32, rgb: &[u8]) -> Option<String> {
    if !(1..=9).contains(&x_components) || !(1..=9).contains(&y_components) || width == 0 || height == 0 {
        return None;
    }
    if rgb.len() < (width * height * 3) as usize {
        return None;
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let mut factors = Vec::with_capacity((x_components * y_components) as usize);
    for j in 0..y_components {
        for i in 0..x_components {
            let normalisation = if i == 0 && j == 0 { 1.0 } else { 2.0 };
            let mut sum = [0.0f64; 3];
            for y in 0..height {
                let cy = (std::f64::consts::PI * f64::from(j) * f64::from(y) / h).cos();
                for x in 0..width {
                    let basis = normalisation * (std::f64::consts::PI * f64::from(i) * f64::from(x) / w).cos() * cy;
                    let at = ((y * width + x) * 3) as usize;
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += basis * srgb_to_linear(rgb[at + c]);
                    }
                }
            }
            let scale = 1.0 / (w * h);
            factors.push(sum.map(|s| s * scale));
        }
    }
    let mut hash = String::new();
    base83((x_components - 1) + (y_components - 1) * 9, 1, &mut hash);
    let ac = &factors[1..];
    let max_value = if ac.is_empty() {
        base83(0, 1, &mut hash);
        1.0
    } else {
        let actual = ac.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        let quantised = ((actual * 166.0 - 0.5).floor()).clamp(0.0, 82.0) as u32;
        base83(quantised, 1, &mut hash);
        f64::from(quantised + 1) / 166.0
    };
    let dc = factors[0];
    base83(
        (linear_to_srgb(dc[0]) << 16) + (linear_to_srgb(dc[1]) << 8) + linear_to_srgb(dc[2]),
        4,
        &mut hash,
    );
    for f in ac {
        let q = f.map(|v| ((sign_pow(v / max_value, 0.5) * 9.0 + 9.5).floor()).clamp(0.0, 18.0) as u32);
        base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2, &mut hash);
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new(&mut out))
            .unwrap();
        out
    }

    /// Expected values from an independent implementation (PyPI `blurhash` 1.1.5,
    /// `blurhash.encode(pixels, 4, 3)`).
    #[test]
    fn blurhash_matches_an_independent_implementation() {
        let solid = vec![200u8; 8 * 8 * 3];
        assert_eq!(blurhash(4, 3, 8, 8, &solid).unwrap(), "LNN17T~qfQ~q~qt7fQt7fQfQfQfQ");
        let mut gradient = Vec::new();
        for y in 0..5u32 {
            for x in 0..6u32 {
                gradient.extend([(x * 30 % 256) as u8, (y * 20 % 256) as u8, 90]);
            }
        }
        assert_eq!(blurhash(4, 3, 6, 5, &gradient).unwrap(), "LHAukA2]N]-D+lNeWpr^eqf7fQf7");
        assert_eq!(blurhash(0, 3, 6, 5, &gradient), None);
    }

    #[test]
    fn avatars_and_headers_are_cropped_to_size() {
        let avatar = process_image(&jpeg(640, 480), Purpose::Avatar).unwrap();
        assert_eq!(
            (avatar.width, avatar.height, avatar.media_type),
            (400, 400, "image/jpeg")
        );
        let header = process_image(&jpeg(640, 480), Purpose::Header).unwrap();
        assert_eq!((header.width, header.height), (1500, 500));
        let small = process_image(&jpeg(300, 200), Purpose::Attachment).unwrap();
        assert_eq!((small.width, small.height), (300, 200));
        assert_eq!(small.blurhash.as_deref().map(str::len), Some(28));
    }

    #[test]
    fn translucent_images_stay_png() {
        let img = RgbaImage::from_pixel(10, 10, Rgba([1, 2, 3, 100]));
        let mut out = Vec::new();
        img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
            .unwrap();
        assert_eq!(
            process_image(&out, Purpose::Attachment).unwrap().media_type,
            "image/png"
        );
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(process_image(b"", Purpose::Avatar).unwrap_err(), MediaError::Empty);
        assert!(matches!(
            process_image(b"PK\x03\x04 this is a zip", Purpose::Avatar).unwrap_err(),
            MediaError::NotAnImage(_)
        ));
        let mut truncated = jpeg(64, 64);
        truncated.truncate(40);
        assert!(process_image(&truncated, Purpose::Attachment).is_err());
        let big = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(
            process_image(&big, Purpose::Avatar).unwrap_err(),
            MediaError::TooLarge { .. }
        ));
        assert_eq!(check_document(b"PK\x03\x04").unwrap_err(), MediaError::NotADocument);
        assert_eq!(check_document(b"%PDF-1.7\n...").unwrap(), "application/pdf");
    }
}
