# shellcheck shell=bash
# Sourced, after common.sh, by the loopback runs (scripts/chaos, scripts/bench,
# scripts/check-nginx): deploy/nginx/nginx.conf as shipped, with the
# replicas' loopback addresses in place of Docker's DNS name, listening on
# loopback ports, its files in a scratch directory.
#
# nginx_install            installs nginx-light if missing
# nginx_conf DIR HTTP_PORT UPSTREAM_PORT...
#     writes DIR/nginx.conf: the API over plain HTTP on HTTP_PORT (the
#     shipped TLS server without its TLS, the redirecting port-80 server left
#     out), for the runs that measure or break the replicas, not TLS
# nginx_tls_conf DIR HTTP_PORT TLS_PORT UPSTREAM_PORT...
#     writes DIR/nginx.conf as shipped: the API over TLS on TLS_PORT with a
#     throwaway self-signed certificate for 127.0.0.1 and localhost
#     (DIR/tls.crt: clients trust it with `curl --cacert`), HTTP_PORT
#     answering /healthz and redirecting the rest
nginx_install() {
  command -v nginx >/dev/null && return 0
  apt_install nginx-light
}

nginx_conf() {
  local dir="$1" http="$2"
  shift 2
  nginx_write_conf "$dir" "$http" "" "$@"
}

nginx_tls_conf() {
  local dir="$1" http="$2" tls="$3"
  shift 3
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  nginx_write_conf "$dir" "$http" "$tls" "$@"
}

# nginx_write_conf DIR HTTP_PORT TLS_PORT (empty: no TLS) UPSTREAM_PORT...
nginx_write_conf() {
  local dir="$1" http="$2" tls="$3" servers="" port params
  shift 3
  # The shipped upstream parameters (max_fails, fail_timeout), kept as they are.
  params="$(sed -n 's/^    server pointshare:8080 resolve \(.*\);$/\1/p' deploy/nginx/nginx.conf)"
  [ -n "$params" ] || { echo "deploy/nginx/nginx.conf: no 'server pointshare:8080 resolve ...;' line" >&2; return 1; }
  for port in "$@"; do servers+="    server 127.0.0.1:$port $params;\n"; done
  mkdir -p "$dir"
  local edits=(-e '/^  resolver /d'
    -e "s|^    server pointshare:8080 .*|${servers%\\n}|"
    -e "s|^  access_log off;|  access_log off;\n  client_body_temp_path $dir/body;\n  proxy_temp_path $dir/proxy;|")
  if [ -n "$tls" ]; then
    edits+=(-e "s|^    listen 80;|    listen 127.0.0.1:$http;|"
      -e "s|^    listen 443 ssl;|    listen 127.0.0.1:$tls ssl;|"
      -e "s|/etc/nginx/tls/|$dir/|")
  else
    edits+=(-e "s|^    listen 443 ssl;|    listen 127.0.0.1:$http;|" -e '/^    ssl_/d')
  fi
  {
    printf 'daemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\n' "$dir" "$dir"
    if [ -n "$tls" ]; then
      cat deploy/nginx/nginx.conf
    else
      # Without the server block that listens on port 80.
      awk '/^  server \{$/ { block = $0 "\n"; open = 1; next }
           open { block = block $0 "\n"; if ($0 == "  }") { open = 0; if (block !~ /\n    listen 80;\n/) printf "%s", block }; next }
           { print }' deploy/nginx/nginx.conf
    fi | sed "${edits[@]}"
  } >"$dir/nginx.conf"
  # Only what was meant to change changed (the comments aside).
  local conf
  conf="$(grep -v '^ *#' "$dir/nginx.conf")"
  grep -q "listen 127.0.0.1:$http;" <<<"$conf" && ! grep -Eq 'pointshare:8080|/etc/nginx|listen (80|443)\b' <<<"$conf" &&
    if [ -n "$tls" ]; then grep -q "listen 127.0.0.1:$tls ssl;" <<<"$conf"; else ! grep -Eq '^ *ssl_| ssl;' <<<"$conf"; fi
}
