FROM debian:12@sha256:0000000000000000000000000000000000000000000000000000000000000000
RUN useradd app
USER app
HEALTHCHECK CMD ["/bin/true"]
RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh && echo '0000  /tmp/install.sh' | sha256sum -c && sh /tmp/install.sh
