#!/usr/bin/perl
# reconsvc's command line: --version at the top and on every command,
# --help per command (exit 0, that command's usage on stdout), and a
# --listen port outside 1-65535 refused before anything starts (no
# database is created for it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

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

done_testing();
