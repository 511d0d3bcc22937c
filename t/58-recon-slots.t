#!/usr/bin/perl
# Recon session slots cannot be taken by one peer (issue 13 D3): a member
# opening many connections gets MAX_SESSIONS_PER_PEER (2) sessions, the
# rest are refused with a log line while another member still gets in; and
# a peer that trickles a frame one byte at a time is cut off after the idle
# timeout, as one that sends nothing is (bytes without a complete message
# are not progress).
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
ok(SksPeer::port_listening($pA), 'the node still listens');

done_testing();
