#!/usr/bin/env bash
# bench/sks.sh -- run Debian's real SKS keyserver (`sks db`, HKP only, no
# recon) on a loopback port, as a reference for benchmarks and interop tests.
#
#   bench/sks.sh start DIR PORT KEYRING.gpg    build a DB from a binary keyring in
#                                              DIR (must be new or made by us),
#                                              start `sks db`, wait until it answers
#   bench/sks.sh stop DIR                      stop it (TERM, KILL after 20 s)
#   bench/sks.sh build DIR KEYRING.gpg         only build the DB in DIR (sks build,
#                                              cleandb, pbuild), start nothing; the
#                                              seconds of each step go to DIR/build.times
#   bench/sks.sh serve DIR PORT                start `sks db` on the DB that build
#                                              made in DIR, wait until it answers
#
# Notes on Debian's sks 1.1.6 (they shape this script):
#  * Every path is compiled in as absolute (/etc/sks/sksconf, /var/lib/sks/DB,
#    ...) and -basedir is PREPENDED to it. Without -basedir sks uses the system
#    paths, so every call passes -basedir DIR and DIR mirrors that layout.
#  * The first `sks cleandb` after `sks build` segfaults; the second works.
#  * The stats page is computed at start only with `initial_stat:`.
# The daemon runs in its own session with stdin from /dev/null and output to
# DIR/db.out, so callers never wait on its pipes.
set -euo pipefail

SKS=/usr/sbin/sks
me=${0##*/}
die() { echo "$me: $*" >&2; exit 1; }

alive() {   # PID is running and not a zombie
    kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# prepare DIR PORT KEYRING: checks, the -basedir layout and the config.
# Sets the caller's (local) dir and ring to absolute paths.
prepare() {
    local port=$2
    dir=$1 ring=$3
    [ -x "$SKS" ] || die "sks is not installed (apt-get install sks)"
    [ -r "$ring" ] || die "cannot read $ring"
    head -c 5 "$ring" | grep -q -- '-----' && die "$ring is armored; sks build needs binary"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    ring=$(realpath "$ring")
    if [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/.bench-sks" ]; then
        die "$dir is not empty and not ours"
    fi
    touch "$dir/.bench-sks"
    rm -rf "$dir/var/lib/sks/DB" "$dir/var/lib/sks/PTree"
    mkdir -p "$dir/etc/sks" "$dir/var/lib/sks" "$dir/var/log/sks" "$dir/var/run/sks" "$dir/var/spool/sks"
    cat > "$dir/etc/sks/sksconf" <<EOF
hostname: 127.0.0.1
nodename: bench-sks
hkp_address: 127.0.0.1
hkp_port: $port
recon_address: 127.0.0.1
recon_port: $((port == 65535 ? port - 1 : port + 1))
initial_stat:
disable_mailsync:
dontgossip:
debuglevel: 1
pagesize: 16
ptree_pagesize: 16
EOF
    : > "$dir/etc/sks/membership"
    : > "$dir/etc/sks/mailsync"
    printf 'set_cachesize 0 67108864 1\nset_flags DB_LOG_AUTOREMOVE\n' > "$dir/DB_CONFIG"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# build_db: sks build + cleandb (retried once: the first one segfaults) +
# pbuild in $dir from $ring. Seconds per step go to $dir/build.times.
build_db() {
    rm -f "$dir/build.times"
    (
        cd "$dir"
        t0=$(now)
        # (set -e does not apply on the left of ||: check each step)
        "$SKS" build "$ring" -n 10 -cache 100 -basedir "$dir" || exit 1
        t1=$(now)
        "$SKS" cleandb -basedir "$dir" || "$SKS" cleandb -basedir "$dir" || exit 1
        t2=$(now)
        "$SKS" pbuild -cache 20 -ptree_cache 70 -basedir "$dir" || exit 1
        t3=$(now)
        printf 'build %s\ncleandb %s\npbuild %s\n' "$(secs "$t0" "$t1")" \
            "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" > "$dir/build.times"
    ) </dev/null >"$dir/build.out" 2>&1 || { tail -n 20 "$dir/build.out" >&2; die "sks DB build failed"; }
}

build() {
    local dir ring
    prepare "$1" 11371 "$2"    # the port is not used by a build
    build_db
}

start() {
    local dir ring port=$2
    prepare "$1" "$port" "$3"
    build_db
    run_db "$port"
}

# serve DIR PORT: `sks db` on a DB that `build` made in DIR, on PORT
serve() {
    local dir port=$2
    dir=$(cd "$1" && pwd)
    [ -f "$dir/.bench-sks" ] && [ -d "$dir/var/lib/sks/DB" ] || die "$dir holds no DB built by $me"
    sed -i -e "s/^hkp_port: .*/hkp_port: $port/" \
        -e "s/^recon_port: .*/recon_port: $((port == 65535 ? port - 1 : port + 1))/" "$dir/etc/sks/sksconf"
    run_db "$port"
}

# run_db PORT: starts `sks db` in $dir, waits until it answers on PORT
run_db() {
    local port=$1
    rm -f "$dir/var/run/sks/db_com_sock"
    ( cd "$dir" && exec setsid "$SKS" -basedir "$dir" db ) </dev/null >>"$dir/db.out" 2>&1 &
    local pid=$!
    echo "$pid" > "$dir/db.pid"
    local i
    for i in $(seq 1 300); do
        alive "$pid" || { tail -n 20 "$dir/db.out" >&2; die "sks db exited"; }
        if curl -fsS --noproxy '*' --max-time 5 -o /dev/null "http://127.0.0.1:$port/pks/lookup?op=stats" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    stop "$dir"
    die "sks db did not answer on port $port"
}

stop() {
    local dir=$1 pid i
    [ -f "$dir/db.pid" ] || return 0
    pid=$(cat "$dir/db.pid")
    # only signal it if it is still our sks
    if alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "sks"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do alive "$pid" || break; sleep 0.2; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/db.pid"
}

case ${1:-} in
    start) [ $# -eq 4 ] || die "usage: $me start DIR PORT KEYRING.gpg"; start "$2" "$3" "$4" ;;
    stop)  [ $# -eq 2 ] || die "usage: $me stop DIR"; stop "$2" ;;
    build) [ $# -eq 3 ] || die "usage: $me build DIR KEYRING.gpg"; build "$2" "$3" ;;
    serve) [ $# -eq 3 ] || die "usage: $me serve DIR PORT"; serve "$2" "$3" ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
