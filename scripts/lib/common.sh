# shellcheck shell=bash
# Sourced by the scripts: the helpers most of them need.
#
# say TEXT...       a progress line on stderr
# as_root CMD...    CMD as root (through sudo unless root already)
# free_port         a free TCP port on 127.0.0.1
# wait_port PORT    until something listens on 127.0.0.1:PORT (20 s at most; fails after)
# wait_http URL     until URL answers 2xx (20 s at most; fails after)
# wait_started TARGET NAME PID LOG
#                   until TARGET (a port on 127.0.0.1, or a URL answering 2xx)
#                   is up; fails showing LOG when process PID exits first, or after 20 s
# LIMITS_LIFTED     settings that lift the per-address and per-account abuse
#                   limits, for a load generator whose every member comes from one address
# npm_install DIR   `npm ci` in DIR, skipped while its package-lock.json is the one installed
# apt_install PKG...  Debian packages, as root, waiting up to 5 min for a dpkg or apt lists
#                     lock another install holds (a busy machine's parallel install)

say() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  say "nothing listens on port $1"
  return 1
}

wait_http() {
  for _ in $(seq 400); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
  say "nothing answers at $1"
  return 1
}

wait_started() {
  local target="$1" name="$2" pid="$3" log="$4"
  for _ in $(seq 200); do
    if [[ "$target" == http* ]]; then
      curl -sf "$target" >/dev/null && return 0
    else
      (exec 3<>"/dev/tcp/127.0.0.1/$target") 2>/dev/null && return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then say "$name exited at start; its log:"; cat "$log" >&2; return 1; fi
    sleep 0.1
  done
  say "$name did not start ($target) in 20 s; its log:"
  cat "$log" >&2
  return 1
}

# shellcheck disable=SC2034 # read by the scripts that source this
LIMITS_LIFTED=(POINTSHARE_TRANSFER_RATE_LIMIT=100000000 POINTSHARE_LOGIN_RATE_LIMIT=100000
  POINTSHARE_LOGIN_ACCOUNT_RATE_LIMIT=100000 POINTSHARE_LOGIN_SLOW_DOWN_AFTER=100000
  POINTSHARE_SIGNUP_RATE_LIMIT=100000 POINTSHARE_SIGNUP_GLOBAL_RATE_LIMIT=100000)

apt_install() {
  local wait=(-o DPkg::Lock::Timeout=300)
  say "installing Debian's $*"
  as_root apt-get "${wait[@]}" update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -qq "$@" >/dev/null
}

npm_install() {
  local dir="$1" sum
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$dir/node_modules/.pointshare-lock.sha256" 2>/dev/null)" != "$sum" ]; then
    say "installing $dir's npm packages (npm ci)"
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    echo "$sum" >"$dir/node_modules/.pointshare-lock.sha256"
  fi
}
