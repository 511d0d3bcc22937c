#!/usr/bin/perl
# Where `reconsvc import` creates a database, and whose it is (issue 11
# item 2): only in an existing directory or one level below an existing
# one, saying so; a whole missing path (a mistyped --db) is refused and
# nothing is created. A database whose lock.mdb or data.mdb belongs to
# another user is refused with a message naming the file, its owner and
# the user this process runs as (run as nobody where the tests run as
# root). Also the durability modes: a database import creates while no one
# else has it open is written without a sync per batch and says nothing of
# it; once nginx opens it meanwhile the import says so and syncs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use POSIX qw(WNOHANG);

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
-x $RECONSVC or BAIL_OUT("$RECONSVC is not built (run ./build.sh)");
my $K1 = "$ROOT/t/data/k1-ed25519.asc";
my $T = tmpdir();

sub import_db { run_cmd([$RECONSVC, 'import', '--db', @_], timeout => 120) }

# an existing, empty directory
mkdir "$T/empty";
my $r = import_db("$T/empty", $K1);
is($r->{rc}, 0, 'an existing empty directory: exit 0') or diag $r->{err};
like($r->{err}, qr/creating a new database in \Q$T\E\/empty/, '... says it creates a new database');
ok(-f "$T/empty/data.mdb", '... data.mdb made');

# one level below an existing directory
$r = import_db("$T/new", $K1);
is($r->{rc}, 0, 'one level below an existing directory: exit 0') or diag $r->{err};
like($r->{err}, qr/created \Q$T\E\/new for a new database/, '... says it made the directory');
ok(-f "$T/new/data.mdb", '... data.mdb made');

# an existing database: nothing said about creating
$r = import_db("$T/new", "$ROOT/t/data/k3-ed25519.asc");
is($r->{rc}, 0, 'the existing database: exit 0');
unlike($r->{err}, qr/creat/, '... nothing created, nothing said');

# a whole missing path
$r = import_db("$T/no/such/db", $K1);
is($r->{rc}, 1, 'a path two levels below anything existing: exit 1');
like($r->{err}, qr/neither \Q$T\E\/no\/such\/db nor its parent \Q$T\E\/no\/such exists/,
     '... names the path and its parent');
like($r->{err}, qr/mistyped/, '... and suggests a typo');
ok(!-e "$T/no", '... nothing created');

# --db naming a file
spew("$T/afile", "x");
$r = import_db("$T/afile", $K1);
is($r->{rc}, 1, '--db naming a file: exit 1');
like($r->{err}, qr/is not a directory/, '... says so');

# a database of another user
SKIP: {
    skip 'not root: cannot run as another user here', 4 unless $> == 0;
    skip 'runuser missing', 4 unless have_cmd('runuser');
    my $db = "$T/rootdb";
    $r = import_db($db, $K1);
    is($r->{rc}, 0, 'a database made by root');
    chmod 0644, "$db/lock.mdb", "$db/data.mdb";
    chmod 0755, $db;
    chmod 0644, $K1 if !-r $K1;
    $r = run_cmd(['runuser', '-u', 'nobody', '--', $RECONSVC, 'import', '--db', $db, $K1],
                 timeout => 60);
    is($r->{rc}, 1, 'import by nobody into root\'s database: exit 1');
    like($r->{err}, qr/Permission denied: \Q$db\E\/lock\.mdb belongs to user root \(uid 0, mode 644\), this process runs as user nobody \(uid 65534\)/,
         '... names the file, its owner and this user') or diag $r->{err};
    $r = run_cmd(['runuser', '-u', 'nobody', '--', $RECONSVC, 'check', '--db', $db], timeout => 60);
    like($r->{err}, qr/lock\.mdb belongs to user root/, 'check says the same') or diag $r->{err};
}

# durability: a new database, then nginx opens it while the import runs.
# The import reads its keys from a pipe: it has the environment open (no
# one else has) and waits; nginx opens it; then the keys come.
{
    my $db = "$T/live";
    mkdir $db;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        close $wr;
        open STDIN, '<&', $rd or exit 126;
        open STDOUT, '>', "$T/live.out";
        open STDERR, '>', "$T/live.err";
        { no warnings 'exec'; exec $RECONSVC, 'import', '--db', $db, '-'; }
        exit 127;
    }
    close $rd;
    my $deadline = time + 20;
    select undef, undef, undef, 0.05 until -s "$db/data.mdb" || time > $deadline;
    my $base = start_nginx(db => $db);
    my $st = 0;
    while (time < $deadline) {                # nginx opens it (retried every second)
        $st = http_get('/pks/lookup?op=stats')->{status};
        last if $st == 200;
        select undef, undef, undef, 0.1;
    }
    is($st, 200, 'nginx has the new database open');
    print $wr slurp($K1), slurp("$ROOT/t/data/k3-ed25519.asc");
    close $wr;
    waitpid($pid, 0);
    my $err = slurp("$T/live.err") // '';
    like($err, qr/creating a new database/, 'a new database: the import says so');
    like($err, qr/open in another process now: synced commits from here on/,
         'nginx opened it meanwhile: the import syncs from then on') or diag $err;
    like(slurp("$T/live.out") // '', qr/^read 2, new 2/m, '... and completes');
    stop_nginx($base);
}

done_testing;
