#!/usr/bin/perl
# A hostile member's /pks/hashquery replies (issue 13, D1b).
#   V 127.0.0.1: ours, 5300 keys, nginx serving its db; gossips every second
#   H 127.0.0.7: scripted here. When V connects, H sends ReconRqst_Full at
#     the root with NFAKE hashes no server has plus the hashes of two real
#     keys (k1, k2); its HTTP server answers every hashquery with the real
#     keys asked for (each repeated), plus REPLY_EXTRA copies of four keys V
#     never asked for, and holds each reply until the test says go (a slow
#     peer: V's fetch from H stays in progress meanwhile).
#   G 127.0.0.5: ours, 300 of V's keys; gossips with V every 0.5 s.
# While V's fetch from H is in progress, G's sessions with V are served and
# G fetches the 5000 keys it lacks from V. Afterwards V holds k1 and k2 and
# none of the keys it did not ask for; one log line per reply says how many
# were dropped, and the replies were stored in several slices each.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'mdb_dump not installed' unless have_cmd('mdb_dump');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

$SIG{PIPE} = 'IGNORE';
my $NFAKE = 1500;                 # 16 requests of 100 (FETCH_BATCH)
my $REPLY_EXTRA = 800;            # unrequested keys in each reply
my $HOLD_MAX = 150;               # s: the longest H holds its replies
my $T = tmpdir();
my $D = root() . '/t/data';

sub bin_key { my ($k) = dearmor(slurp("$D/$_[0]")); return $k->[0] }
my %real = ('50ED94C61884E160D6F8C91DA546C429' => bin_key('k1-ed25519.asc'),
            'B01DB9A46CE7264D3DCD64479010D335' => bin_key('k2-rsa2048.asc'));
my %unasked = ('B4453EAFA31FA69F081C0E647F32B6E3' =>
                   bin_key('debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc'),
               '7934B4A7E7EF834E680A4A899536CDC0' => bin_key('k5-ed25519.asc'),
               '2108FA6CB90EEFB0C527AD6CA06F840A' => bin_key('k6-ed25519.asc'),
               '24AD9C8DCFDBEA5C0CCC0054CB24ECFC' => bin_key('k7-ed25519.asc'));
my @extra = map { $unasked{$_} } sort keys %unasked;

my ($base_f, $extra_f) = fixture_keys();
my ($dbV, $dbG) = ("$T/dbV", "$T/dbG");
import_keys($dbV, $base_f, $extra_f);
import_keys($dbG, $base_f);
my @v0 = db_hashes($dbV);
is(scalar @v0, 5300, 'V has 5300 keys');

# ---- H's HTTP server (a child): holds each reply until $go exists
my $go = "$T/go";
my $hlog = "$T/h-http.log";
my $hhttp = IO::Socket::INET->new(LocalAddr => '127.0.0.7', LocalPort => 0, Proto => 'tcp',
                                  Listen => 16, ReuseAddr => 1) or die "listen: $!";
my $httpH = $hhttp->sockport;
my $hpid = fork() // die "fork: $!";
if (!$hpid) {
    my $t_first;
    while (my $c = $hhttp->accept) {
        my $req = '';
        while ($req !~ /\r\n\r\n/s) { my $n = sysread($c, $req, 65536, length $req); last unless $n }
        my ($clen) = $req =~ /content-length:\s*(\d+)/i;
        my $body = (split /\r\n\r\n/, $req, 2)[1] // '';
        while (length $body < ($clen // 0)) { my $n = sysread($c, $body, 65536, length $body); last unless $n }
        $t_first //= time;
        sleep 0.2 while !-e $go && time < $t_first + $HOLD_MAX;
        my $n = unpack('N', $body);
        my @keys;
        for my $i (0 .. $n - 1) {
            my $h = uc unpack('H*', substr($body, 4 + 20 * $i + 4, 16));
            push @keys, ($real{$h}) x 3 if $real{$h};
        }
        push @keys, $extra[$_ % @extra] for 0 .. $REPLY_EXTRA - 1;
        my $reply = pack('N', scalar @keys) . join('', map { pack('N', length $_) . $_ } @keys) . "\r\n";
        print $c "HTTP/1.0 200 OK\r\ncontent-length: " . length($reply) . "\r\n\r\n" . $reply;
        close $c;
        open my $l, '>>', $hlog; print $l "request of $n hashes at " . time . "\n"; close $l;
    }
    _exit(0);
}
close $hhttp;

# ---- V and H's recon side
my $nginxV = start_nginx(db => $dbV);
my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.7', LocalPort => 0, Proto => 'tcp',
                                Listen => 5, ReuseAddr => 1) or die "listen: $!";
my $pH = $lsn->sockport;
my $pG = SksPeer::free_port('127.0.0.5');
my $V = start_recon(db => $dbV, http_port => port($nginxV), peers => ["127.0.0.7 $pH"],
    gossip => 1);
my $pV = $V->port;


srand(20261203);
my @set = map { pack('H*', $_) . "\0" } sort keys %real;
push @set, pack('N4', map { int(rand(2**32)) } 1 .. 4) . "\0" for 1 .. $NFAKE;
my $NSET = scalar @set;
{
    my $sel = IO::Select->new($lsn);
    ok($sel->can_read(20), 'V gossips to H');
    my $c = $lsn->accept;
    my ($verdict, $buf) = recon_handshake($c, $httpH);
    is($verdict, 'passed', 'V passes H\'s Config');
    my $full = pack('NN', 0, 0) . pack('N', $NSET) . join('', @set);
    print $c recon_frame(1, $full) . recon_frame(6, '');
    is(recon_read_until_type($c, \$buf, 2, 20), 2, 'V answers the full request with its Elements');
    print $c recon_frame(5, '');
    my $sel2 = IO::Select->new($c);
    my $deadline = time + 20;
    while (time < $deadline) { next unless $sel2->can_read(0.2); last unless sysread($c, my $x, 65536) }
    close $c;
}

# ---- G reconciles with V while V's fetch from H is in progress
$V->set_peers("127.0.0.7 $pH", "127.0.0.5 $pG");
my $t0 = time;
my $G = start_recon(db => $dbG, http_port => 9, addr => '127.0.0.5', port => $pG,
    peers => ["127.0.0.1 $pV"], gossip => 0.5);
my $want = join ',', @v0;
my $conv = wait_for(120, sub { join(',', db_hashes($dbG)) eq $want });
my $dt = time - $t0;
ok($conv, sprintf('G fetched the 5000 keys it lacked from V in %.1f s', $dt))
    or diag("G log:\n" . $G->log . "\nV log:\n" . $V->log);
unlike($V->log, qr/session peer=127\.0\.0\.7:\d+ .*fetched=/,
       'while V\'s fetch from H was still in progress');
unlike($V->log, qr/refused recon connection from 127\.0\.0\.5/, 'G was never refused');
spew($go, "go\n");

# ---- V's fetch from H is over: only what was asked for is stored
ok(wait_for(120, sub { $V->log =~ /session peer=127\.0\.0\.7:\d+ .*we_miss=$NSET .*outcome=ok/ }),
   'V\'s session with H is over, fetches included')
    or diag($V->log);
my %vh = map { $_ => 1 } db_hashes($dbV);
ok($vh{$_}, "V stored $_, which it asked for") for sort keys %real;
ok(!$vh{$_}, "V did not store $_, which it never asked for") for sort keys %unasked;
is(scalar keys %vh, 5302, 'V holds its 5300 keys and the two it asked for');
my $nreq = () = (slurp($hlog) // '') =~ /^request of/mg;
my @lines = $V->log =~ /^.*fetch from 127\.0\.0\.7:\d+: reply to \d+ hashes held \d+ keys: .*$/mg;
is(scalar @lines, $nreq, "one summary line per reply ($nreq)");
my $total = 0;
for (@lines) { $total += $1 if /dropped (\d+) not asked for/ }
is($total, $nreq * $REPLY_EXTRA, 'each counts the keys dropped that were not asked for');
ok((grep { /held (\d+) keys: (\d+) stored in (\d+) slices/ && $3 > 1 } @lines) == @lines,
   'each reply was stored in several slices') or diag(join "\n", @lines);
like(join("\n", @lines), qr/and 2 repeats of a key already given/, 'repeats of a key asked for are dropped too');

is($G->stop, 0, 'G stopped');
is($V->stop, 0, 'V stopped');
kill 'TERM', $hpid;
waitpid($hpid, 0);
stop_nginx($nginxV);
done_testing();
