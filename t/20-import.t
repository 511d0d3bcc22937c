#!/usr/bin/perl
# reconsvc import: bulk load, re-import, merge, damaged input, stdin,
# armored input. The database is checked with lmdb-utils (mdb_stat,
# mdb_dump), not with reconsvc itself.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use HkpTest qw(slurp spew dearmor);

my $bin = $ENV{RECONSVC} // 'build/reconsvc';
-x $bin or plan skip_all => "$bin not built";
for my $tool (qw(mdb_stat mdb_dump)) {
    system("command -v $tool >/dev/null 2>&1") == 0
        or plan skip_all => "$tool (lmdb-utils) missing";
}
my $keyring = '/usr/share/keyrings/debian-keyring.gpg';

my $tmp = tempdir(CLEANUP => 1);

# Runs reconsvc with the given arguments (and optional stdin file);
# returns (exit code, stdout, stderr).
sub run {
    my ($args, $stdin) = @_;
    my $cmd = join ' ', map { quote($_) } $bin, @$args;
    $cmd .= ' <' . quote($stdin) if defined $stdin;
    $cmd .= ' </dev/null' unless defined $stdin;
    my $out = `$cmd 2>$tmp/stderr`;
    my $rc = $? >> 8;
    my $err = slurp("$tmp/stderr");
    return ($rc, $out, $err);
}

sub quote { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

sub summary {
    my $out = shift;
    $out =~ /^read (\d+), new (\d+), merged (\d+), unchanged (\d+), rejected (\d+)$/m
        or return undef;
    return { read => $1, new => $2, merged => $3, unchanged => $4,
             rejected => $5 };
}

# The binary key of one armored key file.
sub dearmor_file { return (dearmor(slurp($_[0])))[0][0] }

# Entry count of a named database.
sub entries {
    my ($db, $name) = @_;
    my $s = `mdb_stat -s $name $db 2>&1`;
    return $s =~ /Entries: (\d+)/ ? $1 : "mdb_stat failed: $s";
}

# All (key, value) pairs of a named database, upper-case hex.
sub dump_db {
    my ($db, $name) = @_;
    my @lines = split /\n/, `mdb_dump -s $name $db 2>&1`;
    my @pairs;
    my $in = 0;
    while (defined(my $l = shift @lines)) {
        if ($l eq 'HEADER=END') { $in = 1; next }
        last if $l eq 'DATA=END';
        next unless $in;
        my $v = shift @lines;
        $l =~ s/^ //; $v =~ s/^ //;
        push @pairs, [uc $l, uc $v];
    }
    return @pairs;
}

sub stored_hashes {
    my $db = shift;
    return { map { $_->[0] => 1 } dump_db($db, 'keys') };
}

sub meta_count {
    my $db = shift;
    for (dump_db($db, 'meta')) {
        return hex($_->[1]) if $_->[0] eq uc(unpack 'H*', 'count');
    }
    return undef;
}

my %h = (
    k1 => '50ED94C61884E160D6F8C91DA546C429',
    k2 => 'B01DB9A46CE7264D3DCD64479010D335',
    k3 => '84D77DC5D86163BC803AD2CD5C789E99',
    k3dup => '39B1F79DC69266314C6AD3ED3A5F06BF',
    k4 => 'D6098F23D29F7D3D776892775ADDBE3C',
    k5 => '7934B4A7E7EF834E680A4A899536CDC0',
    k6 => '2108FA6CB90EEFB0C527AD6CA06F840A',
    k7 => '24AD9C8DCFDBEA5C0CCC0054CB24ECFC',
    k8 => '1C39089AA661517C6B34F9AA2588E256',
    jay => 'B4453EAFA31FA69F081C0E647F32B6E3',
    kr2 => '62DE72FD503A3D71992C9E58E235E285',
);

# ---------------------------------------------------------------- usage
{
    my ($rc) = run([]);
    is($rc, 2, 'no command: exit 2');
    ($rc) = run(['frobnicate']);
    is($rc, 2, 'unknown command: exit 2');
    ($rc) = run(['import', 't/data/k1-ed25519.asc']);
    is($rc, 2, 'import without --db: exit 2');
    ($rc) = run(['import', '--db', "$tmp/u"]);
    is($rc, 0, 'import without files: exit 0');
    ok(-f "$tmp/u/data.mdb", 'import without files creates the database');
    ($rc) = run(['import', '--db', "$tmp/u", '--bogus', 'x']);
    is($rc, 2, 'unknown option: exit 2');
    ($rc) = run(['import', '--db', "$tmp/u", "$tmp/does-not-exist"]);
    is($rc, 1, 'missing input file: exit 1');
}

# ---------------------------------------------------------------- keyring
SKIP: {
    skip "$keyring missing", 12 unless -r $keyring;
    my $db = "$tmp/kr";
    my ($rc, $out, $err) = run(['import', '--db', $db, '--batch', '100',
        $keyring]);
    is($rc, 0, 'keyring import exits 0') or diag $err;
    is_deeply(summary($out), { read => 905, new => 905, merged => 0,
        unchanged => 0, rejected => 0 }, 'keyring: 905 new') or diag $out;
    is(entries($db, 'keys'), 905, 'keys db has 905 entries');
    is(meta_count($db), 905, 'meta count is 905');
    my $st = stored_hashes($db);
    ok($st->{$h{kr2}}, 'SKS hash of 20691DFC... stored');
    ok($st->{$h{jay}}, 'SKS hash of 7DF3D4B5... stored');

    # Index entries of one known key.
    my %fpr = map { $_->[0] => $_->[1] } dump_db($db, 'fpr');
    is($fpr{'7DF3D4B58EAD38D84E554E3B68530A812B47DCDE'}, $h{jay},
        'fpr index points at the key');
    my @k32 = grep { $_->[0] eq '2B47DCDE' } dump_db($db, 'kid32');
    is_deeply([map { $_->[1] } @k32], [$h{jay}], 'kid32 index');
    my @words = map { pack 'H*', $_->[0] }
        grep { $_->[1] eq $h{jay} } dump_db($db, 'word');
    is_deeply([sort @words], [sort qw(jay bonci jaybonci debian org
        jaybonci@debian.org)], 'words of "Jay Bonci <jaybonci@debian.org>"');

    ($rc, $out, $err) = run(['import', '--db', $db, $keyring]);
    is($rc, 0, 'second import exits 0') or diag $err;
    is_deeply(summary($out), { read => 905, new => 0, merged => 0,
        unchanged => 905, rejected => 0 }, 're-import: 905 unchanged')
        or diag $out;
    is(meta_count($db), 905, 'count still 905');
}

# ---------------------------------------------------------------- merge
{
    my $db = "$tmp/merge";
    my ($rc, $out, $err) = run(['import', '--db', $db,
        't/data/k3-dupsig.asc']);
    is($rc, 0, 'k3-dupsig import') or diag $err;
    is(summary($out)->{new}, 1, 'k3-dupsig is new');
    ok(stored_hashes($db)->{$h{k3dup}}, '39B1... stored');

    ($rc, $out, $err) = run(['import', '--db', $db, 't/data/k3-ed25519.asc']);
    is($rc, 0, 'k3-ed25519 import') or diag $err;
    is_deeply(summary($out), { read => 1, new => 0, merged => 1,
        unchanged => 0, rejected => 0 }, 'k3-ed25519 merged') or diag $out;
    my $st = stored_hashes($db);
    ok($st->{$h{k3}}, '84D7... stored after merge');
    ok(!$st->{$h{k3dup}}, '39B1... gone after merge');
    is(entries($db, 'keys'), 1, 'one key stored');
    is(meta_count($db), 1, 'count 1');
    my $left = 0;
    for my $name (qw(fpr kid64 kid32 word)) {
        $left += grep { $_->[1] eq $h{k3dup} } dump_db($db, $name);
    }
    is($left, 0, 'no index entry points at the merged-away hash');
    my @fpr = grep { $_->[0] eq 'F24511A38E1F7ADFD95D3952EA498F20AD79F7AC' }
        dump_db($db, 'fpr');
    is_deeply([map { $_->[1] } @fpr], [$h{k3}], 'fpr points at 84D7...');
    ok(scalar(grep { $_->[1] eq $h{k3} } dump_db($db, 'word')) >= 4,
        'words point at 84D7...');

    # Merge inside one import (one transaction), and repeated blocks.
    my $db2 = "$tmp/merge2";
    ($rc, $out, $err) = run(['import', '--db', $db2, 't/data/k3-dupsig.asc',
        't/data/k3-ed25519.asc', 't/data/k4-repeated-blocks.asc',
        't/data/k4-ed25519.asc']);
    is($rc, 0, 'merge within one import') or diag $err;
    is_deeply(summary($out), { read => 4, new => 2, merged => 1,
        unchanged => 1, rejected => 0 }, 'same-run merge counted')
        or diag $out;
    $st = stored_hashes($db2);
    is_deeply([sort keys %$st], [sort $h{k3}, $h{k4}], 'k3 merged, k4 once');
}

# ---------------------------------------------------------------- damage
{
    my %b = map { $_ => dearmor_file("t/data/$_-ed25519.asc") }
        qw(k1 k3 k5 k6 k7 k8);
    $b{k2} = dearmor_file('t/data/k2-rsa2048.asc');

    # A key with well-framed but invalid packets in the middle: a public
    # key packet followed by a literal data packet (tag 11), which SKS's
    # grammar rejects.
    is(unpack('C', $b{k6}), 0x98, 'k6 starts with an old-format tag 6 header');
    my $bad = substr($b{k6}, 0, 2 + unpack('C', substr($b{k6}, 1, 1)))
        . "\xAC\x02\x00\x00";
    spew("$tmp/mid-bad.gpg", $b{k1} . $bad . $b{k2});
    my $db = "$tmp/dmg";
    my ($rc, $out, $err) = run(['import', '--db', $db, "$tmp/mid-bad.gpg"]);
    is($rc, 0, 'invalid key in the middle: exit 0') or diag $err;
    is_deeply(summary($out), { read => 3, new => 2, merged => 0,
        unchanged => 0, rejected => 1 }, 'two loaded, one rejected')
        or diag $out;
    like($out, qr/^rejected 1: \S.*$/m, 'rejection reason listed');
    my $st = stored_hashes($db);
    ok($st->{$h{k1}} && $st->{$h{k2}}, 'keys around it stored');

    # A truncated key in the middle: its last packet claims more bytes
    # than it has, which breaks the framing; the keys after it must load.
    my $trunc = substr($b{k5}, 0, length($b{k5}) - 20);
    spew("$tmp/mid-trunc.gpg", $b{k3} . $trunc . $b{k7} . $b{k8});
    ($rc, $out, $err) = run(['import', '--db', "$tmp/dmg2",
        "$tmp/mid-trunc.gpg"]);
    is($rc, 0, 'truncated key in the middle: exit 0') or diag $err;
    my $s = summary($out);
    is($s->{rejected}, 1, 'one key rejected') or diag $out;
    is($s->{new}, 3, 'the other three stored') or diag $out;
    like($out, qr/^rejected 1: \S/m, 'reason listed');
    $st = stored_hashes("$tmp/dmg2");
    ok($st->{$h{k3}} && $st->{$h{k7}} && $st->{$h{k8}} && !$st->{$h{k5}},
        'k3, k7, k8 stored; k5 not') or diag join ' ', keys %$st;

    # Garbage bytes between keys. A framing error cannot tell garbage after
    # a complete key from a truncated key, so the key before it is
    # rejected (as SKS would); the key after it loads.
    spew("$tmp/garbage.gpg", $b{k1} . ("\xFF" x 37) . $b{k2} . $b{k3});
    ($rc, $out, $err) = run(['import', '--db', "$tmp/dmg3",
        "$tmp/garbage.gpg"]);
    is($rc, 0, 'garbage between keys: exit 0') or diag $err;
    is_deeply(summary($out), { read => 3, new => 2, merged => 0,
        unchanged => 0, rejected => 1 }, 'garbage: two loaded, one rejected')
        or diag $out;
    like($err, qr/framing error at offset \d+/, 'framing error reported');
    $st = stored_hashes("$tmp/dmg3");
    ok($st->{$h{k2}} && $st->{$h{k3}}, 'keys after the garbage stored')
        or diag $out, $err;
}

# ---------------------------------------------------------------- stdin, armor
{
    my $db = "$tmp/in";
    my ($rc, $out, $err) = run(['import', '--db', $db, '-'],
        't/data/k1-newformat-headers.asc');
    is($rc, 0, 'armored stdin') or diag $err;
    is(summary($out)->{new}, 1, 'armored key from stdin stored');
    ok(stored_hashes($db)->{$h{k1}}, 'k1 hash from new-format headers');

    spew("$tmp/k2.gpg", dearmor_file('t/data/k2-rsa2048.asc'));
    ($rc, $out, $err) = run(['import', '--db', $db, '-'], "$tmp/k2.gpg");
    is($rc, 0, 'binary stdin') or diag $err;
    is(summary($out)->{new}, 1, 'binary key from stdin stored');

    # stdin as a pipe (read into a growing buffer, not mmap'd).
    my $pipe = 'cat t/data/k8-ed25519.asc | ' . quote($bin)
        . ' import --db ' . quote($db) . " - 2>$tmp/stderr";
    $out = `$pipe`;
    is($? >> 8, 0, 'stdin pipe') or diag slurp("$tmp/stderr");
    is(summary($out)->{new}, 1, 'key from a pipe stored') or diag $out;
    ok(stored_hashes($db)->{$h{k8}}, 'k8 stored');

    # Several armored blocks in one file, with text around them.
    spew("$tmp/multi.asc", "hello\n" . slurp('t/data/k5-ed25519.asc')
        . "between\n" . slurp('t/data/k6-ed25519.asc')
        . slurp('t/data/debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc')
        . "bye\n");
    ($rc, $out, $err) = run(['import', '--db', $db, "$tmp/multi.asc",
        't/data/k1-ed25519.asc']);
    is($rc, 0, 'multi-block armor') or diag $err;
    is_deeply(summary($out), { read => 4, new => 3, merged => 0,
        unchanged => 1, rejected => 0 }, 'three new, k1 unchanged')
        or diag $out;
    my $st = stored_hashes($db);
    ok($st->{$h{k5}} && $st->{$h{k6}} && $st->{$h{jay}}, 'all stored');
    is(entries($db, 'keys'), 6, 'six keys');
    is(meta_count($db), 6, 'count 6');
}

# ------------------------------------------------- a put that fails mid-batch
# Two versions of one primary key, each with 600 user IDs: the second merge
# would exceed the 1000-UID limit, so those keys are rejected alone, and the
# keys around them in the same batch are stored.
{
    my $k1 = dearmor_file('t/data/k1-ed25519.asc');
    my $c = ord substr($k1, 0, 1);
    my $pklen = ($c & 0x40) ? 2 + ord(substr($k1, 1, 1))
              : (($c & 3) == 0 ? 2 + ord(substr($k1, 1, 1))
                               : 3 + unpack('n', substr($k1, 1, 2)));
    my $pk = substr($k1, 0, $pklen);
    my $uids = sub {
        my $p = shift;
        join '', map { my $u = "$p$_ <$p$_\@x.org>"; chr(0xC0 | 13) . chr(length $u) . $u } 0 .. 599;
    };
    my ($A, $B) = ($pk . $uids->('a'), $pk . $uids->('b'));
    spew("$tmp/limits.pgp", dearmor_file('t/data/k2-rsa2048.asc') . $A
        . dearmor_file('t/data/k3-ed25519.asc') . $B . dearmor_file('t/data/k5-ed25519.asc')
        . $B . dearmor_file('t/data/k6-ed25519.asc') . dearmor_file('t/data/k7-ed25519.asc'));
    for my $batch (1, 3, 1000) {
        my $db = "$tmp/limits-$batch";
        my ($rc, $out, $err) = run(['import', '--db', $db, '--batch', $batch,
            "$tmp/limits.pgp"]);
        is($rc, 0, "merge over a limit, batch $batch: exit 0") or diag $err;
        is_deeply(summary($out), { read => 8, new => 6, merged => 0,
            unchanged => 0, rejected => 2 }, "batch $batch: the two over-limit merges rejected, the rest stored")
            or diag $out;
        like($out, qr/^rejected 2: too many user IDs \(1200 > 1000\)$/m,
            "batch $batch: reason names the limit");
        is(entries($db, 'keys'), 6, "batch $batch: six keys stored");
        is(meta_count($db), 6, "batch $batch: count 6");
    }
}

done_testing();
