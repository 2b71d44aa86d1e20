# Flotilla's container image: a Swift builder, then a slim runtime with only the shared libraries
# the binary links (libgit2 with libssh2 and mbedTLS, libyaml) and CA certificates; no Swift
# runtime (the standard library is linked statically), no shell tools beyond Debian's base.
# The builder resolves the Swift packages of Package.swift from their public repositories.
# Tests/conformance/test_dockerfile.py lints this file with hadolint and checks that the runtime
# stage provides every library the binary links.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgit2-dev libssh2-1-dev libmbedtls-dev libyaml-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --product flotilla --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/flotilla" /out/flotilla

FROM ${RUNTIME_IMAGE}
# Unpinned on purpose: the image takes Debian's security updates when it is rebuilt. gpg, gpgv and
# ssh-keygen verify and sign commits (spec.git.verify, spec.git.signingKeySecretRef).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgit2-1.5 libyaml-0-2 ca-certificates gpg gpgv openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/flotilla /usr/local/bin/flotilla
# The chart runs it with a read-only root filesystem: mirrors under /var/lib/flotilla, HOME=/tmp.
USER 65532:65532
ENV HOME=/tmp
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/flotilla"]
CMD ["run", "--work-dir=/var/lib/flotilla"]
