#!/usr/bin/perl
# Recon session slots cannot be taken by one peer (issue 13 D3): a member
# opening many connections gets MAX_SESSIONS_PER_PEER (2) sessions, the
# rest are refused with a log line while another member still gets in; and
# a peer that trickles a frame one byte at a time is cut off after the idle
# timeout, as one that sends nothing is (bytes without a complete message
# are not progress). When every slot is taken, a newcomer takes the slot of
# the oldest session of the peer holding most (fair admission), and a peer
# that sends a tiny complete message inside every idle timeout is cut off by
# the minimum-progress rule (--progress-time) instead of holding its slot
# for the session timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

$SIG{PIPE} = 'IGNORE';
my $T = tmpdir();
run_cmd([root() . '/build/reconsvc', 'import', '--db', "$T/db"]);
my $pA = SksPeer::free_port('127.0.0.1');
my $A = start_recon(db => "$T/db", http_port => 11371, port => $pA,
    peers => ["127.0.0.1 $pA  # the test clients", "127.0.0.5 1"],
    gossip => 100000, args => ['--config-timeout', 30, '--idle-timeout', 3]);

sub client {
    my ($from) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pA, Proto => 'tcp',
                                 LocalAddr => $from, Timeout => 5) || die "connect: $!";
}
# 1 while the connection stays open for $secs, 0 at EOF.
sub open_for {
    my ($s, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $deadline = time + $secs;
    while (time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread($s, my $b, 65536);
        return 0 unless $n;
    }
    return 1;
}
sub count_lines { my ($re) = @_; my $n = () = $A->log =~ /$re/g; return $n }

# ---- one member, five connections: two sessions, three refused
{
    my @c = map { my $c = client('127.0.0.1'); sleep 0.2; $c } 1 .. 5;
    my @open = map { open_for($_, 1) } @c;
    is(scalar(grep { $_ } @open), 2, 'one peer gets 2 session slots');
    is_deeply([@open[0, 1]], [1, 1], 'its first two connections are the sessions');
    ok(wait_for(3, sub { count_lines(qr/refused recon connection from 127\.0\.0\.1: 2 sessions with it running/) == 3 }),
       'one log line per refused connection');
    my $other = client('127.0.0.5');
    ok(open_for($other, 1), 'another member still gets a session');
    close $_ for @c, $other;
}

# ---- a trickling peer is cut off like a silent one
{
    my $c = client('127.0.0.1');
    print $c recon_config_frame(11371) . recon_str('passed');
    my $t0 = time;
    # an Elements frame of 1000 bytes, sent a byte at a time: it never
    # completes before the peer is cut off
    my $sel = IO::Select->new($c);
    my $cut = 0;
    my $bytes = pack('N', 1000) . "\x02" . ("\0" x 100);
    for my $i (0 .. length($bytes) - 1) {
        last if time - $t0 > 12;
        if (!defined syswrite($c, substr($bytes, $i, 1))) { $cut = 1; last }
        if ($sel->can_read(0.4)) {
            my $n = sysread($c, my $b, 65536);
            if (!$n) { $cut = 1; last }
        }
    }
    my $took = time - $t0;
    ok($cut, 'a peer trickling one byte every 0.4 s is cut off') or diag($A->log);
    cmp_ok($took, '<', 12, '  before it stops sending');
    close $c;
    ok(wait_for(5, sub { count_lines(qr/cut off: no complete message for 3 s, bytes trickling in/) == 1 }),
       'with a log line that says so')
        or diag($A->log);
}

# ---- fair admission: 8 peers hold all 16 slots; newcomers still get in
{
    my @fill = map { "127.0.0.$_" } 10 .. 17;
    $A->set_peers("127.0.0.1 $pA  # the test clients", "127.0.0.5 1",
                  map { "$_ 1" } @fill, '127.0.0.20 1', '127.0.0.21 1');
    sleep 1.2;                                  # a new mtime: re-read
    my @c;
    for my $ip (@fill) { for (1, 2) { push @c, client($ip); sleep 0.05 } }
    my @open = map { open_for($_, 0.5) } @c;
    is(scalar(grep { $_ } @open), 16, '8 peers hold all 16 slots');
    my $n1 = client('127.0.0.20');
    ok(open_for($n1, 1), 'a ninth peer still gets a session');
    ok(!open_for($c[0], 0.5), '  in the slot of the oldest session of a peer holding 2');
    ok(open_for($c[1], 0.2), '  that peer keeps its other session');
    my $n2 = client('127.0.0.21');
    ok(open_for($n2, 1), 'a tenth peer too');
    is(scalar(grep { open_for($_, 0.1) } @c), 14, '  in another peer\'s slot');
    ok(wait_for(3, sub { count_lines(qr/yields its slot to 127\.0\.0\.2[01] \(fair admission: every slot taken, its peer holds 2 of 16\)/) == 2 }),
       'one log line per yielded slot') or diag($A->log);
    close $_ for @c, $n1, $n2;
}

# ---- minimum progress: a tiny message inside every idle timeout is not enough
{
    my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                    Listen => 5, ReuseAddr => 1) or die "listen: $!";
    my $pP = $lsn->sockport;
    run_cmd([root() . '/build/reconsvc', 'import', '--db', "$T/dbB"]);
    my $B = start_recon(db => "$T/dbB", http_port => 11371, peers => ["127.0.0.1 $pP"],
        gossip => 1, args => ['--idle-timeout', 3, '--progress-time', 6]);
    my $sel = IO::Select->new($lsn);
    ok($sel->can_read(20), 'B connects to the slow peer');
    my $c = $lsn->accept;
    print $c recon_config_frame(11371) . recon_str('passed');
    my $t0 = time;
    my $cs = IO::Select->new($c);
    my $cut = 0;
    while (time - $t0 < 30) {
        # a Flush (a complete message, answered by nothing) every second
        if (!defined syswrite($c, recon_frame(6, ''))) { $cut = 1; last }
        my $until = time + 1;
        while (time < $until) {
            next unless $cs->can_read(0.1);
            my $n = sysread($c, my $b, 65536);
            if (!$n) { $cut = 1; last }
        }
        last if $cut;
    }
    my $took = time - $t0;
    ok($cut && $took < 25, sprintf('a peer sending a Flush every second is cut off (after %.1f s)', $took))
        or diag($B->log);
    ok(wait_for(5, sub { $B->log =~ /cut off: too little progress: 0 differences in \d+ s \(allowed: 6 s \+ \d+ ms per difference/ }),
       'with a log line that names the rule')
        or diag($B->log);
    unlike($B->log, qr/no complete message for/, 'the idle timeout never fired');
    $B->stop;
}
ok(SksPeer::port_listening($pA), 'the node still listens');

done_testing();
