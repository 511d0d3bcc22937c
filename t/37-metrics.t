#!/usr/bin/perl
# /metrics (hkp_metrics, ngx_hkp_metrics.c): Prometheus text format 0.0.4.
# Every sample line belongs to a metric family whose HELP and TYPE lines
# come before it; counters end in _total; histogram buckets are cumulative
# and +Inf equals _count. The counters live in a shared zone, so with two
# workers every request is counted: after 3 op=get hits, 1 op=get miss, 1
# health, 1 new and 1 unchanged upload, the counters have moved by exactly
# that; the database gauges are there (keys, size, free pages, readers).
# reconsvc's samples come from the peers' status records (shared/peer.h),
# written here with mdb_load: sessions by peer and outcome, keys fetched,
# last session and last success per peer, the fetch queue.
# A reload keeps the counters, unless the new module lays them out
# differently: then they start from zero in a zone of their own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

plan skip_all => 'external server' if $ENV{HKP_TEST_URL};

my $DATA = root() . '/t/data';
my $db = tmpdir() . '/db';
import_keys($db, "$DATA/k1-ed25519.asc", "$DATA/k2-rsa2048.asc");
my $K1 = "8236DAA56DF885E6A77B041A20E8C38A2AE840BF";   # t/data/k1-ed25519.asc

my $base = start_nginx(db => $db, workers => 2,
                       conf => "        location = /metrics { hkp_metrics; }\n");

# name{labels} -> value; checks the format on the way
sub scrape {
    my ($label) = @_;
    my $r = http_get("$base/metrics");
    is($r->{status}, 200, "$label: /metrics 200");
    like($r->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, "$label: content type");
    my (%help, %type, %s, @bad);
    for my $line (split /\n/, $r->{content}) {
        if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            push @bad, "second HELP: $line" if $help{$1}++;
            next;
        }
        if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/) {
            push @bad, "second TYPE: $line" if $type{$1};
            $type{$1} = $2;
            push @bad, "counter without _total: $1" if $2 eq 'counter' && $1 !~ /_total$/;
            next;
        }
        if ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?\d+)?|\+Inf)$/) {
            my ($name, $labels, $v) = ($1, $2 // '', $3);
            my $fam = $name;
            $fam = $1 if $name =~ /^(.*)_(bucket|sum|count)$/ && ($type{$1} // '') eq 'histogram';
            push @bad, "no HELP before: $line" unless $help{$fam};
            push @bad, "no TYPE before: $line" unless $type{$fam};
            push @bad, "duplicate sample: $line" if exists $s{"$name$labels"};
            $s{"$name$labels"} = $v;
            next;
        }
        push @bad, "unparsable: $line";
    }
    ok(!@bad, "$label: parses as Prometheus text, HELP and TYPE before every sample")
        or diag join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    return \%s;
}
sub v { my ($s, $k) = @_; return $s->{$k} // 0 }

my $s0 = scrape('first');
is($s0->{hkp_db_up}, 1, 'hkp_db_up 1');
is($s0->{hkp_keys}, 2, 'hkp_keys 2');
ok(($s0->{hkp_db_size_bytes} // 0) > 0, 'hkp_db_size_bytes > 0');
ok(($s0->{hkp_db_used_bytes} // 0) > 0, 'hkp_db_used_bytes > 0');
ok(($s0->{hkp_db_used_bytes} // 0) <= ($s0->{hkp_db_map_size_bytes} // 0), 'used <= map size');
like($s0->{hkp_db_free_pages} // '', qr/^\d+$/, 'hkp_db_free_pages present');
ok(($s0->{hkp_db_readers} // 0) >= 1, 'hkp_db_readers >= 1 (this request\'s)');
ok(($s0->{hkp_db_readers} // 0) <= ($s0->{hkp_db_readers_max} // 0), 'readers <= slots');
ok(!exists $s0->{hkp_reconsvc_heartbeat_timestamp_seconds}, 'no heartbeat sample without reconsvc');
is(v($s0, 'hkp_uploads_total{outcome="new"}'), 0, 'no uploads yet');

# the requests
for (1 .. 3) {
    is(http_get("$base/pks/lookup?op=get&options=mr&search=0x$K1")->{status}, 200, 'op=get hit');
}
is(http_get("$base/pks/lookup?op=get&options=mr&search=0x" . ('0' x 40))->{status}, 404, 'op=get miss');
is(http_get("$base/pks/health")->{status}, 200, 'health');
my $k3 = slurp("$DATA/k3-ed25519.asc");
for my $want (qw(new unchanged)) {
    my $r = http_req('POST', "$base/pks/add",
        { 'Content-Type' => 'application/x-www-form-urlencoded' },
        'keytext=' . join('', map { sprintf '%%%02X', ord } split //, $k3));
    is($r->{status}, 200, "upload ($want): 200");
}
is(http_req('POST', "$base/metrics", {}, 'x')->{status}, 405, 'POST /metrics: 405');

my $s1 = scrape('second');
my $d = sub { v($s1, $_[0]) - v($s0, $_[0]) };
is($d->('hkp_requests_total{op="get",code="200"}'), 3, 'get/200 +3');
is($d->('hkp_requests_total{op="get",code="404"}'), 1, 'get/404 +1');
is($d->('hkp_requests_total{op="health",code="200"}'), 1, 'health/200 +1');
is($d->('hkp_requests_total{op="add",code="200"}'), 2, 'add/200 +2');
is($d->('hkp_requests_total{op="metrics",code="200"}'), 1, 'metrics/200 +1 (the first scrape)');
is($d->('hkp_requests_total{op="metrics",code="405"}'), 1, 'metrics/405 +1');
is($d->('hkp_uploads_total{outcome="new"}'), 1, 'uploads new +1');
is($d->('hkp_uploads_total{outcome="unchanged"}'), 1, 'uploads unchanged +1');
is($d->('hkp_uploads_total{outcome="merged"}'), 0, 'uploads merged +0');
is($d->('hkp_uploads_total{outcome="refused"}'), 0, 'uploads refused +0');
is($d->('hkp_request_duration_seconds_count{op="get"}'), 4, 'get latency count +4');
is($s1->{'hkp_request_duration_seconds_bucket{op="get",le="+Inf"}'},
   $s1->{'hkp_request_duration_seconds_count{op="get"}'}, '+Inf bucket = count');
{
    my %le;
    for my $k (keys %$s1) {
        $le{$1} = $s1->{$k} if $k =~ /^hkp_request_duration_seconds_bucket\{op="get",le="([0-9.]+)"\}$/;
    }
    ok(keys %le >= 5, 'several buckets');
    my ($prev, $mono) = (0, 1);
    for my $le (sort { $a <=> $b } keys %le) {
        $mono = 0 if $le{$le} < $prev;
        $prev = $le{$le};
    }
    ok($mono && $prev <= $s1->{'hkp_request_duration_seconds_count{op="get"}'}, 'buckets cumulative');
    like($s1->{'hkp_request_duration_seconds_sum{op="get"}'} // '', qr/^\d+\.\d{3}$/, 'get latency sum');
}
is($s1->{hkp_keys}, 3, 'hkp_keys 3 after the upload');

# ---- reconsvc's part: status records of three peers
# version 2: header, five u64, lengths, role/profile/outcome, eight u64
sub peer_rec {
    my (%f) = @_;
    my $v = $f{version} // 2;
    my $out = $f{outcome} // 'ok';
    my $r = 'HKPS' . pack('CCn', $v, 9, $f{flags} // ($v == 1 ? 0x1f : 0x3f))
        . pack('Q>5', $f{time}, 10, 2, $f{fetched} // 0, 1500000)
        . pack('nCC', length $out, 3, 0) . pack('a16', 'initiator') . pack('a16', 'sks')
        . pack('a256', $out);
    $r .= pack('Q>8', @f{qw(ok failed total last_ok ftotal fdone frate fqueue)}) if $v == 2;
    return $r;
}
{
    my %recs = (
        'sks.example 11370' => peer_rec(time => 1700000100, ok => 5, failed => 2, total => 700,
                                        last_ok => 1700000100, map { $_ => 0 } qw(ftotal fdone frate fqueue)),
        'q"x\\.example 1'   => peer_rec(time => 1700000200, flags => 0x7f, outcome => 'ok; fetching',
                                        ok => 1, failed => 0, total => 40, last_ok => 1600000000,
                                        ftotal => 5000, fdone => 300, frate => 150, fqueue => 4200),
        'old.example 2'     => peer_rec(version => 1, time => 1690000000),
        'never.example 3'   => peer_rec(time => 1700000050, outcome => 'cut off', ok => 0, failed => 3,
                                        total => 0, last_ok => 0, map { $_ => 0 } qw(ftotal fdone frate fqueue)),
    );
    my $in = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";
    $in .= ' ' . unpack('H*', "recon:$_") . "\n " . unpack('H*', $recs{$_}) . "\n" for sort keys %recs;
    $in .= "DATA=END\n";
    my $r = run_cmd(['mdb_load', '-s', 'meta', $db], stdin => $in);
    is($r->{rc}, 0, 'status records written') or diag($r->{err});
    my $s2 = scrape('with reconsvc records');
    is($s2->{'hkp_recon_sessions_total{peer="sks.example 11370",outcome="ok"}'}, 5, 'sessions ok per peer');
    is($s2->{'hkp_recon_sessions_total{peer="sks.example 11370",outcome="failed"}'}, 2, 'sessions failed per peer');
    is($s2->{'hkp_recon_keys_fetched_total{peer="sks.example 11370"}'}, 700, 'keys fetched per peer');
    is($s2->{'hkp_recon_last_success_timestamp_seconds{peer="sks.example 11370"}'}, 1700000100, 'last success per peer');
    is($s2->{'hkp_recon_last_session_timestamp_seconds{peer="old.example 2"}'}, 1690000000,
       'a version 1 record: its last session');
    ok(!exists $s2->{'hkp_recon_sessions_total{peer="old.example 2",outcome="ok"}'}, '  but no counters');
    ok(!exists $s2->{'hkp_recon_last_success_timestamp_seconds{peer="never.example 3"}'}, 'no success: no sample');
    is($s2->{'hkp_recon_sessions_total{peer="never.example 3",outcome="failed"}'}, 3, '  its failures counted');
    is($s2->{'hkp_recon_keys_fetched_total{peer="q\\"x\\\\.example 1"}'}, 40, 'label value escaped');
    is($s2->{hkp_recon_fetch_queue_hashes}, 4200, 'fetch queue from the newest record (a fetch in progress)');
}

# A reload keeps the counters; a reload into another build of the module
# whose counters are laid out differently (a copy at another path with
# another layout name in its zone name, NGX_HKP_METRICS_ZONE) starts them
# from zero in a zone of its own, rather than reading the old zone at the
# wrong offsets. (nginx loads modules RTLD_GLOBAL: without -Bsymbolic the
# new copy would call the old copy's functions and reuse the old zone.)
{
    my $prefix = nginx_prefix($base);
    my $pid = ((slurp("$prefix/nginx.pid") // '') =~ /(\d+)/)[0];
    ok($pid, 'master pid') or BAIL_OUT('no nginx pid');
    my $get = 'hkp_requests_total{op="get",code="200"}';
    my $workers = sub { my $n = () = nginx_error_log($base) =~ /start worker process/g; $n };
    my $reload = sub {
        my ($label) = @_;
        my $n = $workers->();
        kill 'HUP', $pid;
        my $deadline = time + 20;
        select(undef, undef, undef, 0.1) while $workers->() < $n + 2 && time < $deadline;
        cmp_ok($workers->(), '>=', $n + 2, "$label: the new workers started");
        # the old workers close their idle connections as they go
        select(undef, undef, undef, 0.5);
    };

    my $before = v(scrape('before the reloads'), $get);
    is($before, 3, 'get/200 is 3 before the reloads');
    $reload->('reload, same module');
    is(v(scrape('after a reload into the same module'), $get), $before,
       'reload into the same module: the counters go on');

    my $bin = slurp("$prefix/ngx_hkp_module.so");
    my @names = $bin =~ /hkp_metrics_v(\w+)\0/g;
    is(scalar @names, 1, 'one zone name (hkp_metrics_v<layout>) in the module');
    my $other = ($names[0] =~ /^Z/ ? 'Y' : 'Z') x length $names[0];
    $bin =~ s/hkp_metrics_v\Q$names[0]\E\0/hkp_metrics_v$other\0/;
    spew("$prefix/ngx_hkp_module_other.so", $bin);
    chmod 0755, "$prefix/ngx_hkp_module_other.so";
    my $conf = slurp("$prefix/nginx.conf");
    $conf =~ s{load_module \S+;}{load_module $prefix/ngx_hkp_module_other.so;} or die 'no load_module';
    spew("$prefix/nginx.conf", $conf);
    $reload->('reload, another build with another layout');
    my $s = scrape('after a reload into another layout');
    is(v($s, $get), 0, 'reload into another counter layout: a new zone, from zero');
    is(v($s, 'hkp_uploads_total{outcome="new"}'), 0, '... uploads from zero too');
    is(http_get("$base/pks/lookup?op=get&options=mr&search=0x$K1")->{status}, 200, 'op=get');
    is(v(scrape('the new zone counts'), $get), 1, 'the new zone counts requests');
}

{
    my $log = nginx_error_log();
    unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
        or diag $log;
}

done_testing();
