#!/usr/bin/perl
# hkp_max_reply_size (issue 10 item 2, issue 13 D2): a lookup whose keys or
# answer would pass the cap gets 400 with a one-line reason, for op=get,
# hget, index and vindex, HTML and options=mr; under the cap the answers are
# those of a server with the default cap; out-of-range values are refused
# by nginx -t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $T = tmpdir();
my $gh = gpg_home(keyserver => 'hkp://127.0.0.1:9');

sub gen_key {
    my ($uid) = @_;
    my $r = gpg($gh, '--passphrase', '', '--quick-gen-key', $uid, 'ed25519', 'sign', 'never');
    die "gpg --quick-gen-key $uid: $r->{err}" if $r->{rc};
    my $c = gpg($gh, '--with-colons', '--list-keys', "=$uid");
    my ($fpr) = $c->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
    die "no fingerprint for $uid" unless $fpr;
    return $fpr;
}

# A v4 certification (0x10) with a random issuer and junk EdDSA MPIs, as
# certification flooding piles them on: stored as it is (~96 bytes).
my $seq = 0;
sub junk_sig {
    my $hashed = "\x05\x02" . pack('N', 1600000000 + $seq++);
    my $unhashed = "\x09\x10" . join('', map { chr int rand 256 } 1 .. 8);
    my $mpi = sub { pack('n', 256) . "\x80" . join('', map { chr int rand 256 } 1 .. 31) };
    return { tag => 2, body => "\x04\x10\x16\x08" . pack('n', length $hashed) . $hashed
                                . pack('n', length $unhashed) . $unhashed
                                . "\xAB\xCD" . $mpi->() . $mpi->() };
}

# The exported key with $n junk certifications on its user ID.
sub flooded {
    my ($fpr, $n) = @_;
    my $r = gpg($gh, '--export', $fpr);
    die "export $fpr: $r->{err}" if $r->{rc} || !length $r->{out};
    my $pk = parse_packets($r->{out});
    my $at = 0;
    $at++ until $pk->[$at]{tag} == 13;
    $at++ while $at + 1 < @$pk && $pk->[$at + 1]{tag} == 2;
    splice @$pk, $at + 1, 0, map { junk_sig() } 1 .. $n;
    return packets_bin($pk);
}

# Four keys sharing the word "capword", ~25 KB each (~100 KB together),
# and one small key whose vindex page is larger than the key.
my @members = map { gen_key("Capword Member$_ <member$_\@example.com>") } 1 .. 4;
my $verbose = gen_key('Verbose Lister <verbose@example.com>');
{
    my $bin = join '', (map { flooded($_, 260) } @members), flooded($verbose, 30);
    spew("$T/keys.asc", enarmor($bin));
}

my $db = "$T/db";
import_keys($db, "$T/keys.asc");

# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $big  = start_nginx(db => $db, conf => 'hkp_serve_policy full;');
my $cap  = start_nginx(db => $db, conf => 'hkp_max_reply_size 64k; hkp_serve_policy full;');
my $tiny = start_nginx(db => $db, conf => 'hkp_max_reply_size 4k; hkp_serve_policy full;');

sub reason { "Too much key material for one answer (over $_[0] bytes), refine the search\n" }

sub refused {
    my ($base, $q, $max, $name) = @_;
    my $r = http_get("$base/pks/lookup?$q");
    is($r->{status}, 400, "$name: 400");
    is($r->{content}, reason($max), "$name: the reason on one line");
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, "$name: plain text");
    is($r->{headers}{'access-control-allow-origin'}, '*', "$name: with the CORS header");
}

sub same {
    my ($base, $q, $name) = @_;
    my $want = http_get("$big/pks/lookup?$q");
    my $got = http_get("$base/pks/lookup?$q");
    is($want->{status}, 200, "$name: 200 with the default cap");
    is($got->{status}, 200, "$name: 200 under the cap");
    ok($got->{content} eq $want->{content}, "$name: the same answer as with the default cap");
    return length $got->{content};
}

# ------------------------------------------------------------------ the precondition
my @sizes;
for my $fpr (@members, $verbose) {
    my $r = http_get("$big/pks/lookup?op=get&options=mr&search=0x$fpr");
    my ($bin) = map { $_->[0] } dearmor($r->{content});
    push @sizes, length($bin // '');
}
my $total = 0;
$total += $_ for @sizes[0 .. 3];
cmp_ok($total, '>', 65536, "the four capword keys are over 64k stored ($total bytes)");
cmp_ok($sizes[$_], '<', 65536 * 3 / 4, "capword key $_ alone fits 64k armored ($sizes[$_] bytes)") for 0 .. 3;
cmp_ok($sizes[4], '<', 4096, "the verbose key is under 4k stored ($sizes[4] bytes)");

# ------------------------------------------------------------------ over the cap
for my $op (qw(get index vindex)) {
    for my $mr ('', '&options=mr') {
        refused($cap, "op=$op&search=capword$mr", 65536, "op=$op$mr for capword over 64k");
        my $r = http_get("$big/pks/lookup?op=$op&search=capword$mr");
        is($r->{status}, 200, "op=$op$mr for capword: 200 with the default cap");
        is($r->{headers}{'x-hkp-results-count'}, 4, "... all four keys");
    }
}

# HEAD gets the same status
{
    my $r = http_req('HEAD', "$cap/pks/lookup?op=get&search=capword");
    is($r->{status}, 400, 'HEAD op=get over the cap: 400');
}

# the armored answer passes the cap although the stored keys do not
# (verbose key: ~3.4k stored, ~4.6k armored), hget too
refused($tiny, "op=get&options=mr&search=0x$verbose", 4096, 'op=get of a key armored over 4k');
{
    my $g = http_get("$big/pks/lookup?op=get&options=mr&search=0x$verbose");
    my ($bin) = map { $_->[0] } dearmor($g->{content});
    my $hash = sks_hash(parse_packets($bin // ''));
    refused($tiny, "op=hget&search=$hash", 4096, 'op=hget of a key armored over 4k');
    same($cap, "op=hget&search=$hash", 'op=hget under the cap');
}

# the listing passes the cap although the stored key does not: its lines
# are counted as they are made
{
    my $r = http_get("$big/pks/lookup?op=vindex&search=0x$verbose");
    cmp_ok(length $r->{content}, '>', 4096, 'the verbose key\'s vindex page is over 4k');
    refused($tiny, "op=vindex&search=0x$verbose", 4096, 'op=vindex page over 4k');
    same($tiny, "op=index&options=mr&search=0x$verbose", 'op=index mr of the verbose key under 4k');
}

# ------------------------------------------------------------------ under the cap
for my $i (0 .. 3) {
    my $fpr = $members[$i];
    for my $q ("op=get&options=mr&search=0x$fpr", "op=get&search=0x$fpr",
               "op=index&search=0x$fpr", "op=vindex&options=mr&search=0x$fpr",
               "op=vindex&search=0x$fpr", "op=index&options=mr&search=member$i")
    {
        next if $q =~ /member$i$/ && $i == 0;
        same($cap, $q, "capword key $i: $q");
    }
}
same($cap, 'op=index&options=mr&search=member1', 'a word of one key under the cap');
{
    my $r = http_get("$cap/pks/lookup?op=get&search=nosuchword");
    is($r->{status}, 404, 'no match is still 404 under the cap');
}

# ------------------------------------------------------------------ nginx -t
my $SO = $ENV{HKP_MODULE_SO} || "$ROOT/build/ngx_hkp_module.so";

sub nginx_t {
    my ($name, $directive) = @_;
    return nginx_conf_test("$T/ngx-$name", $db, $directive);
}

SKIP: {
    skip "no module at $SO", 1 unless -f $SO;
    my $r = nginx_t('ok', 'hkp_max_reply_size 64k;');
    is($r->{rc}, 0, 'nginx -t accepts hkp_max_reply_size 64k') or diag $r->{err};
    for my $bad (['low', '4095', qr/value must be between 4096 and 1073741824/],
                 ['high', '1025m', qr/value must be between 4096 and 1073741824/],
                 ['word', 'lots', qr/invalid value/])
    {
        my ($name, $v, $re) = @$bad;
        $r = nginx_t($name, "hkp_max_reply_size $v;");
        isnt($r->{rc}, 0, "nginx -t refuses hkp_max_reply_size $v");
        like($r->{err}, $re, "... saying why") or diag $r->{err};
    }
}

done_testing();
