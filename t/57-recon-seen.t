#!/usr/bin/perl
# The seen-cache (issue 8, item 4): a peer that keeps offering a hash whose
# key hashes differently is asked for it once.
#   P 127.0.0.1: ours, 300 keys, plus a hash H in its tree under which it
#     stores (and serves over /pks/hashquery) the bytes of another key K:
#     whoever fetches H gets K, whose hash is not H
#   Q 127.0.0.5: ours, the 300 keys; gossips with P every second
# Q finds H missing in every session, fetches it once, logs it once, and
# from then on leaves it out (also after a restart: the cache is in the
# database); P's access log shows one /pks/hashquery in all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'mdb_dump/mdb_load not installed'
    unless have_cmd('mdb_dump') && have_cmd('mdb_load');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

my ($base_f) = fixture_keys();
my $T = tmpdir();
my ($dbP, $dbQ) = ("$T/dbP", "$T/dbQ");
import_keys($dbP, $base_f);
import_keys($dbQ, $base_f);
my $H = '5EE5EE5EE5EE5EE5EE5EE5EE5EE5EE5E';
my ($head, $k, $v);          # the key P serves under H

# P: the bytes of its first key stored again under H, and the tree rebuilt
{
    my $d = run_cmd(['mdb_dump', '-s', 'keys', $dbP]);
    ($head, $k, $v) = $d->{out} =~ /\A(.*?HEADER=END\n) ([0-9a-f]+)\n ([0-9a-f]+)\n/s;
    ok(defined $v, 'a stored key to copy') or BAIL_OUT('mdb_dump keys');
    spew("$T/extra.dump", "$head " . lc($H) . "\n $v\nDATA=END\n");
    my $l = run_cmd(['mdb_load', '-s', 'keys', '-f', "$T/extra.dump", $dbP]);
    is($l->{rc}, 0, 'H added to P\'s keys') or diag($l->{err});
    my $pb = run_cmd([root() . '/build/reconsvc', 'pbuild', '--db', $dbP]);
    is($pb->{rc}, 0, 'P\'s tree rebuilt with H') or diag($pb->{err});
    ok((grep { $_ eq $H } db_hashes($dbP)) && !(grep { $_ eq $H } db_hashes($dbQ)),
       'P has H, Q has not');
}

my $K = $k;
my $alog = "$T/p-access.log";
my $ngP = start_nginx(db => $dbP, conf => "        access_log $alog;\n");
my $pP = SksPeer::free_port('127.0.0.1');
my $pQ = SksPeer::free_port('127.0.0.5');
my $P = start_recon(db => $dbP, http_port => port($ngP), port => $pP,
    peers => ["127.0.0.5 $pQ"], gossip => 1, args => ['--profiles', 'sks']);
my @qargs = (db => $dbQ, addr => '127.0.0.5', http_port => port(), port => $pQ,
             peers => ["127.0.0.1 $pP"], gossip => 1);
my $Q = start_recon(@qargs);

sub hashqueries { scalar(() = (slurp($alog) // '') =~ m{"POST /pks/hashquery }g) }
sub skipped { my ($log) = @_; scalar(() = $log =~ /: 1 hashes not asked for \(seen-cache\)/g) }

ok(wait_for(60, sub { skipped($Q->log) >= 3 }),
   'Q leaves H out of three later sessions')
    or diag("Q:\n" . substr($Q->log, -3000));
my $logQ = $Q->log;
is(scalar(() = $logQ =~ /seen-cache: peer 127\.0\.0\.1 $pP offered $H, but after fetching it no stored key has that sks hash/g),
   1, 'H is logged once');
like($logQ, qr/offered $H, but after fetching it no stored key has that sks hash: it returned a key whose sks hash here is \U$K\E \(fingerprint [0-9A-F]{40}\); not asked again/,
     '  with its reason: the key P sent for it, and its hash here');
like($logQ, qr/1 hashes fetched in vain \(seen-cache\)/, 'the session that fetched it says so');
is(hashqueries(), 1, 'P was asked for H once');
ok(!(grep { $_ eq $H } db_hashes($dbQ)), 'Q did not store anything under H');

# the cache is in the database: a restarted Q does not ask again
is($Q->stop, 0, 'Q stopped');
my $seen = run_cmd(['mdb_dump', '-s', 'seen', $dbQ]);
like($seen->{out}, qr/^ \Q@{[lc $H]}\E[0-9a-f]+\n/m, 'Q\'s seen-cache holds H');
$Q = start_recon(@qargs);
ok(wait_for(60, sub { skipped($Q->log) >= 2 }), 'restarted Q leaves H out too')
    or diag("Q:\n" . substr($Q->log, -3000));
is(hashqueries(), 1, 'still one /pks/hashquery at P');
is($Q->stop, 0, 'Q stopped again');
is($P->stop, 0, 'P stopped');
stop_nginx($ngP);

done_testing();
