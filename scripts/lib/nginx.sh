# shellcheck shell=bash
# Sourced, after common.sh, by the loopback runs (scripts/chaos, scripts/bench,
# scripts/check-nginx): deploy/nginx/nginx.conf as shipped, with the
# replicas' loopback addresses in place of Docker's DNS name, listening on a
# loopback port, its files in a scratch directory.
#
# nginx_install                                 installs nginx-light if missing
# nginx_conf DIR LISTEN_PORT UPSTREAM_PORT...   writes DIR/nginx.conf
nginx_install() {
  command -v nginx >/dev/null && return 0
  apt_install nginx-light
}

nginx_conf() {
  local dir="$1" listen="$2" servers="" port params
  shift 2
  # The shipped upstream parameters (max_fails, fail_timeout), kept as they are.
  params="$(sed -n 's/^    server pointshare:8080 resolve \(.*\);$/\1/p' deploy/nginx/nginx.conf)"
  [ -n "$params" ] || { echo "deploy/nginx/nginx.conf: no 'server pointshare:8080 resolve ...;' line" >&2; return 1; }
  for port in "$@"; do servers+="    server 127.0.0.1:$port $params;\n"; done
  mkdir -p "$dir"
  {
    printf 'daemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\n' "$dir" "$dir"
    sed -e '/^  resolver /d' \
      -e "s|^    server pointshare:8080 .*|${servers%\\n}|" \
      -e "s|^    listen 8080;|    listen 127.0.0.1:$listen;|" \
      -e "s|^  access_log off;|  access_log off;\n  client_body_temp_path $dir/body;\n  proxy_temp_path $dir/proxy;|" \
      deploy/nginx/nginx.conf
  } >"$dir/nginx.conf"
  # Only what was meant to change changed.
  grep -q "listen 127.0.0.1:$listen;" "$dir/nginx.conf" && ! grep -q 'pointshare:8080' "$dir/nginx.conf"
}
