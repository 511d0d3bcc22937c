#!/usr/bin/perl
# The work bound of one upload (issue 13 item 1, D1 with varied copies).
#
# A key of about 4 MB (2 user IDs x 9990 signatures, under every limit) is
# stored; then one body with 2000 different small copies of it (its primary
# key, one user ID and one of its signatures each: every copy a subset of
# the stored key, each with its own hash, so the put memo of D1 does not
# help) would decode and merge the 4 MB key 2000 times (minutes). The copies
# are merged in memory first (at most 8 different ones per key), the rest
# refused with a reason, so the stored key is decoded once: the hostile
# upload is answered quickly, with per-key refusals, and an unrelated
# upload sent meanwhile is answered within a generous bound.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();
my $JSON = JSON::PP->new;
my $COPIES = $ENV{HKP_BUDGET_COPIES} || 2000;
my $FOLD = 8;                               # NGX_HKP_ADD_MAX_FOLD

my $k1 = parse_packets((dearmor(slurp("$DATA/k1-ed25519.asc")))[0][0]);
my $primary = $k1->[0];

# a v4 signature body of 196 bytes, different for each $i
sub sig {
    my ($i) = @_;
    my $hashed = pack('CCN', 5, 2, 1600000000 + $i);
    my $unhashed = pack('CCNN', 9, 16, 0x5EED0000, $i);
    return pack('CCCC', 4, 0x13, 1, 8) . pack('n', length $hashed) . $hashed
         . pack('n', length $unhashed) . $unhashed . "\xAB\xCD"
         . pack('n', 1344) . pack('N', $i) . ("\x5A" x 164);
}
my @uid = ({ tag => 13, body => 'Big One <big1@example.org>' },
           { tag => 13, body => 'Big Two <big2@example.org>' });
my @big = ($primary);
for my $u (0, 1) {
    push @big, $uid[$u], map { { tag => 2, body => sig($u * 10000 + $_) } } 0 .. 9989;
}
my $bigbin = packets_bin(\@big);
cmp_ok(length $bigbin, '>', 3_900_000, 'the big key is about 4 MB (' . length($bigbin) . ' bytes)');
cmp_ok(length $bigbin, '<', 4 * 1024 * 1024, '... under hkp_max_key_size');

my $db = "$T/db";
import_keys($db, "$DATA/k1-ed25519.asc");
my $base = start_nginx(db => $db);

sub post {
    my ($body) = @_;
    return http_req('POST', '/pks/add?options=mr',
                    { 'Content-Type' => 'application/pgp-keys' }, $body);
}

my $r = post($bigbin);
is($r->{status}, 200, 'the 4 MB key is stored') or diag substr($r->{content}, 0, 300);

# the hostile body: 2000 different subsets of the stored key
my $hostile = join '', map { packets_bin([$primary, $uid[0], { tag => 2, body => sig($_) }]) } 0 .. $COPIES - 1;
note 'hostile body: ' . length($hostile) . " bytes, $COPIES copies";

pipe(my $rd, my $wr) or die "pipe: $!";
my $pid = fork() // die "fork: $!";
if (!$pid) {
    close $rd;
    my $t0 = time;
    my $h = post($hostile);
    printf $wr "%.3f %d %s\n", time - $t0, $h->{status}, $JSON->encode(eval { $JSON->decode($h->{content}) } // {});
    close $wr;
    _exit(0);
}
close $wr;
sleep 0.2;
my $t0 = time;
my $u = post((dearmor(slurp("$DATA/k5-ed25519.asc")))[0][0]);
my $dt = time - $t0;
is($u->{status}, 200, 'an unrelated upload meanwhile: 200');
cmp_ok($dt, '<', 10, sprintf('... answered within 10 s (%.2f s)', $dt));

my $line = <$rd> // '';
waitpid($pid, 0);
my ($ht, $hs, $hj) = $line =~ /^(\S+) (\d+) (.*)$/;
$hj = eval { $JSON->decode($hj // '{}') } // {};
is($hs, 200, 'the hostile upload: 200 (the copies that fit are unchanged)');
cmp_ok($ht, '<', 30, "... answered within 30 s ($ht s; unbounded it decodes the 4 MB key $COPIES times)");
my @inv = @{ $hj->{invalid} // [] };
is(scalar @inv, $COPIES - 1 - $FOLD, "... $FOLD copies merged into the first, the rest refused");
like($inv[0]{reason} // '', qr/more than $FOLD different copies of one key in one upload/, '... with the reason');
my $ok = @{ $hj->{unchanged} // [] } + @{ $hj->{updated} // [] };
is($ok, 1 + $FOLD, '... the merged copies share one outcome');
note "hostile upload: $ht s";

done_testing;
