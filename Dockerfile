# tinit as a scratch image: no base image is pulled. Copy /tinit from it
# into your own image:
#   COPY --from=tinit:dev /tinit /tinit
#   ENTRYPOINT ["/tinit", "--"]
#
# make image builds tinit:dev from bin/tinit, the binary make build wrote
# for this machine. make images packs the same Dockerfile once per release
# architecture with DIST set: each image then holds that architecture's
# release binary, DIST/tinit-linux-$TARGETARCH (.ci/ociimage writes them
# and an OCI image index over them as an OCI image layout). docker build
# --build-arg DIST=dist --build-arg TARGETARCH=arm64 does the same for one.
FROM scratch
ARG TARGETARCH
ARG DIST
# The labels' values come from make: git describe, the commit, and
# SOURCE_DATE_EPOCH as RFC 3339, so that a rebuild gives the same image.
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED
LABEL org.opencontainers.image.title="tinit" \
      org.opencontainers.image.description="A tiny PID 1 for containers: forwards signals, reaps zombies, returns the child's exit code" \
      org.opencontainers.image.source="https://github.com/tinit/tinit" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY ${DIST:-bin}/tinit${DIST:+-linux-$TARGETARCH} /tinit
ENTRYPOINT ["/tinit", "--"]
