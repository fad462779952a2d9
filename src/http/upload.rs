//! Multipart uploads (`multipart/form-data`), shared by the pages and the JSON API.
//!
//! Upload routes get their own body limit ([`UPLOAD_BODY_BYTES`]); everything else stays at
//! 1 MiB. Each file is read with its own cap so one oversized file is refused as soon as it
//! passes the limit, not after the whole body has been buffered.

use axum::extract::{Multipart, multipart::MultipartError};

use crate::{
    domain::media::{MAX_ATTACHMENTS, MAX_DOCUMENT_BYTES},
    error::AppError,
    service::posts::Upload,
};

/// Body limit of upload routes: four of the largest files and room for the text fields.
pub const UPLOAD_BODY_BYTES: usize = MAX_ATTACHMENTS * MAX_DOCUMENT_BYTES + 1024 * 1024;
/// Longest text field of a multipart form.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// A file part: its field name, the name it had, and its bytes (empty when a form's file input
/// was left empty).
#[derive(Debug)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The uploader's file name.
    pub file_name: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A read multipart form: text fields and files, each in the order sent.
#[derive(Debug, Default)]
pub struct UploadForm {
    /// Text fields.
    pub fields: Vec<(String, String)>,
    /// File parts.
    pub files: Vec<FilePart>,
}

impl UploadForm {
    /// The first text field of a name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every text field of a name, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The first file of a field name that has bytes.
    pub fn file(&self, name: &str) -> Option<&FilePart> {
        self.files.iter().find(|f| f.field == name && !f.bytes.is_empty())
    }

    /// Attachments: the n-th `file` part with the n-th `alt` field; empty file inputs (and the
    /// alt text beside them) are skipped.
    pub fn attachments(&mut self) -> Vec<Upload> {
        let alts = self.all("alt");
        let files = std::mem::take(&mut self.files);
        files
            .into_iter()
            .filter(|f| f.field == "file")
            .enumerate()
            .filter(|(_, f)| !f.bytes.is_empty() || f.file_name.as_deref().is_some_and(|n| !n.is_empty()))
            .map(|(n, f)| Upload {
                bytes: f.bytes,
                description: alts.get(n).cloned().filter(|a| !a.trim().is_empty()),
                file_name: f.file_name.filter(|n| !n.is_empty()),
            })
            .collect()
    }
}

/// Whether a request carries `multipart/form-data`.
pub fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn refused(e: MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge(format!("the upload is larger than {UPLOAD_BODY_BYTES} bytes"))
    } else {
        AppError::BadRequest(format!("bad multipart form: {}", e.body_text()))
    }
}

/// Reads a multipart form, refusing a file over [`MAX_DOCUMENT_BYTES`] or a text field over
/// [`MAX_FIELD_BYTES`] as soon as it passes the limit.
pub async fn read(mut multipart: Multipart) -> Result<UploadForm, AppError> {
    let mut form = UploadForm::default();
    while let Some(mut field) = multipart.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let is_file = file_name.is_some();
        let limit = if is_file { MAX_DOCUMENT_BYTES } else { MAX_FIELD_BYTES };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(refused)? {
            if bytes.len() + chunk.len() > limit {
                let what = file_name.clone().unwrap_or_else(|| name.clone());
                return Err(AppError::TooLarge(format!("{what}: larger than {limit} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            form.files.push(FilePart {
                field: name,
                file_name,
                bytes,
            });
        } else {
            let text = String::from_utf8(bytes).map_err(|_| AppError::BadRequest(format!("{name}: not UTF-8 text")))?;
            form.fields.push((name, text));
        }
    }
    Ok(form)
}
