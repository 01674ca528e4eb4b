# esia-gateway container image.
#
#   docker build -t esia-gateway .
#   docker run -d --name esia-gateway -p 443:443 -p 80:80 \
#     -v /srv/esia-gateway/etc:/etc/esia-gateway:ro \
#     -v esia-gateway-data:/var/lib/esia-gateway \
#     esia-gateway
#
# /etc/esia-gateway holds gateway.toml and the certificates it names (relative paths in
# gateway.toml start there, so cert = "certs/gateway.pem" is /etc/esia-gateway/certs/...).
# Secrets can also come from ESIA_GATEWAY__<SECTION>__<KEY> variables (docker run -e).
# The process runs as the unprivileged user `esia`; Docker (20.10+) lets it bind 443 and 80
# inside the container's network namespace. With --network host, use ports >= 1024 or
# grant CAP_NET_BIND_SERVICE. For the admin listener (/healthz, /metrics), set
# listen.admin to "0.0.0.0:9090" and publish it on an internal interface only.

# --- build ---------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

# Dependencies first, in their own layer: rebuilt only when Cargo.toml/Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

COPY . .
# The real sources may carry older mtimes than the placeholder build: force a rebuild.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin esia-gateway \
    && install -D -m 0755 target/release/esia-gateway /out/esia-gateway

# --- runtime -------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: system roots for an https diary and ESIA; openssl + the GOST engine:
# the external signer for ESIA client secrets (GOST R 34.10-2012).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates openssl libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system esia \
    && useradd --system --gid esia --home-dir /var/lib/esia-gateway --shell /usr/sbin/nologin esia \
    && mkdir -p /etc/esia-gateway /var/lib/esia-gateway \
    && chown esia:esia /var/lib/esia-gateway

COPY --from=builder /out/esia-gateway /usr/local/bin/esia-gateway
COPY gateway.toml /usr/share/doc/esia-gateway/gateway.toml.example

VOLUME ["/var/lib/esia-gateway"]
WORKDIR /var/lib/esia-gateway
USER esia
EXPOSE 443 80

ENTRYPOINT ["/usr/local/bin/esia-gateway"]
CMD ["run", "--config", "/etc/esia-gateway/gateway.toml"]
