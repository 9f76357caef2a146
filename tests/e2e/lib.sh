# Helpers for end-to-end tests: a throwaway nginx on loopback and a tcpdump capture.
# Source it; call e2e_cleanup on exit (the caller traps it).

E2E_DIR=$(mktemp -d /tmp/sonde-e2e.XXXXXX)
chmod 755 "$E2E_DIR" # nginx workers run unprivileged
E2E_PIDS=()

# Safe under `set -e`: nothing here may stop the cleanup half-way (a process
# that already exited must not keep nginx running).
e2e_cleanup() {
	local p
	for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -f "$E2E_DIR/nginx.pid" ]; then
		kill "$(cat "$E2E_DIR/nginx.pid")" 2>/dev/null || true
		for _ in $(seq 50); do [ -f "$E2E_DIR/nginx.pid" ] || break; sleep 0.05; done
	fi
	wait 2>/dev/null || true
	if [ -n "${SONDE_E2E_KEEP:-}" ]; then echo "kept $E2E_DIR" >&2; else rm -rf "$E2E_DIR"; fi
}

# A free TCP port on loopback.
e2e_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nginx serving $E2E_DIR/www on 127.0.0.1:$1 and [::1]:$1, with a few fixed routes.
e2e_start_nginx() {
	local port=$1
	mkdir -p "$E2E_DIR/www/upload" "$E2E_DIR/tmp"
	chmod -R 777 "$E2E_DIR/www/upload" "$E2E_DIR/tmp"
	cat >"$E2E_DIR/nginx.conf" <<CONF
worker_processes 1;
error_log $E2E_DIR/error.log;
pid $E2E_DIR/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $E2E_DIR/tmp/body;
	proxy_temp_path $E2E_DIR/tmp/proxy;
	fastcgi_temp_path $E2E_DIR/tmp/fastcgi;
	uwsgi_temp_path $E2E_DIR/tmp/uwsgi;
	scgi_temp_path $E2E_DIR/tmp/scgi;
	keepalive_requests 10000;
	default_type text/plain;
	gzip on;
	gzip_types text/plain;
	gzip_min_length 1;
	server {
		listen 127.0.0.1:$port;
		listen [::1]:$port;
		root $E2E_DIR/www;
		location = /created { return 201 "created\n"; }
		location = /nothing { return 204; }
		location /upload/ { dav_methods PUT; create_full_put_path on; client_max_body_size 64m; }
	}
}
CONF
	nginx -p "$E2E_DIR" -c "$E2E_DIR/nginx.conf" -g 'daemon on;' 2>"$E2E_DIR/nginx.stderr" || {
		cat "$E2E_DIR/nginx.stderr"
		return 1
	}
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	return 1
}

# Start tcpdump on lo for port $1 into $2; returns once it is capturing.
e2e_start_tcpdump() {
	local port=$1 out=$2
	tcpdump -i lo --immediate-mode -U -B 131072 -s 0 -w "$out" "tcp port $port" 2>"$E2E_DIR/tcpdump.stderr" &
	E2E_PIDS+=($!)
	E2E_TCPDUMP=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$E2E_DIR/tcpdump.stderr" 2>/dev/null && { sleep 0.2; return 0; }
		sleep 0.05
	done
	cat "$E2E_DIR/tcpdump.stderr"
	return 1
}

# Stop the capture; fails (with tcpdump's words) if the kernel dropped packets,
# since then the capture, not sonde, is missing traffic.
e2e_stop_tcpdump() {
	sleep 0.5
	kill -INT "$E2E_TCPDUMP" 2>/dev/null
	wait "$E2E_TCPDUMP" 2>/dev/null
	if ! grep -q "^0 packets dropped by kernel" "$E2E_DIR/tcpdump.stderr"; then
		grep dropped "$E2E_DIR/tcpdump.stderr"
		return 1
	fi
}
