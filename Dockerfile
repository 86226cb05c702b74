# UNTESTED HERE: no container runtime or image registry is reachable on the
# machines ctxmap is built on, so this file has never been built. It is for
# users elsewhere; `make run` is the tested way to run ctxmap.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash scripts/ui.sh && CGO_ENABLED=1 go build -o /out/ctxmap ./cmd/ctxmap

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ctxmap /usr/local/bin/ctxmap
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ctxmap"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
