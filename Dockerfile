# syntax=docker/dockerfile:1
#
# drydock as a container image: a static binary on a distroless base,
# running as a non-root user.
#
#   docker build --build-arg VERSION=v0.4.0 -t drydock .
#   docker run --rm -v "$PWD:/work" -w /work drydock image app.tar
#
# The vulnerability database is kept in the user's cache directory
# (/home/nonroot/.cache/drydock); mount a volume there, or pass --db-path,
# to keep it between runs.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Release version stamped into the binary (empty: the module version).
ARG VERSION=""
ENV CGO_ENABLED=0
RUN go build -trimpath \
      -ldflags "-s -w -X github.com/drydockscan/drydock/internal/buildinfo.version=${VERSION}" \
      -o /out/drydock ./cmd/drydock

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/drydock /usr/local/bin/drydock
USER 65532:65532
ENTRYPOINT ["drydock"]
