ARG BASE=debian:latest
FROM ${BASE}
USER 1000
HEALTHCHECK CMD ["/bin/true"]
