#!/usr/bin/perl
# Both networks through one node (issue 8): a three-node mesh on loopback.
#   SKS  127.0.0.2   a real SKS 1.1.6 (legacy filters), peers with A only
#   A    127.0.0.1   ours, --profiles sks,hockeypuck (the default), peers
#                    with SKS and with B
#   B    127.0.0.5   ours, --profiles hockeypuck: stands in for Hockeypuck
#                    (announces Hockeypuck 2.2's filters), peers with A only
# All start with the same 300 keys. 10 keys uploaded at SKS (/pks/add) reach
# B through A, 10 uploaded at B reach SKS through A; A talks sks with SKS and
# hockeypuck with B (as initiator it first tries sks with B, is refused, and
# retries with hockeypuck, which it then remembers, and op=stats shows);
# `reconsvc check` is clean on A and B afterwards, every profile's tree
# included.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use JSON::PP ();
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'sks not installed' unless SksPeer::available();
plan skip_all => 'mdb_dump not installed' unless have_cmd('mdb_dump');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

my $NUP = 10;       # keys uploaded at each end
my ($base_f, $extra_f) = fixture_keys();
my @base = SksPeer::split_keyring(slurp($base_f));
my @extra = SksPeer::split_keyring(slurp($extra_f));
my @at_sks = @extra[0 .. $NUP - 1];
my @at_b = @extra[$NUP .. 2 * $NUP - 1];
my $T = tmpdir();

# SKS hashes of keys, through our own import (canonical form = SKS's)
sub hashes_of {
    my ($name, @keys) = @_;
    my $db = "$T/hash-$name";
    import_keys($db, write_keys("$T/$name.pgp", @keys));
    return db_hashes($db);
}
my @h_sks = hashes_of('at-sks', @at_sks);
my @h_b = hashes_of('at-b', @at_b);
is(scalar @h_sks + scalar @h_b, 2 * $NUP, "$NUP + $NUP keys to upload");

sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge; $s }
sub upload {
    my ($url, $bin) = @_;
    my $r = http_req('POST', "$url/pks/add",
        { 'Content-Type' => 'application/x-www-form-urlencoded' },
        'keytext=' . urlenc(enarmor($bin)));
    return $r->{status};
}

my $pA = SksPeer::free_port('127.0.0.1');
my $pB = SksPeer::free_port('127.0.0.5');
my $hB = SksPeer::free_port('127.0.0.5');

my $sks = SksPeer->start(dir => "$T/sks", keys => [$base_f],
                         peers => ["127.0.0.1:$pA"], gossip => 0.1);

my ($dbA, $dbB) = ("$T/dbA", "$T/dbB");
import_keys($dbA, $base_f);
import_keys($dbB, $base_f);
# A's nginx shows the peers of a copy of A's membership (op=stats)
spew("$T/membA", join '', map { "$_\n" } '127.0.0.2 ' . $sks->recon_port, "127.0.0.5 $pB");
my $ngA = start_nginx(db => $dbA, http => "    hkp_membership $T/membA;\n");
my $portA = port($ngA);
# B's nginx also listens on B's address: A fetches from the IP B's recon
# connection comes from
my $ngB = start_nginx(db => $dbB, conf => "        listen 127.0.0.5:$hB;\n");
my $A = start_recon(db => $dbA, http_port => $portA, port => $pA,
    peers => [split /\n/, slurp("$T/membA")], gossip => 1);
my $B = start_recon(db => $dbB, addr => '127.0.0.5', http_port => $hB, port => $pB,
    peers => ["127.0.0.1 $pA"], gossip => 1, args => ['--profiles', 'hockeypuck']);

is(scalar(grep { upload($sks->hkp_url, $_) == 200 } @at_sks), $NUP,
   "$NUP keys uploaded at SKS");
is(scalar(grep { upload($ngB, $_) == 200 } @at_b), $NUP,
   "$NUP keys uploaded at B (/pks/add)");

my $t0 = time;
my %inB;
my $b_ok = wait_for(150, sub {
    %inB = map { $_ => 1 } db_hashes($dbB);
    return !grep { !$inB{$_} } @h_sks;
});
ok($b_ok, sprintf('the keys uploaded at SKS reached the hockeypuck-only node '
    . 'through A (%.1f s)', time - $t0))
    or diag("A:\n" . substr($A->log, -4000) . "\nB:\n" . substr($B->log, -4000));
my $s_ok = wait_for(150, sub {
    return !grep { $sks->hget($_) != 200 } @h_b;
});
ok($s_ok, sprintf('the keys uploaded at B reached SKS through A (%.1f s)',
    time - $t0))
    or diag("A:\n" . substr($A->log, -4000) . "\nSKS:\n" . substr($sks->recon_log, -3000));
my %inA = map { $_ => 1 } db_hashes($dbA);
is(scalar(grep { $inA{$_} } @h_sks, @h_b), 2 * $NUP, 'A has all of them');

my $logA = $A->log;
my $logB = $B->log;
like($logA, qr/^\S+ reconsvc: profile peer=127\.0\.0\.2:\d+ role=\w+ profile=sks$/m,
     'A talks sks with SKS');
like($logA, qr/^\S+ reconsvc: profile peer=127\.0\.0\.5:\d+ role=\w+ profile=hockeypuck$/m,
     'A talks hockeypuck with B');
unlike($logB, qr/ profile=sks/, 'B never uses sks');
unlike($logA, qr/profile peer=127\.0\.0\.2:\d+ role=\w+ profile=hockeypuck/,
       'A never offers SKS the hockeypuck profile');
like($logB, qr/profiles: sks,hockeypuck/, 'B keeps the hockeypuck tree (and sks\'s)');

# op=stats shows each peer's profile (the last session's)
{
    my $r = http_get("$ngA/pks/lookup?op=stats&options=mr");
    my $j = eval { JSON::PP->new->utf8->decode($r->{content}) } // {};
    my %prof = map { $_->{name} => ($_->{lastRecon} // {})->{profile} } @{ $j->{peers} // [] };
    is($prof{"127.0.0.5 $pB"}, 'hockeypuck', "A's op=stats: B's profile is hockeypuck");
    is($prof{'127.0.0.2 ' . $sks->recon_port}, 'sks', "A's op=stats: SKS's profile is sks");
}

is($A->stop, 0, 'A stopped cleanly');
is($B->stop, 0, 'B stopped cleanly');
stop_nginx($ngA);
stop_nginx($ngB);
$sks->stop;

if ($logA =~ /peer=127\.0\.0\.5:\d+: filters of profile sks refused, trying hockeypuck/) {
    pass('A as initiator retried B with hockeypuck after sks was refused');
} else {
    # B connected first every time: then A knew B's profile from B's Config
    like($logA, qr/profile peer=127\.0\.0\.5:\d+ role=initiator profile=hockeypuck/,
         'A as initiator used hockeypuck with B');
}
my $meta = run_cmd(['mdb_dump', '-p', '-s', 'meta', $dbA]);
like($meta->{out}, qr/ rprof:127\.0\.0\.5 $pB\n hockeypuck\n/,
     "A remembers B's profile");
like($meta->{out}, qr/ rprof:127\.0\.0\.2 \d+\n sks\n/, "A remembers SKS's profile");

for my $n (['A', $dbA], ['B', $dbB]) {
    my $r = run_cmd([root() . '/build/reconsvc', 'check', '--db', $n->[1]]);
    is($r->{rc}, 0, "reconsvc check on $n->[0]: exit 0") or diag($r->{out} . $r->{err});
    like($r->{out}, qr/^profile hockeypuck: (\d+) keys in its tree, \d+ tree nodes, 0 differences$/m,
         "$n->[0]: the hockeypuck tree checks clean");
    like($r->{out}, qr/^ok: \d+ keys, \d+ tree nodes, 0 differences$/m,
         "$n->[0]: the sks tree checks clean");
}

done_testing();
