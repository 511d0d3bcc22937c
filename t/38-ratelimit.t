#!/usr/bin/perl
# Rate limits of the shipped configurations (issue 13 item 4).
#
# The limit_req/limit_conn block of debian's conf.d/hkp.conf (the same
# block is in conf/nginx.conf and conf/nginx-run.conf.in: checked here),
# with the locations of the shipped site: a client hammering lookups or
# /pks/hashquery gets 429 with the one-line reason, text/plain, CORS and
# Retry-After; another client at the same time is unaffected; a recon
# member (geo $hkp_member) is never limited; uploads from a normal client
# go through. gpg on a 429: --recv-keys fails with the status and our
# reason in dirmngr's log (stated in the README).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();
my $REASON = 'Too many requests from this address: slow down and retry in a few seconds';

# ------------------------------------------------------------------ the shipped block

sub block_of {
    my ($file) = @_;
    my $s = slurp("$ROOT/$file") // die "no $file";
    my ($b) = $s =~ /^(\s*# --- rate limits.*?# --- end of rate limits\n)/ms;
    return $b;
}
my $block = block_of('debian/nginx/conf.d/hkp.conf');
ok(defined $block, 'debian conf.d/hkp.conf has the rate limit block');
$block //= '';
(my $flat = $block) =~ s/^\s+//mg;
for my $f ('conf/nginx.conf', 'conf/nginx-run.conf.in') {
    my $b = block_of($f) // '';
    $b =~ s/^\s+//mg;
    is($b, $flat, "$f has the same block");
}
for my $f ('conf/nginx.conf', 'conf/nginx-run.conf.in', 'debian/nginx/sites-available/hkp') {
    my $s = slurp("$ROOT/$f") // '';
    like($s, qr/limit_req zone=hkp_lookup /, "$f: lookups limited");
    like($s, qr/limit_req zone=hkp_add /, "$f: uploads limited");
    like($s, qr/limit_req zone=hkp_hashquery /, "$f: hashquery limited");
    like($s, qr/error_page 429 = \@hkp_429;/, "$f: our 429 page");
    like($s, qr/\Q$REASON\E/, "$f: the reason line");
}

# the server part as the site file has it (locations and the 429 page)
my $site = slurp("$ROOT/debian/nginx/sites-available/hkp") // '';
my ($locs) = $site =~ /^(\s*location \/pks\/ \{.*?^\s*location \@hkp_429 \{.*?^\s*\}\n)/ms;
ok(defined $locs, 'the site file has the /pks/ locations and @hkp_429');
my ($err) = $site =~ /^\s*(error_page 429 = \@hkp_429;)/m;

my $db = "$T/db";
import_keys($db, "$DATA/k1-ed25519.asc");
my $base = start_nginx(
    http => "hkp_db $db;\ngeo \$hkp_member { default 0; 127.0.0.3 1; }\n$block",
    conf => ($err // '') . "\n" . ($locs // ''));
my $port = port();

my $K1 = key_fpr(parse_packets((dearmor(slurp("$DATA/k1-ed25519.asc")))[0][0]));
my $get = "/pks/lookup?op=get&options=mr&search=0x$K1";

sub client { HTTP::Tiny->new(local_address => $_[0], keep_alive => 1, timeout => 10) }

sub hammer {               # from, path, n -> {status => count}, a 429 reply
    my ($from, $path, $n, $post) = @_;
    my $ua = client($from);
    my (%st, $r429);
    for (1 .. $n) {
        my $r = $post ? $ua->request('POST', "http://127.0.0.1:$port$path",
                                     { headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
                                       content => $post })
                      : $ua->get("http://127.0.0.1:$port$path");
        $st{$r->{status}}++;
        $r429 //= $r if $r->{status} == 429;
    }
    return (\%st, $r429);
}

{
    # a normal client meanwhile, from another address (in a child)
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        close $rd;
        my $ua = client('127.0.0.4');
        my @s;
        for (1 .. 10) {
            push @s, $ua->get("http://127.0.0.1:$port$get")->{status};
            sleep 0.1;
        }
        print $wr "@s\n";
        close $wr;
        _exit(0);
    }
    close $wr;
    my ($st, $r) = hammer('127.0.0.2', $get, 300);
    my $normal = <$rd> // '';
    waitpid($pid, 0);
    chomp $normal;
    ok(($st->{429} // 0) > 100, "hammering lookups: " . join(', ', map { "$st->{$_} x $_" } sort keys %$st));
    ok(($st->{200} // 0) >= 40, '... the burst was answered first');
    is($r->{content}, "$REASON\n", '429: our one-line reason') if $r;
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, '429: text/plain') if $r;
    is($r->{headers}{'access-control-allow-origin'}, '*', '429: CORS header') if $r;
    ok(($r->{headers}{'retry-after'} // '') =~ /^\d+$/, '429: Retry-After') if $r;
    is($normal, join(' ', ('200') x 10), 'a normal client from another address meanwhile: all 200');

    ($st) = hammer('127.0.0.3', $get, 300);
    is_deeply($st, { 200 => 300 }, 'a recon member (geo $hkp_member) is never limited');

    ($st) = hammer('127.0.0.5', '/pks/hashquery', 200, "\x00");
    ok(($st->{429} // 0) > 100, 'hammering /pks/hashquery: 429 ('
       . join(', ', map { "$st->{$_} x $_" } sort keys %$st) . ')');

    my $armor = slurp("$DATA/k3-ed25519.asc");
    my $ua = client('127.0.0.6');
    my $up = $ua->request('POST', "http://127.0.0.1:$port/pks/add",
        { headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
          content => 'keytext=' . join('', map { sprintf('%%%02X', ord) } split //, $armor) });
    is($up->{status}, 200, 'an upload from a normal client: 200');
}

# ------------------------------------------------------------------ gpg on a 429

SKIP: {
    skip 'gpg not installed', 4 unless have_cmd('gpg');
    # one lookup per minute for everyone: the second request is a 429
    (my $tight = $block) =~ s/zone=hkp_lookup:10m rate=20r\/s/zone=hkp_lookup:10m rate=1r\/m/;
    (my $tlocs = $locs // q()) =~ s/limit_req zone=hkp_lookup burst=\d+/limit_req zone=hkp_lookup/;
    my $b2 = start_nginx(
        http => "hkp_db $db;\ngeo \$hkp_member { default 0; }\n$tight",
        conf => ($err // '') . "\n" . $tlocs);
    my $p2 = port($b2);
    is(http_get("$b2$get")->{status}, 200, 'tight limit: the first lookup');
    my $gh = gpg_home(keyserver => "hkp://127.0.0.1:$p2");
    my $r = gpg($gh, '--recv-keys', $K1);
    isnt($r->{rc}, 0, 'gpg --recv-keys on a 429 fails');
    like($r->{err}, qr/keyserver receive failed/, '... "keyserver receive failed"');
    note "gpg on 429: rc $r->{rc}: $r->{err}";
    my $log = slurp("$gh/dirmngr.log") // '';
    like($log, qr/http status 429/, 'dirmngr logs "http status 429" (no retry)');
    note "dirmngr log: $_" for grep { /429|Too many|error/i } split /\n/, $log;
    stop_nginx($b2);
}

done_testing;
