# Understory in a container: SQLite database and media in the /var/lib/understory volume.
#
#   docker build -t understory .
#   docker run -d --name understory -v understory-data:/var/lib/understory \
#       -e UNDERSTORY_PUBLIC_URL=https://orgs.example.org -p 127.0.0.1:8080:8080 understory
#
# See docs/operations/production.md. This file is not exercised in CI (no Docker daemon there).

FROM rust:1-bookworm AS builder
WORKDIR /src
# The whole tree: Cargo.toml names tests and benches, and the binary compiles in the migrations,
# templates, vocabularies (vocab/) and messages (locales/).
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/understory --shell /usr/sbin/nologin understory \
    && mkdir -p /var/lib/understory/media \
    && chown -R understory:understory /var/lib/understory
COPY --from=builder /src/target/release/understory /usr/local/bin/understory
ENV UNDERSTORY_BIND=0.0.0.0:8080 \
    UNDERSTORY_DATABASE_URL=sqlite:///var/lib/understory/understory.db \
    UNDERSTORY_MEDIA_DIR=/var/lib/understory/media
WORKDIR /var/lib/understory
USER understory
VOLUME /var/lib/understory
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client. Probe GET /healthz from outside (200 "ok").
ENTRYPOINT ["understory"]
CMD ["serve"]
