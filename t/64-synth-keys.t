#!/usr/bin/perl
# build/synth-keys (bench/synth-keys.c, both cores) writes the same bytes as
# bench/synth-keys.py for the same N, seed, start and user ID count: the keys
# and the --fprs list, across the point (key 753293) where creation times
# wrap to stay within 32 bits, with one worker and with several.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $GEN = "$ROOT/build/synth-keys";
my $PY = '/usr/bin/python3';
plan skip_all => "$GEN not built (make)" unless -x $GEN;
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless system("$PY -c 'import cryptography' 2>/dev/null") == 0;
my $T = tmpdir();

for my $case (["default options", [800]],
              ["seed, start across the time wrap, 3 user IDs", [1200, '--seed', 't64', '--start', 752800, '--uids', 3]]) {
    my ($what, $args) = @$case;
    my $py = run_cmd([$PY, "$ROOT/bench/synth-keys.py", @$args, '--fprs', "$T/py.fpr"], timeout => 300);
    is($py->{rc}, 0, "$what: synth-keys.py runs") or diag $py->{err};
    for my $threads (1, 3) {
        my $c = run_cmd([$GEN, @$args, '--threads', $threads, '--fprs', "$T/c.fpr"], timeout => 300);
        is($c->{rc}, 0, "$what, $threads threads: synth-keys runs") or diag $c->{err};
        ok(length $c->{out} > 0 && $c->{out} eq $py->{out}, "$what, $threads threads: same keys ("
           . length($c->{out}) . " bytes)");
        is(slurp("$T/c.fpr"), slurp("$T/py.fpr"), "$what, $threads threads: same fingerprints");
    }
}
my $bad = run_cmd([$GEN, '10', '--uids', '0']);
isnt($bad->{rc}, 0, '--uids 0 is refused');
like($bad->{err}, qr/--uids must be/, 'with a reason');
done_testing;
