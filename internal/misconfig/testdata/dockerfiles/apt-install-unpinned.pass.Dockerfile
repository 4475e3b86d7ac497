FROM debian:12@sha256:0000000000000000000000000000000000000000000000000000000000000000
RUN useradd app
USER app
HEALTHCHECK CMD ["/bin/true"]
RUN apt-get update && apt-get install -y curl=7.88.1-10+deb12u5 && rm -rf /var/lib/apt/lists/*
