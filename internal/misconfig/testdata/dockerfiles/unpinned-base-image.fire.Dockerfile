FROM golang:1.22 AS build
RUN go build
FROM debian:12
USER 1000
HEALTHCHECK CMD ["/bin/true"]
