#!/usr/bin/perl
# kill -9 regression loops (issue 13; issue 9 item 2's crash safety).
#
# import: `reconsvc import` of 20000 keys (batches of 1000) into the live
# database (nginx serving it) is killed with SIGKILL at random points
# inside its run, six times; after
# each, `reconsvc check` is clean, nginx still answers, and the stored
# count never goes back (committed batches stay). A last run completes and
# every key is there.
# /pks/add: clients upload keys one by one (several at once) while the
# whole nginx (master and workers) is killed with SIGKILL at a random
# point, three times; every key whose upload was answered 200 is found
# after a restart, and `reconsvc check` is clean.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HTTP::Tiny;
use POSIX qw(setsid _exit WNOHANG);
use Time::HiRes qw(sleep time);
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
my $T = tmpdir();
my $JSON = JSON::PP->new;
srand($ENV{HKP_KILL_SEED} // time);

sub check_db {             # db -> (rc, "ok: N keys, ..." line, keys)
    my ($db) = @_;
    my $r = run_cmd([$RECONSVC, 'check', '--db', $db], timeout => 120);
    my ($line) = $r->{out} =~ /^((?:ok|FAILED): (\d+) keys.*)$/m;
    my ($n) = ($line // '') =~ /: (\d+) keys/;
    return ($r->{rc}, $line // "$r->{out}$r->{err}", $n // -1);
}

# ------------------------------------------------------------------ import

my $synth;
for my $f ("$ROOT/build/t/synth-20000.pgp") { $synth = $f if -s $f }
SKIP: {
    if (!$synth) {
        my $out = "$ROOT/build/t/synth-20000.pgp";
        my $gen = -x "$ROOT/build/synth-keys" ? ["$ROOT/build/synth-keys"]
                : ['/usr/bin/python3', "$ROOT/bench/synth-keys.py"];
        my $g = run_cmd([@$gen, '20000'], timeout => 900);
        skip "synth-keys.py failed: $g->{err}", 1 if $g->{rc} != 0;
        spew("$out.$$", $g->{out});
        rename "$out.$$", $out;
        $synth = $out;
    }
    my $db = "$T/db-import";
    import_keys($db, "$DATA/k1-ed25519.asc");
    my $base = start_nginx(db => $db);
    my $K1 = key_fpr(parse_packets((dearmor(slurp("$DATA/k1-ed25519.asc")))[0][0]));
    # how long a whole import takes here, to kill inside it
    my $t0 = time;
    my $full = run_cmd([$RECONSVC, 'import', '--db', "$T/db-timing", '--batch', '1000', $synth],
                       timeout => 300);
    my $dur = time - $t0;
    is($full->{rc}, 0, sprintf('a whole import takes %.2f s here', $dur));
    my $last = 1;
    for my $round (1 .. 6) {
        my $pid = fork() // die "fork: $!";
        if (!$pid) {
            setsid();
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', "$T/import-$round.err";
            { no warnings 'exec'; exec $RECONSVC, 'import', '--db', $db, '--batch', '1000', $synth; }
            _exit(127);
        }
        my $wait = $dur * (0.1 + rand(0.8));
        sleep $wait;
        kill 'KILL', $pid;
        waitpid($pid, 0);
        my ($rc, $line, $n) = check_db($db);
        is($rc, 0, sprintf('import killed after %.2f s: check clean (%s)', $wait, $line));
        cmp_ok($n, '>=', $last, "... $n keys, none lost (was $last)");
        $last = $n if $n > $last;
        is(http_get("/pks/lookup?op=get&options=mr&search=0x$K1")->{status}, 200,
           '... nginx still serves the db');
    }
    my $r = run_cmd([$RECONSVC, 'import', '--db', $db, $synth], timeout => 300);
    is($r->{rc}, 0, 'a last import completes') or diag $r->{err};
    my ($rc, $line, $n) = check_db($db);
    is($rc, 0, "check clean ($line)");
    is($n, 20001, 'every key is there');
    stop_nginx($base);

    # A new database (MDB_WRITEMAP, no fsync, then the repacking copy
    # moved into place): killed anywhere, also inside the copy, it is a
    # usable database (or none yet), and compact + a rerun finish it.
    like($full->{err}, qr/repacked \Q$T\E\/db-timing: \d+ records/, 'a new database is repacked at the end');
    ok(!-e "$T/db-timing/repack.mdb", '... and the copy is moved into place');
    my $K0 = run_cmd([-x "$ROOT/build/synth-keys" ? "$ROOT/build/synth-keys"
                      : ('/usr/bin/python3', "$ROOT/bench/synth-keys.py"), '1', '--fprs', "$T/k0.fpr"]);
    chomp(my $F0 = slurp("$T/k0.fpr") // '');
    like($F0, qr/^[0-9A-F]{40}$/, "fingerprint of the first generated key ($F0)");
    for my $round (1 .. 4) {
        my $new = "$T/db-new-$round";
        my $pid = fork() // die "fork: $!";
        if (!$pid) {
            setsid();
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', "$T/import-new-$round.err";
            { no warnings 'exec'; exec $RECONSVC, 'import', '--db', $new, $synth; }
            _exit(127);
        }
        # the last rounds late: inside the repacking copy or just before
        my $wait = $round <= 2 ? $dur * (0.1 + rand(0.7)) : $dur * (0.8 + rand(0.25));
        sleep $wait;
        kill 'KILL', $pid;
        waitpid($pid, 0);
        my $early = 1;          # killed before the database was made
        if (-e "$new/data.mdb") {
            my ($rc, $line, $n) = check_db($new);
            $early = $line =~ /never initialised/;
            ok($rc == 0 || $early,
               sprintf('new db, import killed after %.2f s: check clean (%s)', $wait, $line));
        } else {
            pass(sprintf('new db, import killed after %.2f s: no database yet', $wait));
        }
        my $c = run_cmd([$RECONSVC, 'compact', '--db', $new], timeout => 120);
        ok($c->{rc} == 0 || $early, '... reconsvc compact runs on it') or diag $c->{err};
        ok(!-e "$new/repack.mdb", '... and leaves no partial copy');
        $r = run_cmd([$RECONSVC, 'import', '--db', $new, $synth], timeout => 300);
        is($r->{rc}, 0, '... a rerun completes') or diag $r->{err};
        my ($rc, $line, $n) = check_db($new);
        is($rc, 0, "... check clean ($line)");
        is($n, 20000, '... every key is there');
    }
    start_nginx(db => "$T/db-new-4");
    my $g = http_get("/pks/lookup?op=get&options=mr&search=0x$F0");
    is($g->{status}, 200, 'nginx serves the repacked database');
    stop_nginx();
}

# ------------------------------------------------------------------ /pks/add bursts

SKIP: {
    skip "$KEYRING missing", 1 unless -s $KEYRING;
    my @keys = map { packets_bin($_) } split_keys(slurp($KEYRING));
    my $db = "$T/db-add";
    import_keys($db, "$DATA/k1-ed25519.asc");
    my $next = 0;
    my %acked;                               # fingerprint => 1
    my $CLIENTS = 4;
    for my $round (1 .. 3) {
        my $base = start_nginx(db => $db, workers => 2);
        my $port = port();
        my @kids;
        for my $c (0 .. $CLIENTS - 1) {
            my @mine = grep { $_ % $CLIENTS == $c } $next .. $next + 159;
            my $pid = fork() // die "fork: $!";
            if (!$pid) {
                my $ua = HTTP::Tiny->new(timeout => 10);
                open my $log, '>', "$T/acked-$round-$c" or _exit(1);
                $log->autoflush(1);
                for my $i (@mine) {
                    last if $i >= @keys;
                    my $r = $ua->request('POST', "http://127.0.0.1:$port/pks/add?options=mr",
                        { headers => { 'Content-Type' => 'application/pgp-keys' },
                          content => $keys[$i] });
                    next unless $r->{status} == 200;
                    print $log "$i\n";
                }
                _exit(0);
            }
            push @kids, $pid;
        }
        my $wait = 0.3 + rand(1.5);
        sleep $wait;
        my $master = (slurp(nginx_prefix() . '/nginx.pid') // '') =~ /(\d+)/ ? $1 : 0;
        ok($master, "round $round: nginx master $master");
        kill 'KILL', -$master, $master if $master;    # master and workers
        waitpid($_, 0) for @kids;
        stop_nginx($base);
        my $n = 0;
        for my $c (0 .. $CLIENTS - 1) {
            for my $i (split /\n/, slurp("$T/acked-$round-$c") // '') {
                $acked{key_fpr(parse_packets($keys[$i]))} = 1;
                $n++;
            }
        }
        note sprintf('round %d: killed after %.2f s, %d uploads acknowledged', $round, $wait, $n);
        my ($rc, $line) = check_db($db);
        is($rc, 0, "round $round: check clean after kill -9 ($line)");
        $next += 160;
    }
    my $base = start_nginx(db => $db);
    my @missing = grep { http_get("/pks/lookup?op=get&options=mr&search=0x$_")->{status} != 200 } sort keys %acked;
    ok(scalar(keys %acked) > 0, scalar(keys %acked) . ' uploads acknowledged over the rounds');
    is(scalar @missing, 0, 'every acknowledged key is stored') or diag "missing: @missing[0 .. 9]";
    stop_nginx($base);
}

done_testing;
