#!/usr/bin/perl
# reconsvc compact: rewrites a database with every page full and no free
# pages (shared/store_repack.c), only while no other process has it open.
# A database grown by imports into it (random inserts, copied pages) gets
# smaller, keeps every key and its tree (check clean, same answers); with
# nginx serving it, compact refuses with a reason and nginx goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $GEN = "$ROOT/build/synth-keys";
plan skip_all => "$GEN not built (make)" unless -x $GEN;
my $T = tmpdir();
my $db = "$T/db";

sub check_db {
    my $r = run_cmd([$RECONSVC, 'check', '--db', $db], timeout => 120);
    my ($line) = $r->{out} =~ /^((?:ok|FAILED): \d+ keys.*)$/m;
    return ($r->{rc}, $line // "$r->{out}$r->{err}");
}
sub data_size { (stat "$db/data.mdb")[7] // 0 }

# created empty first, so the imports go into an existing database (the
# live path: no repack at its end)
is(run_cmd([$RECONSVC, 'import', '--db', $db])->{rc}, 0, 'empty database created');
for my $part ([0, 2500], [2500, 2500]) {
    my $g = run_cmd([$GEN, $part->[1], '--start', $part->[0], '--uids', 2,
                     '--fprs', "$T/fprs-$part->[0]"], timeout => 120);
    is($g->{rc}, 0, "keys $part->[0].. generated") or diag $g->{err};
    spew("$T/keys-$part->[0].pgp", $g->{out});
    my $r = run_cmd([$RECONSVC, 'import', '--db', $db, '--batch', 300, "$T/keys-$part->[0].pgp"],
                    timeout => 120);
    is($r->{rc}, 0, "keys $part->[0].. imported") or diag $r->{err};
    unlike($r->{err}, qr/repacked/, '... into the existing database, not repacked');
}
my ($rc, $line) = check_db();
is($rc, 0, "before: check clean ($line)");
my ($before_keys) = $line =~ /: (\d+) keys/;
my ($before_tree) = $line =~ /(\d+) tree nodes/;
my $before = data_size();
my @fprs = map { chomp; $_ } (split(/^/, slurp("$T/fprs-0")), split(/^/, slurp("$T/fprs-2500")));

my $base = start_nginx(db => $db);
my $want = http_get("/pks/lookup?op=get&options=mr&search=0x$fprs[17]");
is($want->{status}, 200, 'nginx serves a key');
my $c = run_cmd([$RECONSVC, 'compact', '--db', $db], timeout => 120);
is($c->{rc}, 1, 'compact refuses while nginx has the database open');
like($c->{err}, qr/open in another process/, '... saying why');
is(data_size(), $before, '... and leaves it as it was');
is(http_get("/pks/lookup?op=get&options=mr&search=0x$fprs[17]")->{status}, 200, '... nginx still serves');
stop_nginx($base);

$c = run_cmd([$RECONSVC, 'compact', '--db', $db], timeout => 120);
is($c->{rc}, 0, 'compact with nothing else open') or diag $c->{err};
like($c->{err}, qr/repacked \Q$db\E: \d+ records in \d+ databases/, '... says what it did');
my $after = data_size();
cmp_ok($after, '<', $before * 0.8, "data.mdb $before -> $after bytes");
ok(!-e "$db/repack.mdb", 'no copy left beside it');
($rc, $line) = check_db();
is($rc, 0, "after: check clean ($line)");
like($line, qr/^ok: \Q$before_keys\E keys, \Q$before_tree\E tree nodes/, '... same keys and tree');

start_nginx(db => $db);
my $got = http_get("/pks/lookup?op=get&options=mr&search=0x$fprs[17]");
is($got->{status}, 200, 'nginx serves the compacted database');
is($got->{body}, $want->{body}, '... the same key');
my $bad = 0;
for my $i (grep { $_ % 97 == 0 } 0 .. $#fprs) {
    $bad++ unless http_get("/pks/lookup?op=get&options=mr&search=0x$fprs[$i]")->{status} == 200;
}
is($bad, 0, 'every sampled key is found');
is(http_get("/pks/lookup?op=index&options=mr&search=alice")->{status}, 200, 'word search answers');
stop_nginx();

is(run_cmd([$RECONSVC, 'compact'])->{rc}, 2, 'compact without --db: usage');
my $none = run_cmd([$RECONSVC, 'compact', '--db', "$T/nowhere"]);
is($none->{rc}, 1, 'compact of a missing database fails');
done_testing;
