# bench/lib.sh -- shell functions the benchmarks share (sourced by
# bench/lookup and bench/scale; not run on its own).
#
# fill_selfsig DB: runs `reconsvc run` on DB until its background fill of
# the self-signature records an import left is done, and prints "N S"
# (records written, seconds) from its log line.
#
# The caller sets: W (scratch dir), PIDS (array: what to stop on exit),
# WORKERS (nginx worker_processes), NGINX (the nginx binary), CONNS,
# THREADS, DURATION (wrk settings), and defines say() and die(); run_wrk
# NAME PORT LUA fills the caller's associative arrays RPS P50 P99 ERR XFER
# under NAME.

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fill_selfsig() {
    local db=$1 log="$W/fill-$$.log" pid i
    : > "$W/fill-membership"
    setsid "$RECONSVC" run --db "$db" --listen "127.0.0.1:$(free_port)" --http-port 1 \
        --membership "$W/fill-membership" --gossip 100000 --profiles sks --log "$log" \
        > "$W/fill-$$.out" 2>&1 &
    pid=$!
    for i in $(seq 1 360000); do
        grep -q 'selfsig fill: done' "$log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$W/fill-$$.out" "$log" >&2; die "reconsvc run exited"; }
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sed -n 's/.*selfsig fill: done: \([0-9]*\) records written in \([0-9.]*\) s.*/\1 \2/p' "$log"
}

user_line() { [ "$(id -u)" -eq 0 ] && echo 'user root;' || true; }

# start_nginx NAME PORT "http{} body extra" [load_module line]
start_nginx() {
    local name=$1 port=$2 server=$3 load=${4:-} p="$W/$1"
    mkdir -p "$p/tmp"
    cat > "$p/nginx.conf" <<EOF
$load
$(user_line)
daemon off;
master_process on;
worker_processes $WORKERS;
error_log $p/error.log warn;
pid $p/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=4096;
$server
    }
}
EOF
    setsid "$NGINX" -p "$p/" -c "$p/nginx.conf" -e "$p/error.log" </dev/null >"$p/stderr.log" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 1 100); do
        curl -s --noproxy '*' --max-time 2 -o /dev/null "http://127.0.0.1:$port/" && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "$p/error.log" "$p/stderr.log" >&2 2>/dev/null || true
    die "$name nginx did not start"
}

# check_get NAME PORT FPR: the server answers op=get with an armored key
check_get() {
    local out
    out=$(curl -s --noproxy '*' --max-time 10 -w '\n%{http_code}' \
          "http://127.0.0.1:$2/pks/lookup?op=get&options=mr&search=0x$3") || die "$1: request failed"
    [ "${out##*$'\n'}" = 200 ] && grep -q 'BEGIN PGP PUBLIC KEY BLOCK' <<<"$out" \
        || die "$1 does not answer op=get for 0x$3 with 200 + a key (got ${out##*$'\n'})"
}

# rotate_lua LIST PREFIX OUT: a wrk script requesting PREFIX.<line> for
# every line of LIST in turn; each wrk thread starts elsewhere
rotate_lua() {
    cat > "$3" <<EOF
local list = {}
for l in io.lines("$1") do
    if #l > 0 then list[#list + 1] = "$2" .. l end
end
local n = 0
function setup(thread)
    n = n + 1
    thread:set("start", n * 7919)
end
local i
function init(args)
    i = (start or 0) % #list
end
function request()
    i = i % #list + 1
    return wrk.format("GET", list[i])
end
EOF
}

# to_ms "1.23ms" -> 1.23
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

run_wrk() {
    local name=$1 port=$2 lua=$3 out="$W/wrk-$1.txt"
    say "wrk $name (warm-up 2 s, then -c$CONNS -t$THREADS -d$DURATION)"
    wrk -c"$CONNS" -t"$THREADS" -d2s --timeout 10s -s "$lua" "http://127.0.0.1:$port" >/dev/null 2>&1 || true
    wrk -c"$CONNS" -t"$THREADS" -d"$DURATION" --timeout 10s --latency -s "$lua" \
        "http://127.0.0.1:$port" > "$out" 2>&1 || { cat "$out" >&2; die "wrk against $name failed"; }
    RPS[$name]=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    XFER[$name]=$(awk '/^Transfer\/sec:/ { print $2 }' "$out")
    P50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    local non2xx sockerr
    non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$out")
    sockerr=$(awk '/Socket errors/ { sub(/^ *Socket errors: */, ""); print }' "$out")
    ERR[$name]="${non2xx:+non-2xx $non2xx}${sockerr:+${non2xx:+; }socket errors: $sockerr}"
}
