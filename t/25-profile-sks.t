#!/usr/bin/perl
# `reconsvc hash`: the sks profile gives the SKS hashes of t/data/hashes.txt
# (each checked against a running SKS), for armored and binary input, is
# the default, and unknown profiles or missing files are errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $T = tmpdir();

my @rows;
for (split /\n/, slurp("$ROOT/t/data/hashes.txt")) {
    next if /^#/;
    my ($file, $hash, $fpr) = split /\s{2,}/;
    next unless defined $fpr && $file =~ /\.asc$/;
    push @rows, [$file, $hash, $fpr];
}
ok(@rows >= 10, scalar(@rows) . ' expected hashes read');

for my $r (@rows) {
    my ($file, $hash, $fpr) = @$r;
    for my $prof ([], ['--profile', 'sks']) {
        my $res = run_cmd([$RECONSVC, 'hash', @$prof, "$ROOT/t/data/$file"]);
        is($res->{rc}, 0, "$file @$prof: exit 0") or diag $res->{err};
        is($res->{out}, "$hash $fpr\n", "$file @$prof: SKS hash");
    }
}

# All files at once: one line per key, in file order.
my $all = run_cmd([$RECONSVC, 'hash', map { "$ROOT/t/data/$_->[0]" } @rows]);
is($all->{out}, join('', map { "$_->[1] $_->[2]\n" } @rows),
    'several files: one line per key in order');

my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
SKIP: {
    skip "$KEYRING missing", 2 unless -r $KEYRING;
    my $res = run_cmd([$RECONSVC, 'hash', $KEYRING], timeout => 300);
    is($res->{rc}, 0, 'binary keyring: exit 0');
    like($res->{out},
        qr/^62DE72FD503A3D71992C9E58E235E285 20691DFCC2C98C47952984EE00018C22381A7594$/m,
        'binary keyring: SKS-verified hash of 20691DFC...');
}

my $bad = run_cmd([$RECONSVC, 'hash', '--profile', 'nosuch', "$ROOT/t/data/$rows[0][0]"]);
is($bad->{rc}, 2, 'unknown profile: exit 2');
like($bad->{err}, qr/unknown profile nosuch/, 'unknown profile: says so');
my $none = run_cmd([$RECONSVC, 'hash']);
is($none->{rc}, 2, 'no file: usage, exit 2');
my $missing = run_cmd([$RECONSVC, 'hash', "$T/nonexistent"]);
is($missing->{rc}, 1, 'missing file: exit 1');
like($missing->{err}, qr/nonexistent/, 'missing file: named');

done_testing();
