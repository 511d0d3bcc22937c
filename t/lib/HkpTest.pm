package HkpTest;

=pod

=head1 NAME

HkpTest - test harness for the HKP nginx module (core Perl only)

=head1 SYNOPSIS

    use FindBin; use lib "$FindBin::Bin/lib";
    use Test::More;
    use HkpTest qw(:all);

    my $db = tmpdir() . '/db';
    import_keys($db, glob(root() . '/t/data/*.asc'));   # returns reconsvc's summary
    my $base = start_nginx(db => $db);                  # http://127.0.0.1:PORT
    my $r = http_get('/pks/lookup?op=get&options=mr&search=0x2273FE01');
    is($r->{status}, 200);
    my $raw = raw_http(undef, "GET /pks/lookup?op=stats HTTP/1.0\r\n\r\n");
    my $res = parse_http($raw);                         # {status, headers, body}
    done_testing;

Run one file alone: C<HKP_ROOT=/path/to/repo prove -v t/31-clients.t>.

=head1 FUNCTIONS

=over

=item root()

Repository root: C<$ENV{HKP_ROOT}>, else derived from this file's path (t/lib/..).

=item tmpdir()

A fresh temporary directory (mode 0755 so nginx workers can reach it),
removed at exit unless C<HKP_KEEP=1>. Each call returns a new directory.

=item import_keys($dbdir, @files)

Runs C<build/reconsvc import --db $dbdir @files> (or C<$ENV{HKP_RECONSVC}>),
returns its stdout; dies on a non-zero exit with stderr in the message.
C<-> as a file means stdin (give C<< { stdin => $bytes } >> as the last
argument to feed it).

=item start_nginx(%opt)

Options: C<db> (LMDB dir; omit for nginx without C<hkp_db> and without the
C</pks/> location), C<conf> (extra directives inside C<server {}>), C<http>
(extra directives inside C<http {}>), C<main> (extra main-context
directives), C<workers> (default 1), C<< module => 0 >> (plain nginx), C<location> (the directives of
C<location /pks/ {}>, default C<hkp on;>). Picks a free loopback port,
writes C<nginx.conf> into a fresh prefix, runs C</usr/sbin/nginx> (or
C<$ENV{HKP_NGINX}>) with C<daemon off> as a child, waits up to 10 s for an
HTTP answer and returns the base URL C<http://127.0.0.1:PORT>. Dies with
the error log on failure. The module is C<build/ngx_hkp_module.so> or
C<$ENV{HKP_MODULE_SO}>; nginx loads a copy of it made in the prefix, so a
rebuild during the test cannot disturb it. The started nginx becomes the "current" one used by
relative paths in C<http_get>/C<http_req>, by C<raw_http(undef, ...)>,
C<port()>, C<base_url()>, C<nginx_error_log()>. All nginx processes are
stopped (QUIT, then TERM/KILL) at exit.

=item stop_nginx([$base_url])

Stops the given (default: current) nginx and waits for it.

=item nginx_error_log([$base_url]), nginx_prefix([$base_url]), port(), base_url()

=item http_get($url_or_path, \%headers?)

=item http_req($method, $url_or_path, \%headers?, $body?)

HTTP::Tiny with keep-alive (one agent per process), no proxy, 30 s timeout.
Returns C<< {status, reason, headers (lower-case names), content} >>.
Status 599 means a connection-level error (content holds the message).

=item raw_http($port_or_undef, $bytes, %opt)

Sends C<$bytes> over a fresh TCP connection and returns everything read
until the server closes or C<timeout> (default 5 s) passes without data.
C<< half_close => 1 >> shuts down the write side after sending.

=item parse_http($raw)

Splits a raw response into C<< {status, proto, reason, headers, header_list, body, head} >>;
C<headers> has lower-case names (last wins), C<header_list> keeps order
and duplicates as C<[name, value]> pairs.

=item run_cmd(\@argv, %opt)

Runs a command without a shell, with C<stdin> (bytes; default /dev/null),
C<timeout> (seconds, default 60; the whole process group is killed) and
C<env> (hashref of extra environment). Returns
C<< {rc, out, err, timed_out} >> (C<rc> is the exit code, or 128+signal).

=item gpg_home(%opt)

Makes a fresh GNUPGHOME (mode 0700) whose dirmngr.conf names
C<keyserver hkp://127.0.0.1:PORT> (C<keyserver> option, default the
current nginx) and C<log-file HOME/dirmngr.log>. Returns its path. Its dirmngr and gpg-agent are killed at
exit (C<gpgconf --kill all>).

=item gpg($home, @args) / gpg_t($home, $timeout, @args)

Runs C<gpg --homedir $home --batch --no-tty @args> via C<run_cmd>
(timeout 60 s, or C<$timeout>). Add C<< { stdin => ... } >> as last arg to feed stdin.

=item have_cmd($name)

True when C<$name> is an executable on PATH.

=item dearmor($text, check_crc => 1)

Decodes every C<PGP PUBLIC KEY BLOCK> in C<$text> and returns a list of
C<[$binary, $crc_ok]> pairs (C<$crc_ok> is undef when the block has no CRC
line or C<< check_crc => 0 >>; the pure-Perl CRC costs about 0.3 s/MB).

=item parse_packets($binary)

Returns an arrayref of C<< {tag, body} >>, or dies on a malformed packet stream
(partial lengths are refused: they never occur in keys).

=item split_keys($binary_or_packets)

Groups packets into keys (a new key starts at each public-key packet, tag 6).
Returns a list of arrayrefs of packets.

=item key_fpr(\@packets) / v4_fpr($key_packet_body)

Upper-case hex v4 fingerprint of a key's primary key (undef if not v4).

=item sks_hash(\@packets)

The SKS key hash of a key as given (no dedup/merge): upper-case hex MD5
over the packets sorted by (tag, body bytes), each written as 4-byte tag, 4-byte length, body.

=item packets_bin(\@packets)

Serialises C<< {tag, body} >> packets with new-format headers.

=item enarmor($binary)

An ASCII-armored C<PGP PUBLIC KEY BLOCK> (64-column base64, CRC line).

=item dedup_packets(@packet_lists)

The union of several packet lists without repeats (same tag and body),
first occurrence order: what an SKS merge stores, so
C<sks_hash([dedup_packets(@uploads)])> is the merged key's hash (exact
unless one packet repeats in two blocks: the SKS hash counts it twice).

=back

=head1 ENVIRONMENT

C<HKP_ROOT>, C<HKP_KEEP>, C<HKP_MODULE_SO>, C<HKP_RECONSVC>, C<HKP_NGINX>,
C<HKP_TEST_URL> (run the tests against an already running server, e.g. a
real SKS loaded with the same keys: C<start_nginx> returns that URL and
C<import_keys> does nothing), C<HKP_DB_DIRECTIVE> (default C<hkp_db>), C<HKP_ON_DIRECTIVE> (default C<hkp on;>).
Proxy variables are removed from C<%ENV> when this module loads, so no
client talks to a proxy.

=cut

use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp ();
use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h setsid _exit);
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep time);
use Exporter 'import';
use MIME::Base64 qw(decode_base64);
use Digest::SHA qw(sha1_hex);
use Digest::MD5 qw(md5_hex);

our @EXPORT_OK = qw(root tmpdir import_keys start_nginx stop_nginx nginx_error_log
    nginx_prefix port base_url http_get http_req raw_http parse_http run_cmd
    gpg_home gpg gpg_t have_cmd slurp spew dearmor parse_packets split_keys
    key_fpr v4_fpr sks_hash packets_bin enarmor dedup_packets nginx_conf_test);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

delete @ENV{qw(http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
               no_proxy NO_PROXY)};

my $OWNER = $$;        # END blocks only act in the process that loaded us
my %NGINX;             # base_url => {pid, prefix, port}
my $CURRENT;           # base_url of the last started nginx
my @GPG_HOMES;
my $UA;
my $SAN_FAIL = 0;      # a sanitizer report was found in an nginx prefix

sub root {
    return $ENV{HKP_ROOT} if $ENV{HKP_ROOT};
    return abs_path(dirname(__FILE__) . '/../..');
}

sub tmpdir {
    my $d = File::Temp::tempdir('hkpt-XXXXXXXX', TMPDIR => 1,
                                CLEANUP => !$ENV{HKP_KEEP});
    chmod 0755, $d;
    print STDERR "# HkpTest: keeping $d\n" if $ENV{HKP_KEEP};
    return $d;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return undef;
    local $/;
    my $s = <$fh>;
    return $s;
}

sub spew {
    my ($f, $data) = @_;
    open my $fh, '>:raw', $f or croak "write $f: $!";
    print $fh $data;
    close $fh or croak "close $f: $!";
}

sub have_cmd {
    my ($c) = @_;
    for my $d (split /:/, $ENV{PATH} // '') {
        return 1 if -x "$d/$c" && !-d "$d/$c";
    }
    return 0;
}

# ---------------------------------------------------------------- processes

sub run_cmd {
    my ($argv, %opt) = @_;
    my $timeout = $opt{timeout} // 60;
    my $dir = File::Temp->newdir('hkpcmd-XXXXXX', TMPDIR => 1);
    my ($in, $out, $err) = ("$dir/in", "$dir/out", "$dir/err");
    spew($in, $opt{stdin} // '');
    my $pid = fork() // croak "fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        open STDIN, '<', (defined $opt{stdin} ? $in : '/dev/null') or _exit(126);
        open STDOUT, '>', $out or _exit(126);
        open STDERR, '>', $err or _exit(126);
        if ($opt{env}) { $ENV{$_} = $opt{env}{$_} for keys %{$opt{env}} }
        { no warnings q(exec); exec { $argv->[0] } @$argv; }
        print STDERR "exec $argv->[0]: $!\n";
        _exit(127);
    }
    my $deadline = time + $timeout;
    my ($st, $timed_out) = (undef, 0);
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $st = $?; last }
        if (time > $deadline) {
            $timed_out = 1;
            kill 'KILL', -$pid;
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $st = $?;
            last;
        }
        sleep 0.02;
    }
    # A command may leave children in its process group (e.g. daemons it
    # spawned would be in their own session; stragglers get killed here).
    my $rc = ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    return { rc => $rc, out => slurp($out) // '', err => slurp($err) // '',
             timed_out => $timed_out };
}

sub import_keys {
    my ($db, @files) = @_;
    my %opt;
    %opt = %{ pop @files } if @files && ref $files[-1] eq 'HASH';
    make_path($db);
    chmod 0755, $db;
    return "external server: nothing imported (read 0, new 0)" if $ENV{HKP_TEST_URL};
    my $bin = $ENV{HKP_RECONSVC} || root() . '/build/reconsvc';
    -x $bin or croak "import_keys: $bin is not built (run ./build.sh)";
    my $r = run_cmd([$bin, 'import', '--db', $db, @files],
                    timeout => $opt{timeout} // 600, stdin => $opt{stdin});
    croak "import_keys: $bin import failed (rc $r->{rc}"
          . ($r->{timed_out} ? ', timed out' : '') . "): $r->{err}$r->{out}"
        if $r->{rc} != 0;
    return $r->{out};
}

# ---------------------------------------------------------------- nginx

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 0)
        or croak "free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub _module_so {
    my $so = $ENV{HKP_MODULE_SO} || root() . '/build/ngx_hkp_module.so';
    $so = abs_path($so) // $so;
    return $so;
}

sub _write_conf {
    my ($prefix, $port, %o) = @_;
    my $workers = $o{workers} // 1;
    my $user = $> == 0 ? "user root;\n" : '';
    my $load = '';
    if (!defined $o{module} || $o{module}) {
        # Load a private copy: a rebuild that rewrites build/ngx_hkp_module.so
        # in place must not change the code under a running test's nginx.
        my $so = _module_so();
        my $data = slurp($so) // croak "start_nginx: cannot read $so (run ./build.sh)";
        spew("$prefix/ngx_hkp_module.so", $data);
        chmod 0755, "$prefix/ngx_hkp_module.so";
        $load = "load_module $prefix/ngx_hkp_module.so;\n";
    }
    my $dbdir = $ENV{HKP_DB_DIRECTIVE} || 'hkp_db';
    my $on = $ENV{HKP_ON_DIRECTIVE} || 'hkp on;';
    my $hkp = '';
    if (defined $o{db}) {
        my $db = abs_path($o{db}) // $o{db};
        my $loc = $o{location} // $on;
        $hkp = "        $dbdir $db;\n        location /pks/ { $loc }\n";
    }
    my $conf = <<"EOF";
$load$user
daemon off;
master_process on;
worker_processes $workers;
error_log $prefix/error.log info;
pid $prefix/nginx.pid;
$o{main}
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    # as the shipped configs: nginx's body limit at the module's default
    # (hkp_add_max_body 8m); the smaller of the two applies
    client_max_body_size 8m;
$o{http}
    server {
        listen 127.0.0.1:$port;
$hkp$o{conf}
    }
}
EOF
    spew("$prefix/nginx.conf", $conf);
}

# `nginx -t` over a minimal config in $dir (created): the module, hkp_db $db,
# the http-level $directives, one server on a free loopback port with
# /pks/ served by the module. Returns run_cmd's result ({rc}, {err}, ...).
sub nginx_conf_test {
    my ($dir, $db, $directives) = @_;
    mkdir $dir;
    my $so = _module_so();
    my $port = _free_port();
    spew("$dir/nginx.conf", "load_module $so;\nerror_log $dir/error.log;\npid $dir/nginx.pid;\n"
        . "events {}\nhttp {\n    hkp_db $db;\n    $directives\n"
        . "    server {\n        listen 127.0.0.1:$port;\n"
        . "        location /pks/ { hkp on; }\n    }\n}\n");
    my %env;
    $env{LD_PRELOAD} = $ENV{HKP_SAN_PRELOAD} if $ENV{HKP_SAN_PRELOAD};
    $env{ASAN_OPTIONS} = 'detect_leaks=0' if $ENV{HKP_SAN_PRELOAD};
    return run_cmd(['/usr/sbin/nginx', '-t', '-p', "$dir/", '-c', "$dir/nginx.conf",
                    '-e', "$dir/error.log"], env => \%env);
}

sub start_nginx {
    my (%o) = @_;
    if (my $ext = $ENV{HKP_TEST_URL}) {           # test another server (e.g. SKS)
        $ext =~ s{/+$}{};
        my ($p) = $ext =~ /:(\d+)$/;
        $NGINX{$ext} = { pid => 0, prefix => tmpdir(), port => $p // 80, external => 1 };
        $CURRENT = $ext;
        return $ext;
    }
    $o{$_} //= '' for qw(conf http main);
    my $nginx = $ENV{HKP_NGINX} || '/usr/sbin/nginx';
    my $last_err = '';
    for my $attempt (1 .. 3) {
        my $prefix = tmpdir();
        make_path("$prefix/tmp", "$prefix/logs", "$prefix/html");
        chmod 0755, "$prefix/tmp", "$prefix/logs", "$prefix/html";
        my $port = _free_port();
        _write_conf($prefix, $port, %o);
        my $pid = fork() // croak "fork: $!";
        if (!$pid) {
            setsid();
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$prefix/stderr.log";
            open STDERR, '>>', "$prefix/stderr.log";
            if (my $pre = $ENV{HKP_SAN_PRELOAD}) {
                # Sanitizer run: the module is built with ASan+UBSan and the
                # runtime is preloaded into nginx only; reports go to files
                # that _stop() turns into a failure.
                $ENV{LD_PRELOAD} = $pre;
                $ENV{ASAN_OPTIONS} = "detect_leaks=0:log_path=$prefix/san";
                $ENV{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$prefix/san";
            }
            no warnings q(exec);
            exec $nginx, '-p', "$prefix/", '-c', "$prefix/nginx.conf", '-e', "$prefix/error.log";
            _exit(127);
        }
        my $base = "http://127.0.0.1:$port";
        $NGINX{$base} = { pid => $pid, prefix => $prefix, port => $port };
        my $deadline = time + 10;
        my $up = 0;
        while (time < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                delete $NGINX{$base};
                last;
            }
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                          Proto => 'tcp', Timeout => 1);
            if ($s) {
                # The port is bound; wait until a worker actually answers.
                my $r = raw_http($port, "GET /hkptest-ping HTTP/1.0\r\n\r\n", timeout => 2);
                close $s;
                if ($r =~ m{^HTTP/1\.\d \d\d\d}) { $up = 1; last }
            }
            sleep 0.05;
        }
        if ($up) {
            $CURRENT = $base;
            return $base;
        }
        my $log = (slurp("$prefix/error.log") // '') . (slurp("$prefix/stderr.log") // '');
        if ($NGINX{$base}) { _stop($base) }
        $last_err = $log;
        next if $log =~ /Address already in use/;   # lost the port race
        last;
    }
    croak "start_nginx: nginx did not come up; error log:\n$last_err";
}

sub _stop {
    my ($base) = @_;
    my $n = delete $NGINX{$base} or return;
    my $pid = $n->{pid};
    return if $n->{external};
    kill 'QUIT', $pid;
    my $deadline = time + 10;
    my $sent_term = 0;
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        last if $w == $pid || $w == -1;
        if (time > $deadline) {
            if (!$sent_term) { kill 'TERM', $pid; $deadline = time + 5; $sent_term = 1 }
            else { kill 'KILL', -$pid; kill 'KILL', $pid; waitpid($pid, 0); last }
        }
        sleep 0.02;
    }
    # Workers are in nginx's session; make sure none outlive the master.
    kill 'KILL', -$pid;
    for my $f (glob("$n->{prefix}/san.*")) {
        my $r = slurp($f) // '';
        next unless length $r;
        $SAN_FAIL = 1;
        print STDERR "# sanitizer report from nginx ($f):\n", map { "#   $_\n" } split /\n/, $r;
    }
    $CURRENT = undef if defined $CURRENT && $CURRENT eq $base;
}

sub stop_nginx {
    my ($base) = @_;
    $base //= $CURRENT;
    return unless defined $base;
    _stop($base);
}

sub _inst {
    my ($base) = @_;
    $base //= $CURRENT;
    croak 'no nginx started' unless defined $base;
    my $n = $NGINX{$base} or croak "no nginx at $base";
    return $n;
}

sub nginx_prefix    { _inst(@_)->{prefix} }
sub nginx_error_log { slurp(_inst(@_)->{prefix} . '/error.log') // '' }
sub port            { _inst(@_)->{port} }
sub base_url        { _inst(); $CURRENT }

# ---------------------------------------------------------------- HTTP

sub _ua {
    $UA //= HTTP::Tiny->new(keep_alive => 1, timeout => 30, http_proxy => undef,
                            https_proxy => undef, proxy => undef, max_redirect => 0,
                            agent => 'hkptest/1');
    return $UA;
}

sub _url {
    my ($u) = @_;
    return $u if $u =~ m{^https?://};
    croak "relative URL $u but no nginx started" unless defined $CURRENT;
    return $CURRENT . $u;
}

sub http_req {
    my ($method, $url, $headers, $body) = @_;
    my %args;
    $args{headers} = $headers if $headers;
    $args{content} = $body if defined $body;
    my $r = _ua()->request($method, _url($url), \%args);
    return { status => $r->{status}, reason => $r->{reason},
             headers => $r->{headers} // {}, content => $r->{content} // '' };
}

sub http_get { my ($url, $h) = @_; return http_req('GET', $url, $h) }

sub raw_http {
    my ($port, $bytes, %opt) = @_;
    $port //= port();
    my $timeout = $opt{timeout} // 5;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout)
        or return '';
    binmode $s;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, 65536, $off);
        last unless $n;
        $off += $n;
    }
    shutdown($s, SHUT_WR) if $opt{half_close};
    my $sel = IO::Select->new($s);
    my $buf = '';
    while ($sel->can_read($timeout)) {
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    return $buf;
}

sub parse_http {
    my ($raw) = @_;
    return undef unless defined $raw;
    my ($head, $body) = split /\r?\n\r?\n/, $raw, 2;
    return undef unless defined $head && $head =~ m{^(HTTP/\d\.\d) (\d{3}) ?(.*?)\r?$}m;
    my %r = (proto => $1, status => $2 + 0, reason => $3, body => $body // '', head => $head);
    my (%h, @list);
    for my $line ((split /\r?\n/, $head)[1 .. 1000]) {
        last unless defined $line;
        next unless $line =~ /^([^:]+):\s*(.*?)\s*$/;
        push @list, [$1, $2];
        $h{lc $1} = $2;
    }
    $r{headers} = \%h;
    $r{header_list} = \@list;
    return \%r;
}

# ---------------------------------------------------------------- gpg

sub gpg_home {
    my (%o) = @_;
    my $ks = $o{keyserver} // do {
        croak 'gpg_home: no keyserver and no nginx' unless defined $CURRENT;
        my $p = port();
        "hkp://127.0.0.1:$p";
    };
    my $h = File::Temp::tempdir('hkpg-XXXXXXXX', TMPDIR => 1, CLEANUP => !$ENV{HKP_KEEP});
    chmod 0700, $h;
    spew("$h/dirmngr.conf", "keyserver $ks\nlog-file $h/dirmngr.log\n");
    spew("$h/gpg.conf", "no-auto-key-retrieve\n");
    push @GPG_HOMES, $h;
    return $h;
}

sub gpg_t {
    my ($home, $timeout, @args) = @_;
    my %opt = (timeout => $timeout);
    if (@args && ref $args[-1] eq 'HASH') { %opt = (%opt, %{ pop @args }) }
    return run_cmd(['gpg', '--homedir', $home, '--batch', '--no-tty', @args], %opt,
                   env => { GNUPGHOME => $home });
}

sub gpg { my ($home, @args) = @_; return gpg_t($home, 60, @args) }

sub _kill_gpg_homes {
    for my $h (@GPG_HOMES) {
        next unless -d $h;
        run_cmd(['gpgconf', '--homedir', $h, '--kill', 'all'], timeout => 10,
                env => { GNUPGHOME => $h });
    }
    @GPG_HOMES = ();
}

# ---------------------------------------------------------------- OpenPGP

my @CRC_T;
sub _crc24 {
    my ($data) = @_;
    if (!@CRC_T) {
        for my $i (0 .. 255) {
            my $c = $i << 16;
            for (1 .. 8) { $c <<= 1; $c ^= 0x1864CFB if $c & 0x1000000 }
            $CRC_T[$i] = $c & 0xFFFFFF;
        }
    }
    my $crc = 0xB704CE;
    $crc = (($crc << 8) & 0xFFFFFF) ^ $CRC_T[(($crc >> 16) ^ $_) & 0xFF] for unpack 'C*', $data;
    return $crc;
}

sub dearmor {
    my ($text, %o) = @_;
    my $check = $o{check_crc} // 1;
    my @out;
    while ($text =~ /-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(.*?)-----END PGP PUBLIC KEY BLOCK-----/sg) {
        my $inner = $1;
        # skip armor headers (up to the first empty line)
        $inner =~ s/\A(?:[^\r\n]+\r?\n)*?\r?\n// if $inner =~ /\A[^\r\n]*: /;
        $inner =~ s/\A\r?\n//;
        my ($crc);
        my $b64 = '';
        for my $l (split /\r?\n/, $inner) {
            if ($l =~ /^=([A-Za-z0-9+\/]{4})\s*$/) { $crc = $1; next }
            $b64 .= $l;
        }
        my $bin = decode_base64($b64);
        my $ok;
        if (defined $crc && $check) {
            my $want = unpack 'N', "\0" . decode_base64($crc);
            $ok = _crc24($bin) == $want ? 1 : 0;
        }
        push @out, [$bin, $ok];
    }
    return @out;
}

sub parse_packets {
    my ($bin) = @_;
    my @p;
    my $i = 0;
    my $n = length $bin;
    while ($i < $n) {
        my $h = ord substr($bin, $i++, 1);
        die "parse_packets: bad header byte at " . ($i - 1) . "\n" unless $h & 0x80;
        my ($tag, $len);
        if ($h & 0x40) {
            $tag = $h & 0x3f;
            die "parse_packets: truncated\n" if $i >= $n;
            my $o = ord substr($bin, $i++, 1);
            if ($o < 192) { $len = $o }
            elsif ($o < 224) {
                die "parse_packets: truncated\n" if $i >= $n;
                $len = (($o - 192) << 8) + ord(substr($bin, $i++, 1)) + 192;
            } elsif ($o == 255) {
                die "parse_packets: truncated\n" if $i + 4 > $n;
                $len = unpack 'N', substr($bin, $i, 4);
                $i += 4;
            } else { die "parse_packets: partial body length\n" }
        } else {
            $tag = ($h >> 2) & 0x0f;
            my $lt = $h & 3;
            if ($lt == 3) { $len = $n - $i }
            else {
                my $w = (1, 2, 4)[$lt];
                die "parse_packets: truncated\n" if $i + $w > $n;
                $len = unpack((('C', 'n', 'N')[$lt]), substr($bin, $i, $w));
                $i += $w;
            }
        }
        die "parse_packets: packet overruns data\n" if $i + $len > $n;
        push @p, { tag => $tag, body => substr($bin, $i, $len) };
        $i += $len;
    }
    return \@p;
}

sub split_keys {
    my ($x) = @_;
    my $p = ref $x ? $x : parse_packets($x);
    my @keys;
    for my $pk (@$p) {
        push @keys, [] if $pk->{tag} == 6 || !@keys;
        push @{ $keys[-1] }, $pk;
    }
    return @keys;
}

sub v4_fpr {
    my ($body) = @_;
    return undef unless length $body && ord($body) == 4;
    return uc sha1_hex("\x99" . pack('n', length $body) . $body);
}

sub key_fpr {
    my ($pk) = @_;
    return undef unless @$pk && $pk->[0]{tag} == 6;
    return v4_fpr($pk->[0]{body});
}

sub sks_hash {
    my ($pk) = @_;
    my @ser = map { pack('NN', $_->{tag}, length $_->{body}) . $_->{body} }
              sort { $a->{tag} <=> $b->{tag} || $a->{body} cmp $b->{body} } @$pk;
    return uc md5_hex(join '', @ser);
}

sub packets_bin {
    my ($pk) = @_;
    my $out = '';
    for my $p (@$pk) {
        my $len = length $p->{body};
        my $h = chr(0xC0 | $p->{tag});
        if ($len < 192)     { $h .= chr($len) }
        elsif ($len < 8384) { my $l = $len - 192; $h .= chr(($l >> 8) + 192) . chr($l & 0xFF) }
        else                { $h .= "\xFF" . pack('N', $len) }
        $out .= $h . $p->{body};
    }
    return $out;
}

sub enarmor {
    my ($bin) = @_;
    my $b64 = MIME::Base64::encode_base64($bin, '');
    $b64 =~ s/(.{1,64})/$1\n/g;
    my $crc = MIME::Base64::encode_base64(substr(pack('N', _crc24($bin)), 1), '');
    return "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n$b64=$crc\n"
         . "-----END PGP PUBLIC KEY BLOCK-----\n";
}

sub dedup_packets {
    my (@lists) = @_;
    my (%seen, @out);
    for my $l (@lists) {
        for my $p (@$l) {
            next if $seen{"$p->{tag}:$p->{body}"}++;
            push @out, $p;
        }
    }
    return @out;
}

END {
    if ($$ == $OWNER) {
        {
            local $?;
            _kill_gpg_homes();
            _stop($_) for keys %NGINX;
        }
        $? = 1 if $SAN_FAIL && $? == 0;
    }
}

1;
