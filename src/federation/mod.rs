//! ActivityPub endpoints: discovery, actors, collections, objects and the inbox.
//! Handlers are thin: they parse the request, call a service, and shape the answer.

pub mod actors;
pub mod inbox;
pub mod nodeinfo;
pub mod peering;
pub mod signature;
pub mod webfinger;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::state::AppState;

/// Largest ActivityPub or JSON body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The federation routes. With `authorized_fetch` set, the organisations' ActivityPub documents
/// answer only signed GETs ([`signature::authorized_fetch`]).
pub fn router(state: &AppState) -> Router<AppState> {
    let mut documents = Router::new()
        .route("/orgs/{handle}", get(actors::org))
        .route("/orgs/{handle}/outbox", get(actors::outbox))
        .route("/orgs/{handle}/followers", get(actors::followers))
        .route("/orgs/{handle}/following", get(actors::following))
        .route("/orgs/{handle}/featured", get(actors::featured))
        .route("/orgs/{handle}/tags", get(actors::featured_tags))
        .route("/orgs/{handle}/updates/{id}", get(actors::update));
    if state.config.authorized_fetch {
        documents = documents.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signature::authorized_fetch,
        ));
    }
    let inbox_routes = Router::new()
        .route("/inbox", post(inbox::receive))
        .route("/actor/inbox", post(inbox::receive))
        .route("/orgs/{handle}/inbox", post(inbox::receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route("/.well-known/host-meta", get(webfinger::host_meta))
        .route("/.well-known/host-meta.json", get(webfinger::host_meta_json))
        .route("/.well-known/nodeinfo", get(nodeinfo::discovery))
        .route("/nodeinfo/2.0", get(nodeinfo::nodeinfo_20))
        .route("/nodeinfo/2.1", get(nodeinfo::nodeinfo_21))
        .route("/api/v1/instance", get(nodeinfo::instance_v1))
        .route("/api/v2/instance", get(nodeinfo::instance_v2))
        .route("/api/v1/instance/peers", get(nodeinfo::peers))
        .route("/actor", get(actors::instance_actor))
        .route("/actor/directory", get(peering::directory))
        .route("/api/understory/v1/peers", get(peering::list))
        .merge(documents)
        .merge(inbox_routes)
}
