#!/usr/bin/perl
# reconsvc's command line: --version at the top and on every command,
# --help per command (exit 0, that command's usage on stdout), a
# --listen port outside 1-65535 refused before anything starts (no
# database is created for it), `run` refusing a database that does not
# exist unless --create, and SIGHUP reopening the log (logrotate) while
# the daemon keeps running.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use SksPeer;
use POSIX qw(setsid _exit WNOHANG);
use Time::HiRes qw(sleep);
use IO::Socket::INET;

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
-x $RECONSVC or BAIL_OUT("$RECONSVC is not built (run ./build.sh)");

my @commands = qw(import dump pbuild check run);

my $r = run_cmd([$RECONSVC, '--version']);
is($r->{rc}, 0, '--version exits 0');
like($r->{out}, qr/^reconsvc \d+\.\d+\.\d+\n\z/, '--version prints "reconsvc X.Y.Z"');
my $version = $r->{out};

for my $c (@commands) {
    my $v = run_cmd([$RECONSVC, $c, '--version']);
    is($v->{rc}, 0, "$c --version exits 0");
    is($v->{out}, $version, "$c --version prints the same version");

    my $h = run_cmd([$RECONSVC, $c, '--help']);
    is($h->{rc}, 0, "$c --help exits 0");
    like($h->{out}, qr/^usage: reconsvc \Q$c\E --db DIR/, "$c --help shows its usage");
    is($h->{err}, '', "$c --help writes nothing to stderr");
}

$r = run_cmd([$RECONSVC, 'frobnicate']);
is($r->{rc}, 2, 'an unknown command exits 2');
like($r->{err}, qr/unknown command "frobnicate"/, 'and says which');

my $T = tmpdir();
for my $bad ('127.0.0.1:99999', '127.0.0.1:0', '127.0.0.1:', '127.0.0.1:11370x',
             '127.0.0.1:1.5', '127.0.0.1') {
    my $db = "$T/db-" . ($bad =~ s/\W/_/gr);
    my $b = run_cmd([$RECONSVC, 'run', '--db', $db, '--listen', $bad,
                     '--http-port', '11371', '--membership', '/dev/null'], timeout => 20);
    is($b->{rc}, 2, "--listen $bad is refused (exit 2)");
    like($b->{err}, qr/--listen/, "--listen $bad: the message names the option");
    ok(!-e $db, "--listen $bad: no database was created");
}

# A mistyped --db is refused: nothing is created, and the message says how
# to make one.
my $typo = "$T/no/such/db";
$r = run_cmd([$RECONSVC, 'run', '--db', $typo, '--listen', '127.0.0.1:1',
              '--http-port', '11371', '--membership', '/dev/null'], timeout => 20);
is($r->{rc}, 1, 'run --db of a missing database exits 1');
like($r->{err}, qr/no database at \Q$typo\E.*--create/, 'and says so, naming --create');
ok(!-e "$T/no", 'nothing was created for the mistyped path');


sub listening {
    my ($port) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return $c ? 1 : 0;
}

# --create makes an empty node; SIGHUP (logrotate's postrotate) reopens
# --log by name and the daemon keeps serving.
my $newdb = "$T/fresh";
my $log = "$T/recon.log";
my $port = SksPeer::free_port('127.0.0.1');
my $pid = fork() // die "fork: $!";
if (!$pid) {
    setsid();
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$T/stdout.log";
    open STDERR, '>>', "$T/stdout.log";
    { no warnings 'exec';
      exec $RECONSVC, 'run', '--db', $newdb, '--create', '--listen', "127.0.0.1:$port",
          '--http-port', '11371', '--membership', '/dev/null', '--gossip', '3600',
          '--log', $log; }
    _exit(127);
}
my $up = 0;
for (1 .. 100) {
    last if waitpid($pid, WNOHANG) == $pid;
    if (listening($port)) { $up = 1; last }
    sleep 0.1;
}
ok($up, 'run --create starts on a path with no database')
    or diag(slurp("$T/stdout.log") // '');
ok(-e "$newdb/data.mdb", 'and made the database');
SKIP: {
    skip 'daemon did not start', 4 unless $up;
    rename $log, "$log.1" or die "rename: $!";
    kill 'HUP', $pid;
    my $reopened = 0;
    for (1 .. 50) {
        if (-e $log && (slurp($log) // '') =~ /log reopened/) { $reopened = 1; last }
        sleep 0.1;
    }
    ok($reopened, 'SIGHUP: the log is reopened by name (a new file after rename)');
    like(slurp("$log.1") // '', qr/listening on/, 'the old lines stay in the rotated file');
    is(waitpid($pid, WNOHANG), 0, 'SIGHUP: the daemon is still running');
    ok(listening($port), 'SIGHUP: and still accepts connections');
}
kill 'TERM', $pid;
waitpid($pid, 0);
is($? >> 8, 0, 'SIGTERM: clean exit');
like(slurp($log) // '', qr/stopped/, 'the stop is logged in the new file');

done_testing();
