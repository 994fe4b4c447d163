# Ferrodis image: a static musl build of ferrodis-server on Alpine, run like the
# official redis:7-alpine image (non-root user, /data volume and working directory,
# port 6379, protected mode off; see docker/docker-entrypoint.sh).
#
#   docker build -t ferrodis .
#   docker run -d --name ferrodis -p 6379:6379 -v ferrodis-data:/data ferrodis
#   docker run -d -p 6379:6379 ferrodis --appendonly yes     # options as with redis-server
#
# scripts/docker-check.sh reproduces what can be checked without a Docker engine.

# ---------------------------------------------------------------- build
FROM rust:1.95-alpine AS builder
# build-base: gcc, make and musl-dev, to build jemalloc (tikv-jemallocator) and the
# vendored Lua from source. On Alpine the host target is x86_64/aarch64-unknown-linux-musl,
# whose binaries are statically linked.
RUN apk add --no-cache build-base
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin ferrodis-server \
    && strip target/release/ferrodis-server \
    && ./target/release/ferrodis-server --version

# ---------------------------------------------------------------- runtime
FROM alpine:3.22
RUN addgroup -S -g 999 ferrodis \
    && adduser -S -D -H -u 999 -G ferrodis -h /data ferrodis \
    && mkdir /data \
    && chown ferrodis:ferrodis /data
COPY --from=builder /src/target/release/ferrodis-server /usr/local/bin/ferrodis-server
COPY docker/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
USER ferrodis
EXPOSE 6379
# busybox nc ships with Alpine: a PING must be answered, with PONG (or with NOAUTH when
# a password is set: the server is up all the same).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD printf 'PING\r\nQUIT\r\n' | nc -w 2 127.0.0.1 6379 | grep -qE '^(\+PONG|-NOAUTH)'
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["ferrodis-server"]
