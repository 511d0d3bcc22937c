#!/usr/bin/perl
# An empty node joins by recon alone, from a peer that answers with one
# Elements frame larger than RECON_MAX_FRAME (4 MiB), as SKS does for a
# node that lacks ~250k keys or more (17 bytes a key).
#
# The peer P is scripted here: it announces 300,000 hashes in one 5.1 MB
# Elements frame, 5300 of them real keys that nginx A serves at P's
# "http port", the rest hashes no server has. In both roles:
#   - P connects to empty node B (B requests, P answers Full(root) with the
#     big Elements frame);
#   - empty node C connects to P (P requests: Poly at the root, C answers
#     FullElements, P sends the big Elements frame and Done);
# the node streams the frame in, fetches all 300,000 from A and ends up
# with exactly A's 5300 keys. A node whose --max-elements is below the
# frame refuses it with one log line, and keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use HkpTest qw(:all);
use JSON::PP;
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'mdb_dump not installed' unless have_cmd('mdb_dump');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

$SIG{PIPE} = 'IGNORE';
my $NFAKE = 294_700;
my ($base_f, $extra_f) = fixture_keys();
my $T = tmpdir();
my $dbA = "$T/dbA";
import_keys($dbA, $base_f, $extra_f);
my @real = db_hashes($dbA);
is(scalar @real, 5300, 'A has 5300 keys');
my $nginxA = start_nginx(db => $dbA);
my $httpA = port($nginxA);

# The element set: the real hashes and fakes, shuffled (SKS sends them in
# tree order, not sorted).
srand(20261202);
my @elems = map { pack('H*', $_) . "\0" } @real;
for (1 .. $NFAKE) {
    push @elems, pack('N4', map { int(rand(2**32)) } 1 .. 4) . "\0";
}
for (my $i = $#elems; $i > 0; $i--) {
    my $j = int(rand($i + 1));
    @elems[$i, $j] = @elems[$j, $i];
}
my $N = scalar @elems;
my $ELEMENTS = pack('NCN', 1 + 4 + 17 * $N, 2, $N) . join('', @elems);
cmp_ok(length($ELEMENTS), '>', 4 * 1024 * 1024 + 4, 'the Elements frame is over 4 MiB');

# ---- client helpers (the wire encoders and the handshake are ReconTest's recon_*)
sub drain_to_eof {
    my ($s, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $deadline = time + $secs;
    while (time < $deadline) {
        next unless $sel->can_read(0.2);
        my $n = sysread($s, my $chunk, 65536);
        return 1 unless $n;
    }
    return 0;
}
sub converged {
    my ($db) = @_;
    my @h = db_hashes($db);
    return @h == @real && join(',', @h) eq join(',', @real);
}

# ---- role 1: P connects to empty node B; B requests -----------------------
my $pB = SksPeer::free_port('127.0.0.1');
run_cmd([root() . '/build/reconsvc', 'import', '--db', "$T/dbB"]);
my $B = start_recon(db => "$T/dbB", http_port => 9, port => $pB,
    peers => ["127.0.0.1 $pB"], gossip => 100000, args => ['--fetch-progress', 0.2]);
my $nginxB = start_nginx(db => "$T/dbB", http => "    hkp_membership " . $B->membership . ";\n");
sub b_stats {
    my $r = http_get("$nginxB/pks/lookup?op=stats&options=mr");
    my $j = eval { JSON::PP->new->utf8->decode($r->{content}) } // {};
    my ($p) = grep { $_->{name} eq "127.0.0.1 $pB" } @{ $j->{peers} // [] };
    return $p && $p->{lastRecon};
}
{
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pB, Proto => 'tcp',
                                  Timeout => 5) or die "connect: $!";
    my ($verdict, $buf) = recon_handshake($c, $httpA);
    is($verdict, 'passed', 'role 1: B passes our Config');
    is(recon_read_until_type($c, \$buf, 1, 10), 1, 'B (requester, empty) sends ReconRqst_Full');
    print $c $ELEMENTS;
    ok(drain_to_eof($c, 60), 'B reads the whole frame and ends the session');
    close $c;
}
my $during;
{
    # polled fast: the whole fetch may take a few seconds only
    my $deadline = time + 300;
    while (!$during && time < $deadline) {
        my $l = b_stats();
        $during = $l if $l && $l->{fetching};
        last if !$during && $l && $l->{fetchedTotal};     # over already
        sleep 0.05;
    }
}
ok($during && $during->{fetching}{total} == $N && $during->{fetching}{done} <= 5300
   && $during->{fetching}{queue} < $N, 'op=stats shows the fetch in progress (total, done, to ask)')
    or diag(explain($during));
ok(wait_for(120, sub { $B->log =~ /session peer=127\.0\.0\.1:\d+.*role=acceptor we_miss=$N\b/ }),
   "B's session found all $N missing")
    or diag($B->log);
ok(wait_for(300, sub { converged("$T/dbB") }), "B fetched from A: exactly A's 5300 keys")
    or diag(scalar(db_hashes("$T/dbB")) . " keys; log:\n" . $B->log);
unlike($B->log, qr/cut off/, 'no session was cut off');
like($B->log, qr/fetch from 127\.0\.0\.1:\d+: \d+ of $N keys fetched \(\d+ keys\/s\), \d+ hashes to go, \d+ a request/,
     'a progress line during the long fetch');
like($B->log, qr/fetch from 127\.0\.0\.1:\d+: 100 hashes a request: \d+ hashes\/s(?:; trying 200|, not more than)/,
     'the request size is searched: 100, then 200 tried (kept if faster)');
like($B->log, qr/seen-cache: peer 127\.0\.0\.1 $pB offered [0-9A-F]{32}, but after fetching it no stored key has that sks hash: not returned by the peer; not asked again/,
     'the seen-cache says why a fake hash came to nothing: not returned by the peer');
{
    my $after = wait_for(30, sub { my $l = b_stats(); $l && !$l->{fetching} && $l->{fetchedTotal} ? $l : undef });
    ok($after && $after->{sessionsOk} >= 1 && $after->{fetchedTotal} >= 5300 && $after->{lastSuccess},
       'op=stats after the fetch: sessions, keys fetched in all, last success')
        or diag(explain($after));
}

# ---- role 2: empty node C connects to P; P requests -----------------------
my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                Listen => 5, ReuseAddr => 1) or die "listen: $!";
my $pP = $lsn->sockport;
my $pC = SksPeer::free_port('127.0.0.1');
run_cmd([root() . '/build/reconsvc', 'import', '--db', "$T/dbC"]);
my $nginxC = start_nginx(db => "$T/dbC");
my $C = start_recon(db => "$T/dbC", http_port => port($nginxC), port => $pC,
    peers => ["127.0.0.1 $pP"], gossip => 1);
{
    my $sel = IO::Select->new($lsn);
    ok($sel->can_read(20), 'C gossips to P');
    my $c = $lsn->accept;
    my ($verdict, $buf) = recon_handshake($c, $httpA);
    is($verdict, 'passed', 'role 2: C passes our Config');
    # Poly at the root, 300,000 elements, sample values that cannot
    # interpolate: C's root is an empty leaf, so it answers FullElements.
    my $poly = pack('NN', 0, 0) . pack('NN', $N, 6) . ("\0" x (17 * 6));
    print $c recon_frame(0, $poly) . recon_frame(6, '');
    is(recon_read_until_type($c, \$buf, 3, 10), 3, 'C (responder, empty) answers FullElements');
    print $c $ELEMENTS . recon_frame(5, '');
    ok(drain_to_eof($c, 60), 'C reads the frame and Done, and ends the session');
    close $c;
}
ok(wait_for(120, sub { $C->log =~ /role=initiator we_miss=$N\b/ }),
   "C's session found all $N missing")
    or diag($C->log);
ok(wait_for(300, sub { converged("$T/dbC") }), "C fetched from A: exactly A's 5300 keys")
    or diag(scalar(db_hashes("$T/dbC")) . " keys; log:\n" . $C->log);
$C->stop;

# ---- over the operator's bound: refused, one line, node keeps serving -----
my $pD = SksPeer::free_port('127.0.0.1');
run_cmd([root() . '/build/reconsvc', 'import', '--db', "$T/dbD"]);
my $D = start_recon(db => "$T/dbD", http_port => $httpA, port => $pD,
    peers => ["127.0.0.1 $pD"], gossip => 100000, args => ['--max-elements', 100000]);
{
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pD, Proto => 'tcp',
                                  Timeout => 5) or die "connect: $!";
    my ($verdict, $buf) = recon_handshake($c, $httpA);
    is($verdict, 'passed', 'D passes our Config');
    is(recon_read_until_type($c, \$buf, 1, 10), 1, 'D sends ReconRqst_Full');
    local $SIG{PIPE} = 'IGNORE';
    syswrite($c, substr($ELEMENTS, 0, 65536));
    ok(drain_to_eof($c, 10), 'D cuts the session off at the frame header');
    close $c;
}
ok(wait_for(10, sub { $D->log =~ /cut off: frame length over the limit \(\d+ bytes; an Elements frame may hold 100000 elements, --max-elements\)/ }),
   'one log line names the bound')
    or diag($D->log);
my @dh = db_hashes("$T/dbD");
is(scalar @dh, 0, 'nothing was fetched for the refused frame');
ok(SksPeer::port_listening($pD), 'D still listens');

done_testing();
