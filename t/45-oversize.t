#!/usr/bin/perl
# Oversized packets and lengths past the end (issue 13 D4).
#
# A packet over the packet limit (1 MiB) refuses only its key, with
# "... packet too large (N > M bytes)", and the keys beside it are stored,
# in /pks/add (the HTML and options=mr replies say which key and why) and
# in reconsvc import. A declared length past the end of the body ends the
# body there: the key it is in is refused, the keys before it are stored.
# A body whose only key is broken stays a 400.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();
my $MiB = 1024 * 1024;
my $BIG = $MiB + 4096;                 # one UID packet over the 1 MiB limit

sub bin_of {                           # binary of a t/data key
    my ($name) = @_;
    my @b = dearmor(slurp("$DATA/$name") // die "no $name", check_crc => 0);
    return $b[0][0];
}
my %bin = map { $_ => bin_of("$_-ed25519.asc") } qw(k1 k3 k4 k5);
my %fpr = map { $_ => key_fpr(parse_packets($bin{$_})) } keys %bin;
my %hash = map { $_ => sks_hash(parse_packets($bin{$_})) } keys %bin;

# k3 with a 1 MiB + 4 KiB user ID packet (new-format 5-byte length) after
# its primary key: the packet is all there, only over the limit.
my $over = do {
    my $p = parse_packets($bin{k3});
    my $uid = 'x' x $BIG;
    packets_bin([$p->[0]]) . "\xCD\xFF" . pack('N', length $uid) . $uid
        . packets_bin([@$p[1 .. $#$p]]);
};
my $reason = qr/packet too large \($BIG > 1048576 bytes\)/;

# k5 whose last packet claims 2^31 bytes: a length past the end
my $past = $bin{k5} . "\xC2\xFF" . pack('N', 0x7FFFFFFF) . 'short';

# ------------------------------------------------------------------ /pks/add

my $db = "$T/db";
import_keys($db);
my $base = start_nginx(db => $db);
my $JSON = JSON::PP->new;

sub post {
    my ($body, $path) = @_;
    return http_req('POST', $path // '/pks/add?options=mr',
                    { 'Content-Type' => 'application/pgp-keys' }, $body);
}
sub stored {
    my ($k) = @_;
    my $r = http_get("/pks/lookup?op=get&options=mr&search=0x$fpr{$k}");
    return $r->{status} == 200;
}

{
    my $r = post($bin{k1} . $over . $bin{k4});
    is($r->{status}, 200, 'good keys beside an oversized packet: 200') or diag $r->{content};
    my $j = eval { $JSON->decode($r->{content}) } // {};
    is_deeply([sort map { $_->{index} } @{ $j->{inserted} // [] }], [0, 2],
              'keys 0 and 2 inserted');
    is(scalar @{ $j->{invalid} // [] }, 1, 'one key refused');
    my $bad = $j->{invalid}[0] // {};
    is($bad->{index}, 1, 'the refused key is the one with the big packet');
    like($bad->{reason} // '', $reason, 'reason: packet too large (N > M bytes)');
    ok(stored('k1') && stored('k4'), 'k1 and k4 stored');
    ok(!stored('k3'), 'k3 not stored');

    # the HTML reply says the same
    $r = post($over . $bin{k5}, '/pks/add');
    is($r->{status}, 200, 'HTML: 200');
    like($r->{content}, qr/Key 1(?: \($fpr{k3}\))?: Add failed: [^<]*packet too large \($BIG &gt; 1048576 bytes\)/,
         'HTML: key 1 refused with the reason') or diag $r->{content};
    like($r->{content}, qr/Key 2 \($fpr{k5}\): added as a new key/, 'HTML: key 2 added');
    ok(stored('k5'), 'k5 stored');

    # only the oversized key: nothing accepted (422), with the reason
    $r = post($over);
    is($r->{status}, 422, 'only the oversized key: 422');
    like($r->{content}, $reason, '422 names the reason');

    # a length past the end after a good key: that key stored, the broken
    # one refused with the framing reason
    my $db2 = "$T/db2";
    import_keys($db2);
    my $b2 = start_nginx(db => $db2);
    $r = post($bin{k1} . $past);
    is($r->{status}, 200, 'good key before a length past the end: 200') or diag $r->{content};
    $j = eval { $JSON->decode($r->{content}) } // {};
    is(scalar @{ $j->{inserted} // [] }, 1, 'the key before it inserted');
    like($j->{invalid}[0]{reason} // '', qr/past end/, 'the broken key refused: length past end');
    ok(stored('k1'), 'k1 stored in the second db');

    # the broken key alone is still a malformed body
    $r = post($past);
    is($r->{status}, 400, 'only a key with a length past the end: 400');
    like($r->{content}, qr/\A[^\n]*past end[^\n]*\n?\z/, '400 with a one-line reason');
    stop_nginx($b2);
}

# ------------------------------------------------------------------ import

{
    my $f = "$T/dump.gpg";
    spew($f, $bin{k1} . $over . $bin{k4} . $bin{k5});
    my $db3 = "$T/db3";
    my $r = run_cmd(["$ROOT/build/reconsvc", 'import', '--db', $db3, $f], timeout => 120);
    is($r->{rc}, 0, 'import: exit 0') or diag $r->{err};
    like($r->{out}, qr/^read 4, new 3, merged 0, unchanged 0, rejected 1$/m,
         'import: 3 new, 1 rejected') or diag $r->{out};
    like($r->{out}, qr/^rejected 1: .*$reason/m, 'import: reason listed');
    unlike($r->{err}, qr/framing error/, 'import: no framing error for a packet that is all there');
    my $d = run_cmd(["$ROOT/build/reconsvc", 'dump', '--db', $db3, "$T/dump3"], timeout => 60);
    my %got = map { sks_hash($_) => 1 }
              map { split_keys(slurp($_)) } glob("$T/dump3/*.pgp");
    ok($got{$hash{k1}} && $got{$hash{k4}} && $got{$hash{k5}} && !$got{$hash{k3}},
       'import: k1, k4, k5 stored, k3 not') or diag $d->{err};
}

done_testing;
