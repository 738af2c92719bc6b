# shellcheck shell=bash
# Sourced by scripts/check-image.sh and scripts/check-compose.sh: build the final stage of
# Dockerfile.api / Dockerfile.frontend / Dockerfile.deployer with podman, as those Dockerfiles
# define it.
#
# The build stages are reproduced on the host (the same RUSTFLAGS and cargo command;
# scripts/build-site.sh for the site) because no base image can be pulled on this machine
# kind. The final stage's lines are taken from each Dockerfile itself, so a change there is
# what gets tested.
#
# The sourcing script provides `fail MESSAGE` and the arrays `images` and `dirs` (removed
# by its cleanup).

# cgroup v1 here: crun fails, runc works; rlimits cannot be raised inside this sandbox.
P=(--runtime runc --cgroup-manager cgroupfs)
target_dir="${CARGO_TARGET_DIR:-target}"

# static_binary PACKAGE → path of a statically linked release build, as the Dockerfiles build it.
static_binary() {
  RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked -q -p "$1" --target x86_64-unknown-linux-gnu
  local bin="$target_dir/x86_64-unknown-linux-gnu/release/$1"
  file "$bin" | grep -q 'static' || fail "$bin is not statically linked"
  echo "$bin"
}

# build_final DOCKERFILE CONTEXT TAG SED-EXPR... : the Dockerfile's `FROM scratch` stage with
# its COPY --from lines pointed at files staged in CONTEXT.
build_final() {
  local dockerfile="$1" ctx="$2" tag="$3"; shift 3
  local sed_args=()
  for expr in "$@"; do sed_args+=(-e "$expr"); done
  sed -n '/^FROM scratch/,$p' "$dockerfile" | sed "${sed_args[@]}" > "$ctx/Containerfile"
  if grep -q -- '--from=' "$ctx/Containerfile"; then
    fail "$dockerfile: final stage copies something this check does not stage"
  fi
  podman "${P[@]}" build -q --format docker -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
  images+=("$tag")
}

# build_api_image TAG : Dockerfile.api's final stage around a static api binary.
build_api_image() {
  local bin ctx
  bin="$(static_binary api)"
  ctx="$(mktemp -d)"; dirs+=("$ctx")
  install -D -m 0555 "$bin" "$ctx/out/api"
  build_final Dockerfile.api "$ctx" "$1" 's|COPY --from=build /out/api /api|COPY out/api /api|'
}

# build_frontend_image TAG : Dockerfile.frontend's final stage around a static
# frontend-server binary and the built site.
build_frontend_image() {
  local bin ctx
  [ -f site/public/index.html ] || bash scripts/build-site.sh
  bin="$(static_binary frontend-server)"
  ctx="$(mktemp -d)"; dirs+=("$ctx")
  install -D -m 0555 "$bin" "$ctx/out/frontend-server"
  cp -a site/public "$ctx/public"
  build_final Dockerfile.frontend "$ctx" "$1" \
    's|COPY --from=build /out/frontend-server /frontend-server|COPY out/frontend-server /frontend-server|' \
    's|COPY --from=site /src/site/public /site|COPY public /site|'
}

# build_deployer_image TAG : Dockerfile.deployer's final stage around a static deployer
# binary, the host's CA bundle (the build stage copies Debian's) and an empty work directory.
build_deployer_image() {
  local bin ctx
  bin="$(static_binary deployer)"
  ctx="$(mktemp -d)"; dirs+=("$ctx")
  install -D -m 0555 "$bin" "$ctx/out/deployer"
  install -d -m 0700 "$ctx/out/workdir"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  build_final Dockerfile.deployer "$ctx" "$1" \
    's|COPY --from=build /out/deployer /deployer|COPY out/deployer /deployer|' \
    's|COPY --from=build /etc/ssl/certs/ca-certificates.crt |COPY ca-certificates.crt |' \
    's|COPY --from=build --chown=65532:65532 /out/workdir |COPY --chown=65532:65532 out/workdir |'
}
