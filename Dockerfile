# Images of both exporters, built from this repository:
#   docker build --target agent-exporter -t rgw-multisite-agent-exporter .
#   docker build --target exporter       -t rgw-multisite-exporter .
# docker-compose.yml builds both. The binaries are static (musl), so they run in any image;
# the runtime image is the official Ceph image at the tag of the cluster they watch, which
# brings a radosgw-admin of the same release. Change CEPH_IMAGE to match your cluster
# (docker build --build-arg CEPH_IMAGE=quay.io/ceph/ceph:v18.2.4 ...).
ARG RUST_IMAGE=docker.io/library/rust:1.95.0-alpine3.22
ARG CEPH_IMAGE=quay.io/ceph/ceph:v16.2.15

FROM ${RUST_IMAGE} AS build
# ring (TLS of the REST mode) compiles C and needs the musl headers.
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and target dir between builds; the binaries are
# copied out of the target cache because it is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p agent-exporter -p exporter \
    && mkdir -p /out \
    && cp target/release/rgw-multisite-agent-exporter target/release/rgw-multisite-exporter /out/ \
    && /out/rgw-multisite-agent-exporter --version \
    && /out/rgw-multisite-exporter --version

FROM ${CEPH_IMAGE} AS runtime
# A dedicated user whose primary group is `ceph`: the keyring is root:ceph 0640, so the
# exporters can read it and write nothing of Ceph's. radosgw-admin reads /etc/ceph/ceph.conf
# and /etc/ceph/ceph.client.<id>.keyring (mount them read-only, e.g. compose's ceph-client).
RUN useradd --system --gid ceph --no-create-home --home-dir /nonexistent \
        --shell /sbin/nologin rgw-exporter
COPY --from=build /out/rgw-multisite-agent-exporter /out/rgw-multisite-exporter /usr/local/bin/
USER rgw-exporter
ENV RGW_MULTISITE_RADOSGW_ADMIN_COMMAND="radosgw-admin --id rgw-exporter"

FROM runtime AS agent-exporter
EXPOSE 9240
ENTRYPOINT ["/usr/local/bin/rgw-multisite-agent-exporter"]

FROM runtime AS exporter
EXPOSE 9241
ENTRYPOINT ["/usr/local/bin/rgw-multisite-exporter"]
