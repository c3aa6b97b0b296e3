#!/usr/bin/env bash
# Container smoke test: builds the Dockerfile with buildah (no Docker engine needed) and runs the
# image's own entrypoint with a test config, then checks /health, /ready, the image's HEALTHCHECK,
# one chat completion, one embedding and a graceful SIGTERM, on the models in ../shared/models, and
# the llama-server binary the image ships (its --version; a chat model on it when the gateway in the
# image has the llama-server backend).
#
#   deploy/smoke.sh            (as root; installs buildah and debootstrap from Debian when missing)
#
# The base images are local: a Debian bookworm rootfs made by debootstrap (cached in
# $SWITCHYARD_SMOKE_CACHE, default ~/.cache/switchyard-smoke) as BASE_IMAGE, and the same plus this
# machine's Node.js and npm 10 (laid out as in the official Node 22 images) as NODE_IMAGE. ONNX Runtime's
# CUDA libraries come from NuGet, which a builder may not reach: the smoke build passes
# ONNXRUNTIME_NODE_INSTALL=skip (override with SWITCHYARD_SMOKE_ONNXRUNTIME_NODE_INSTALL).
# Everything else (buildah storage, containers, images, the test config) lives in a temporary
# folder that is removed on exit. The last line is "smoke: PASS ..." or "smoke: FAIL: reason".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODELS=${SWITCHYARD_SMOKE_MODELS:-$ROOT/../shared/models}
CACHE=${SWITCHYARD_SMOKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard-smoke}
MIRROR=${SWITCHYARD_SMOKE_MIRROR:-http://deb.debian.org/debian}
ORT_INSTALL=${SWITCHYARD_SMOKE_ONNXRUNTIME_NODE_INSTALL:-skip}
# The npm of the node image: the major the official Node 22 images ship (npm 10), fetched from the
# npm registry, so that `npm ci` behaves as in a real build; "host" copies this machine's npm.
NPM_SPEC=${SWITCHYARD_SMOKE_NPM:-npm@10}
SUITE=bookworm
STARTED=$SECONDS

say() { printf '[smoke %4ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
REPORTED=""
fail() {
  REPORTED=1
  echo "smoke: FAIL: $*"
  exit 1
}

WORK=""
GATEWAY_PID=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $GATEWAY_PID ]] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    sleep 2
    kill -KILL "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  rm -rf "$ROOT/deploy/docker/prebuilt"
  if [[ -n $WORK && -d $WORK ]]; then
    bh rm --all >/dev/null 2>&1 || true
    bh rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  if ((status != 0)) && [[ -z $REPORTED ]]; then
    # set -e stopped the script: say where, so that the last line is always PASS or FAIL.
    echo "smoke: FAIL: exit status $status (see the output above)"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) == 0 ]] || fail "run as root (buildah with the chroot isolation and the vfs driver needs it)"
[[ -f $MODELS/stories260k-chatml/stories260K-chatml.gguf ]] || fail "no test models in $MODELS (set SWITCHYARD_SMOKE_MODELS)"
command -v node >/dev/null || fail "node is not on PATH"

if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  say "installing buildah and debootstrap (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null
fi

mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/switchyard-smoke.XXXXXX")
# A private store: nothing of this run is left in the machine's own buildah/podman storage.
bh() { buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs "$@"; }
# buildah keeps its temporary files under $TMPDIR, and RUN --mount=type=cache folders under
# $TMPDIR/buildah-cache: the first go with this run, the second (the npm and ccache caches) stays for the next.
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR" "$CACHE/buildah-cache"
ln -s "$CACHE/buildah-cache" "$TMPDIR/buildah-cache"

# --- base images -------------------------------------------------------------------------------
ROOTFS_TAR=$CACHE/$SUITE-minbase.tar
if [[ ! -s $ROOTFS_TAR ]]; then
  say "debootstrap --variant=minbase $SUITE (once; cached in $ROOTFS_TAR)"
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
  tar -C "$WORK/rootfs" -cf "$ROOTFS_TAR.partial" . && mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
  rm -rf "$WORK/rootfs"
fi

say "base image: $SUITE rootfs"
BASE_IMAGE=localhost/switchyard-smoke/$SUITE:latest
ctr=$(bh from scratch)
bh add "$ctr" "$ROOTFS_TAR" / >/dev/null
bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
bh commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null

NODE_BIN=$(readlink -f "$(command -v node)")
NODE_IMAGE=localhost/switchyard-smoke/node:latest
ctr=$(bh from "$BASE_IMAGE")
bh copy "$ctr" "$NODE_BIN" /usr/local/bin/node >/dev/null
if [[ $NPM_SPEC == host ]]; then
  bh copy "$ctr" "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" /usr/local/lib/node_modules/npm >/dev/null
else
  # npm's registry tarball is self-contained (its dependencies are bundled); cached like the rootfs.
  NPM_CACHE=$CACHE/npm-pack/${NPM_SPEC//[^A-Za-z0-9.@-]/_}
  if ! compgen -G "$NPM_CACHE/npm-*.tgz" >/dev/null; then
    mkdir -p "$NPM_CACHE"
    (cd "$NPM_CACHE" && npm pack "$NPM_SPEC" --silent >/dev/null 2>&1) || fail "cannot fetch $NPM_SPEC from the npm registry"
  fi
  NPM_TGZ=$(compgen -G "$NPM_CACHE/npm-*.tgz" | head -1)
  bh add "$ctr" "$NPM_TGZ" /usr/local/lib/node_modules/ >/dev/null
  bh run --isolation chroot "$ctr" -- mv /usr/local/lib/node_modules/package /usr/local/lib/node_modules/npm
fi
say "node image: $SUITE + this machine's node $("$NODE_BIN" --version) + npm $(bh run --isolation chroot "$ctr" -- /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version 2>/dev/null)"
# This machine reaches the npm registry through its own CA bundle: the build uses the same.
bh copy "$ctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
bh run --isolation chroot "$ctr" -- sh -c '
  ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm &&
  ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx &&
  mkdir -p /usr/local/etc && printf "cafile=/etc/ssl/certs/ca-certificates.crt\n" > /usr/local/etc/npmrc'
bh config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$ctr"
bh commit --quiet --rm "$ctr" "$NODE_IMAGE" >/dev/null

# --- the image -----------------------------------------------------------------------------------
IMAGE=localhost/switchyard:smoke
# The image's llama-server: the binary npm ci already compiled for this very machine goes into the
# build (deploy/docker/prebuilt/), instead of a second compile of several minutes on a small CI
# machine; SWITCHYARD_SMOKE_LLAMA_SERVER=build compiles it in the image, as a real build does.
HOST_LLAMA_SERVER=$ROOT/node_modules/.cache/switchyard/llama-server/bin/llama-server
if [[ ${SWITCHYARD_SMOKE_LLAMA_SERVER:-prebuilt} != build && -x $HOST_LLAMA_SERVER ]]; then
  mkdir -p "$ROOT/deploy/docker/prebuilt"
  cp "$HOST_LLAMA_SERVER" "$ROOT/deploy/docker/prebuilt/llama-server"
  say "llama-server: this machine's build (npm ci) goes into the image (SWITCHYARD_SMOKE_LLAMA_SERVER=build compiles it there)"
else
  say "llama-server: compiled in the image build (several minutes)"
fi
# The same for better-sqlite3's addon: built by npm ci for this machine's node, which is the node of
# the image; the Dockerfile compiles it when deploy/docker/prebuilt/ has none.
HOST_SQLITE_ADDON=$ROOT/node_modules/better-sqlite3/build/Release/better_sqlite3.node
if [[ ${SWITCHYARD_SMOKE_SQLITE:-prebuilt} != build && -f $HOST_SQLITE_ADDON ]]; then
  mkdir -p "$ROOT/deploy/docker/prebuilt"
  cp "$HOST_SQLITE_ADDON" "$ROOT/deploy/docker/prebuilt/better_sqlite3.node"
  say "better-sqlite3: this machine's build (npm ci) goes into the image (SWITCHYARD_SMOKE_SQLITE=build compiles it there)"
fi
say "buildah bud (BASE_IMAGE=$BASE_IMAGE NODE_IMAGE=$NODE_IMAGE ONNXRUNTIME_NODE_INSTALL=$ORT_INSTALL)"
bh bud --isolation chroot --format docker --layers=false \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
  --build-arg "ONNXRUNTIME_NODE_INSTALL=$ORT_INSTALL" \
  -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { grep -E '^npm error (code|Missing|Invalid|`)|^error|^Error' "$WORK/build.log" | head -20; tail -15 "$WORK/build.log"; fail "the image did not build"; }
say "built $IMAGE ($(bh images --format '{{.Size}}' "$IMAGE"))"

bh inspect --type image "$IMAGE" >"$WORK/image.json"
# Docker-format config (HEALTHCHECK exists only there). One value per line.
image_field() {
  node -e '
    const c = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).Docker.config;
    const pick = { entrypoint: c.Entrypoint, cmd: c.Cmd, user: c.User, healthcheck: c.Healthcheck?.Test?.[0] === "CMD" ? c.Healthcheck.Test.slice(1) : [],
      ports: Object.keys(c.ExposedPorts ?? {}), env: c.Env }[process.argv[2]];
    process.stdout.write(Array.isArray(pick) ? pick.join("\n") : String(pick ?? ""));
  ' "$WORK/image.json" "$1"
}
mapfile -t ENTRYPOINT < <(image_field entrypoint)
mapfile -t COMMAND < <(image_field cmd)
mapfile -t HEALTHCHECK < <(image_field healthcheck)
IMAGE_USER=$(image_field user)
((${#ENTRYPOINT[@]} > 0)) || fail "the image has no ENTRYPOINT"
((${#HEALTHCHECK[@]} > 0)) || fail "the image has no HEALTHCHECK CMD"
[[ -n $IMAGE_USER && $IMAGE_USER != 0 && $IMAGE_USER != 0:* && $IMAGE_USER != root* ]] || fail "the image runs as root (User=$IMAGE_USER)"
image_field ports | grep -Eq '^8080(/tcp)?$' || fail "the image does not EXPOSE 8080"

# --- llama-server ----------------------------------------------------------------------------------
# The image ships llama-server (a CPU build on this Debian base), names it in SWITCHYARD_LLAMA_SERVER
# and puts it on PATH.
ctr=$(bh from "$IMAGE")
LLAMA_SERVER=$(image_field env | sed -n 's/^SWITCHYARD_LLAMA_SERVER=//p')
[[ -n $LLAMA_SERVER ]] || fail "the image does not set SWITCHYARD_LLAMA_SERVER"
llama_version=$(bh run --isolation chroot "$ctr" -- "$LLAMA_SERVER" --version 2>&1) \
  || { say "$llama_version"; fail "$LLAMA_SERVER --version failed in the image"; }
grep -Eq '^version: [^ ]+' <<<"$llama_version" || { say "$llama_version"; fail "$LLAMA_SERVER --version printed no version line"; }
on_path=$(bh run --isolation chroot "$ctr" -- sh -c 'readlink -f "$(command -v llama-server)"' 2>&1) || true
[[ $on_path == "$(bh run --isolation chroot "$ctr" -- readlink -f "$LLAMA_SERVER")" ]] || fail "llama-server on PATH ($on_path) is not $LLAMA_SERVER"
say "llama-server in the image: $LLAMA_SERVER, $(grep -E '^version: ' <<<"$llama_version")"
# The gateway's llama-server backend, when the image's gateway has it: a chat model on it joins the config.
SERVER_MODEL=""
if bh run --isolation chroot "$ctr" -- test -f /app/dist/src/backends/llama-server/index.js >/dev/null 2>&1; then SERVER_MODEL=stories-server; fi

# --- run it --------------------------------------------------------------------------------------
PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
KEY=sk-smoke-$RANDOM$RANDOM
mkdir -p "$WORK/config"
cat >"$WORK/config/config.toml" <<'EOF'
[api]
address = "0.0.0.0:8080"
require_auth = true
api_key_env = "SWITCHYARD_API_KEY"

[logging]
format = "json"

[api.models.stories-chat]
path = "/models/stories260k-chatml/stories260K-chatml.gguf"
type = "chat"
context_length = 2048
threads = 2

[api.models.tiny-embed]
path = "/models/tiny-bert-embed"
type = "embedding"
intra_op_threads = 2
EOF
if [[ -n $SERVER_MODEL ]]; then
  cat >>"$WORK/config/config.toml" <<EOF

[api.models.$SERVER_MODEL]
backend = "llama-server"
path = "/models/stories260k-chatml/stories260K-chatml.gguf"
type = "chat"
context_length = 2048
threads = 2
EOF
fi
chmod -R a+rX "$WORK/config"

say "running: ${ENTRYPOINT[*]} ${COMMAND[*]} (user $IMAGE_USER, 127.0.0.1:$PORT)"
# The chroot isolation shares this machine's network: SWITCHYARD_ADDRESS keeps it on loopback.
bh run --isolation chroot \
  --volume "$MODELS:/models:ro" --volume "$WORK/config:/etc/switchyard:ro" \
  --env "SWITCHYARD_ADDRESS=127.0.0.1:$PORT" --env "SWITCHYARD_API_KEY=$KEY" \
  "$ctr" -- "${ENTRYPOINT[@]}" "${COMMAND[@]}" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!

BASE=http://127.0.0.1:$PORT
http() { # METHOD PATH [BODY] -> prints "STATUS BODY"
  node -e '
    const [method, url, body, key] = process.argv.slice(1);
    const headers = { authorization: `Bearer ${key}` };
    if (body) headers["content-type"] = "application/json";
    fetch(url, { method, headers, body: body || undefined, signal: AbortSignal.timeout(60_000) })
      .then(async (r) => console.log(r.status, await r.text()))
      .catch((e) => { console.log(0, e.cause?.code ?? e.message); });
  ' "$1" "$BASE$2" "${3:-}" "$KEY"
}
show_log() { say "gateway log (last 30 lines):"; tail -30 "$WORK/gateway.log" | sed 's/^/    /'; }

health=""
for ((i = 0; i < 180; i++)); do
  kill -0 "$GATEWAY_PID" 2>/dev/null || { show_log; fail "the container exited before it was healthy"; }
  health=$(http GET /health)
  [[ $health == "200 "* ]] && break
  sleep 1
done
[[ $health == "200 "* ]] || { show_log; fail "/health never answered 200 (last: $health)"; }
say "GET /health -> $health"
grep -q '"status":"ok"' <<<"$health" || { show_log; fail "/health is not ok: $health"; }

ready=$(http GET /ready)
say "GET /ready -> $ready"
[[ $ready == "200 "* ]] || { show_log; fail "/ready did not answer 200"; }

healthcheck=$(bh run --isolation chroot --env "SWITCHYARD_ADDRESS=127.0.0.1:$PORT" "$ctr" -- "${HEALTHCHECK[@]}" 2>&1) \
  || { say "$healthcheck"; fail "the image's HEALTHCHECK command failed on a healthy gateway"; }
say "HEALTHCHECK ${HEALTHCHECK[*]} -> exit 0"

unauthorized=$(node -e 'fetch(process.argv[1]).then((r) => console.log(r.status))' "$BASE/v1/models")
[[ $unauthorized == 401 ]] || fail "GET /v1/models without a key answered $unauthorized, expected 401"

chat=$(http POST /v1/chat/completions '{"model":"stories-chat","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":24,"temperature":0}')
say "POST /v1/chat/completions -> ${chat:0:400}"
node -e '
  const [status, ...rest] = process.argv[1].split(" ");
  const body = JSON.parse(rest.join(" "));
  if (status !== "200" || typeof body.choices?.[0]?.message?.content !== "string" || body.choices[0].message.content.length === 0) process.exit(1);
' "$chat" || { show_log; fail "the chat completion did not answer 200 with text"; }

if [[ -n $SERVER_MODEL ]]; then
  server_chat=$(http POST /v1/chat/completions '{"model":"'"$SERVER_MODEL"'","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":24,"temperature":0}')
  say "POST /v1/chat/completions ($SERVER_MODEL, backend llama-server) -> ${server_chat:0:400}"
  node -e '
    const [status, ...rest] = process.argv[1].split(" ");
    const body = JSON.parse(rest.join(" "));
    if (status !== "200" || typeof body.choices?.[0]?.message?.content !== "string" || body.choices[0].message.content.length === 0) process.exit(1);
  ' "$server_chat" || { show_log; fail "the chat completion on backend llama-server did not answer 200 with text"; }
fi

# The agent APIs: a stored response (the SQLite file in the image's data volume) read back, and an
# Anthropic Message.
response=$(http POST /v1/responses '{"model":"stories-chat","input":"Tell me a story.","max_output_tokens":16,"temperature":0}')
response_id=$(node -e '
  const [status, ...rest] = process.argv[1].split(" ");
  const body = JSON.parse(rest.join(" "));
  if (status !== "200" || body.object !== "response" || !/^resp_/.test(body.id)) process.exit(1);
  console.log(body.id);
' "$response") || { say "${response:0:300}"; show_log; fail "POST /v1/responses did not answer 200 with a response"; }
stored=$(http GET "/v1/responses/$response_id")
[[ $stored == "200 "*"\"id\":\"$response_id\""* ]] || { say "${stored:0:300}"; show_log; fail "GET /v1/responses/$response_id did not return the stored response"; }
say "POST /v1/responses -> 200 $response_id, stored and read back"
message=$(http POST /v1/messages '{"model":"stories-chat","max_tokens":16,"messages":[{"role":"user","content":"Tell me a story."}]}')
node -e '
  const [status, ...rest] = process.argv[1].split(" ");
  const body = JSON.parse(rest.join(" "));
  if (status !== "200" || body.type !== "message" || body.content?.[0]?.type !== "text") process.exit(1);
' "$message" || { say "${message:0:300}"; show_log; fail "POST /v1/messages did not answer 200 with a message"; }
say "POST /v1/messages -> 200, a text block"

embedding=$(http POST /v1/embeddings '{"model":"tiny-embed","input":["hello container"]}')
node -e '
  const [status, ...rest] = process.argv[1].split(" ");
  const body = JSON.parse(rest.join(" "));
  if (status !== "200" || body.data?.[0]?.embedding?.length !== 32) process.exit(1);
' "$embedding" || { say "${embedding:0:300}"; show_log; fail "the embedding did not answer 200 with 32 values"; }
say "POST /v1/embeddings -> 200, 32 values"

# The image runs on CPU here (no GPU) and must say so.
grep -q '"device":"cpu"' "$WORK/gateway.log" || { show_log; fail "the log does not name the device (cpu)"; }
say "log: $(grep -o '"device":"[a-z]*"' "$WORK/gateway.log" | sort | uniq -c | awk '{ printf "%s%sx %s", (NR > 1 ? ", " : ""), $1, $2 }')"

# SIGTERM to the container's PID 1 (tini, the first process of the image's entrypoint, under buildah
# run): tini passes it to node, which drains and exits 0.
# buildah run starts the entrypoint a few processes down: find tini among its descendants.
pid1=$(ps -e -o pid=,ppid=,comm= | awk -v root="$GATEWAY_PID" '
  { parent[$1] = $2; name[$1] = $3 }
  END { for (p in name) if (name[p] == "tini") { for (q = parent[p]; q > 1; q = parent[q]) if (q == root) { print p; exit } } }')
[[ -n $pid1 ]] || { ps -e -o pid,ppid,comm | awk 'NR == 1 || $2 >= '"$GATEWAY_PID"; fail "cannot find the container's tini process under buildah run ($GATEWAY_PID)"; }
node_pid=$(ps -o pid= --ppid "$pid1" | head -1 | tr -d ' ')
node_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$node_pid/status" 2>/dev/null || true)
[[ $node_uid == "${IMAGE_USER%%:*}" ]] || fail "node runs as uid '$node_uid', expected the image's user ${IMAGE_USER%%:*}"
say "processes: tini (pid $pid1) -> node (pid $node_pid, uid $node_uid)"
server_pids=()
if [[ -n $SERVER_MODEL ]]; then
  # Under node, through the small /bin/sh guard that stops it if the gateway dies: any descendant.
  mapfile -t server_pids < <(ps -e -o pid=,ppid=,comm= | awk -v root="$node_pid" '
    { parent[$1] = $2; name[$1] = $3 }
    END { for (p in name) if (name[p] == "llama-server") { for (q = parent[p]; q > 1; q = parent[q]) if (q == root) { print p; break } } }')
  ((${#server_pids[@]} > 0)) || fail "no llama-server process under node (pid $node_pid) serving $SERVER_MODEL"
  say "processes: node -> llama-server (pid ${server_pids[*]})"
fi
kill -TERM "$pid1"
stopped=""
for ((i = 0; i < 40; i++)); do
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then stopped=1; break; fi
  sleep 0.5
done
[[ -n $stopped ]] || { show_log; fail "the gateway did not stop within 20 s of SIGTERM"; }
set +e
wait "$GATEWAY_PID"
exit_status=$?
set -e
GATEWAY_PID=""
((exit_status == 0)) || { show_log; fail "the container exited $exit_status after SIGTERM, expected 0"; }
grep -q '"msg":"stopped"' "$WORK/gateway.log" || { show_log; fail "no 'stopped' line in the log after SIGTERM"; }
for pid in "${server_pids[@]}"; do
  ! kill -0 "$pid" 2>/dev/null || fail "llama-server (pid $pid) outlived the container"
done
say "SIGTERM -> drained, exit 0"

echo "smoke: PASS in $((SECONDS - STARTED)) s (image built from BASE_IMAGE=$BASE_IMAGE, llama-server in the image, chat${SERVER_MODEL:+ (in-process and llama-server)}, a stored response, a message and embeddings answered, graceful stop)"
