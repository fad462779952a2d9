//! `/media/...`: stored files, and remote pictures from our cache.

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::directory::{DEFAULT_AVATAR, DEFAULT_HEADER, picture};
use crate::{
    domain::media::is_image,
    error::AppError,
    service::{self, media},
    state::AppState,
};

fn file_response(media_type: &str, bytes: Vec<u8>, cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // A stored file is never a page: nothing in it may run or load anything.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if !is_image(media_type) {
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    response
}

/// `GET /media/{sha256}.{ext}`: a stored file (content-addressed, so cached for a year).
pub async fn stored(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, AppError> {
    let (media, bytes) = media::read(&state, &file).await?;
    Ok(file_response(
        &media.media_type,
        bytes,
        "public, max-age=31536000, immutable",
    ))
}

/// `GET /media/remote/{key}`: a remote picture, fetched and re-encoded on first view. An
/// avatar or header that cannot be had shows the default picture.
pub async fn remote(State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, AppError> {
    match media::remote(&state, &key).await {
        Ok((media_type, bytes, _)) => Ok(file_response(&media_type, bytes, "public, max-age=86400")),
        Err(service::Error::NotFound(what)) => {
            let purpose = crate::store::media::find_remote(&state.db, &key)
                .await
                .map_err(service::Error::from)?
                .map(|r| r.purpose);
            Ok(match purpose.as_deref() {
                Some("avatar") => picture(DEFAULT_AVATAR),
                Some("header") => picture(DEFAULT_HEADER),
                _ => return Err(service::Error::NotFound(what).into()),
            })
        }
        Err(e) => Err(e.into()),
    }
}
