# Enroll: one image, configured by file and ENROLL_* variables.
#   docker build -t enroll .
#   docker run -p 8080:8080 -v enroll-data:/app/data enroll
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
# Embedded at compile time (include_str!).
COPY data/common-passwords.txt data/
RUN cargo build --release --locked && strip target/release/enroll

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin enroll
WORKDIR /app
COPY --from=build /src/target/release/enroll /usr/local/bin/enroll
COPY config config
COPY data/geo-whois-asn-country.mmdb data/geo-whois-asn-country.LICENSE.md data/common-passwords.LICENSE.md data/
RUN chown -R enroll /app/data
USER enroll
ENV ENROLL_SERVER__ADDR=0.0.0.0:8080 \
    ENROLL_LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["enroll", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["enroll"]
CMD ["serve"]
