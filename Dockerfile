# tinit as a scratch image: build the static binary first (`make image`
# does both steps), or copy /tinit from this image into your own:
#   COPY --from=tinit:dev /tinit /tinit
#   ENTRYPOINT ["/tinit", "--"]
FROM scratch
LABEL org.opencontainers.image.title="tinit" \
      org.opencontainers.image.description="A tiny PID 1 for containers: forwards signals, reaps zombies, returns the child's exit code"
COPY bin/tinit /tinit
ENTRYPOINT ["/tinit", "--"]
