#!/usr/bin/perl
# /pks/health is honest (ngx_hkp_health.c): 200 "OK" only when the database
# opens and a read txn reads it, else 503 with a one-line reason; with
# options=mr the same status and a JSON object (status, reason, keys,
# db_age, keys_changed_age, reconsvc, heartbeat_age, reconsvc_uptime).
#   nginx starts before the database exists: 503 (cannot be opened)
#   reconsvc import creates it: 200 within the retry interval, keys 2
#   the directory renamed away: 503 (data.mdb missing); back: 200
#   another database put in its place: 503 (replaced); the old one back: 200
#   reconsvc run on it: its heartbeat (meta "heartbeat") shows as "alive"
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'external server' if $ENV{HKP_TEST_URL};

my $DATA = root() . '/t/data';
my $T = tmpdir();
my $db = "$T/db";

my $base = start_nginx(db => $db);

sub health {
    my ($q) = @_;
    return http_get("$base/pks/health" . ($q // ''));
}
sub health_json {
    my $r = health('?options=mr');
    like($r->{headers}{'content-type'} // '', qr{^application/json}, 'options=mr: JSON content type');
    my $j = eval { JSON::PP->new->utf8->decode($r->{content}) };
    ok($j, "health JSON parses (status $r->{status})") or diag("$@\n$r->{content}");
    return ($r->{status}, $j // {});
}
# Waits (the module retries an open at most once a second) for a status.
sub wait_status {
    my ($want, $secs) = @_;
    my $r;
    my $end = time + $secs;
    while (1) {
        $r = health();
        last if $r->{status} == $want || time > $end;
        sleep 0.2;
    }
    return $r;
}
sub is_age {
    my ($v, $max, $name) = @_;
    ok(defined $v && !ref $v && $v =~ /^\d+$/ && $v <= $max, "$name is an age in 0..$max")
        or diag(defined $v ? "got $v" : 'got null');
}

# ---- no database yet
{
    my $r = health();
    is($r->{status}, 503, 'no database: 503');
    like($r->{content}, qr/\ADatabase cannot be opened: .+\n\z/, 'one-line reason')
        or diag($r->{content});
    my ($st, $j) = health_json();
    is($st, 503, 'options=mr: 503 too');
    is($j->{status}, 'unavailable', 'JSON status unavailable');
    like($j->{reason} // '', qr/^Database cannot be opened/, 'JSON reason');
    ok(exists $j->{keys} && !defined $j->{keys}, 'keys null');
    my $h = http_req('HEAD', "$base/pks/health");
    is($h->{status}, 503, 'HEAD: 503');
}

# ---- the database appears
{
    my $out = import_keys($db, "$DATA/k1-ed25519.asc", "$DATA/k2-rsa2048.asc");
    like($out, qr/\bnew 2\b/, 'import: 2 new keys') or diag($out);
    my $r = wait_status(200, 5);
    is($r->{status}, 200, 'database created: 200 after the retry interval');
    is($r->{content}, "OK\n", 'body "OK"');
    my ($st, $j) = health_json();
    is($st, 200, 'options=mr: 200');
    is($j->{status}, 'ok', 'JSON status ok');
    ok(!exists $j->{reason}, 'no reason when ok');
    is($j->{keys}, 2, 'keys 2');
    is_age($j->{db_age}, 120, 'db_age');
    is_age($j->{keys_changed_age}, 3600 + 120, 'keys_changed_age');
    is($j->{reconsvc}, 'absent', 'reconsvc absent (no heartbeat yet)');
    ok(exists $j->{heartbeat_age} && !defined $j->{heartbeat_age}, 'heartbeat_age null');
    ok(exists $j->{reconsvc_uptime} && !defined $j->{reconsvc_uptime}, 'reconsvc_uptime null');
    my $l = http_get("$base/pks/lookup?op=stats&options=mr");
    is($l->{status}, 200, 'lookups are served');
}

# ---- the directory renamed away and back
{
    rename $db, "$db.away" or die "rename: $!";
    my $r = health();
    is($r->{status}, 503, 'directory renamed away: 503');
    like($r->{content}, qr/\ADatabase missing: data\.mdb: .+\n\z/, 'reason: data.mdb missing')
        or diag($r->{content});
    my ($st, $j) = health_json();
    is($st, 503, 'options=mr: 503');
    is($j->{status}, 'unavailable', 'JSON status unavailable');
    like($j->{reason} // '', qr/^Database missing/, 'JSON reason');
    rename "$db.away", $db or die "rename back: $!";
    $r = wait_status(200, 5);
    is($r->{status}, 200, 'directory back: 200');
}

# ---- another database in its place
{
    my $other = "$T/other";
    import_keys($other, "$DATA/k3-ed25519.asc");
    rename $db, "$db.orig" or die $!;
    rename $other, $db or die $!;
    my $r = health();
    is($r->{status}, 503, 'database replaced: 503');
    like($r->{content}, qr/\ADatabase replaced on disk/, 'reason: replaced') or diag($r->{content});
    rename $db, $other or die $!;
    rename "$db.orig", $db or die $!;
    $r = wait_status(200, 5);
    is($r->{status}, 200, 'original back: 200');
}

# ---- reconsvc's heartbeat
SKIP: {
    skip 'reconsvc not built', 8 unless -x root() . '/build/reconsvc';
    my $t0 = time;
    my $n = start_recon(db => $db, http_port => port(), gossip => 3600);
    my $j;
    wait_for(10, sub {
        (undef, $j) = health_json();
        return ($j->{reconsvc} // '') eq 'alive';
    });
    is($j->{status}, 'ok', 'with reconsvc: ok');
    is($j->{reconsvc}, 'alive', 'reconsvc alive (heartbeat written at start)');
    my $up = int(time - $t0) + 2;
    is_age($j->{heartbeat_age}, $up, 'heartbeat_age');
    is_age($j->{reconsvc_uptime}, $up, 'reconsvc_uptime');
    ok($j->{heartbeat_age} <= $j->{reconsvc_uptime}, 'heartbeat not older than the start');
    is($j->{keys}, 2, 'keys still 2');
    # the timer beats again (HKP_HEARTBEAT_SECS): the beat is newer than
    # the start
    my $beat2 = wait_for(25, sub {
        (undef, $j) = health_json();
        return ($j->{reconsvc_uptime} // 0) - ($j->{heartbeat_age} // 1e9) >= 5;
    });
    ok($beat2, 'a later heartbeat from the timer') or diag explain $j;
    is($j->{reconsvc}, 'alive', 'still alive');
    $n->stop;
}

{
    my $log = nginx_error_log();
    unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
        or diag $log;
}

done_testing();
