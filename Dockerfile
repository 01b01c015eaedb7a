# syntax=docker/dockerfile:1
# Build: docker build -t tessera .   Run: see docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tessera

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tessera --create-home tessera \
 && mkdir -p /var/lib/tessera/keys /var/lib/tessera/data \
 && chown -R tessera:tessera /var/lib/tessera
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
USER tessera
WORKDIR /var/lib/tessera
ENV TESSERA_LISTEN=0.0.0.0:8080 \
    TESSERA_KEYS_DIR=/var/lib/tessera/keys \
    TESSERA_DATABASE_URL=sqlite:///var/lib/tessera/data/tessera.db?mode=rwc \
    TESSERA_LOG_FORMAT=json
VOLUME ["/var/lib/tessera/keys", "/var/lib/tessera/data"]
EXPOSE 8080
ENTRYPOINT ["tessera"]
CMD ["serve"]
