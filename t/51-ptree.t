#!/usr/bin/perl
# The recon prefix tree kept by reconsvc import, checked with
# `reconsvc check` and rebuilt with `reconsvc pbuild`:
#   - debian-keyring + k1..k8 (913 keys): check passes; the root svalues
#     equal the root ReconRqst_Poly captured from SKS 1.1.6 for the same
#     913 keys (doc/recon.md 8); node "0000" holds 75 (SKS's Full had 75);
#     69 nodes, as in SKS's PTree;
#   - pbuild, then check passes, same root;
#   - a merge (k3-dupsig then k3) replaces the element;
#   - kill -9 of an import midway (0.3 s after its first commit): check
#     still passes (LMDB commits are
#     atomic; the tree changes of a batch are in the batch's commit), and
#     a re-run completes it.
use strict;
use warnings;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use lib dirname(__FILE__) . '/lib';
use HkpTest qw(root tmpdir run_cmd slurp have_cmd);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $root = root();
my $bin = $ENV{HKP_RECONSVC} || "$root/build/reconsvc";
-x $bin or plan skip_all => "$bin not built";
my $keyring = $ENV{HKP_DEBIAN_KEYRING} // '/usr/share/keyrings/debian-keyring.gpg';
-r $keyring or plan skip_all => "$keyring missing";
my $data = "$root/t/data";
my $tmp = tmpdir();

sub reconsvc { return run_cmd([$bin, @_], timeout => 600) }

# SKS's root svalues for debian-keyring 2022.12.24 + k1..k8
# (vectors/sks-captures.txt).
my @sks_root = qw(
    2d0d072aa08b50e786795e1bcdc3d1a900
    c6539d205ef1b3b9fcd2dff7a2502c8b00
    20e7698e381588f23bd468e18a6f9eb300
    ec780e7aab79516c964861665be47e1f00
    222766a838343a65a063734bdb857e0d01
    8e23c78d5ddeafd14a63132d8923e75600
);

sub node_info {
    my ($db, $bits) = @_;
    my $r = reconsvc('check', '--db', $db, '--node', $bits);
    return undef if $r->{rc} != 0;
    my %n;
    ($n{count}, $n{kind}) = $r->{out} =~ /count (\d+), (leaf|internal)/;
    $n{sv} = [ $r->{out} =~ /^svalue \d (\S+)$/mg ];
    $n{elems} = [ $r->{out} =~ /^element (\S+)$/mg ];
    return \%n;
}

sub check_ok {
    my ($db, $name) = @_;
    my $r = reconsvc('check', '--db', $db);
    ok($r->{rc} == 0 && $r->{out} =~ /^ok: (\d+) keys, (\d+) tree nodes, 0 differences$/m,
        "$name: reconsvc check passes") or diag("rc $r->{rc}\n$r->{out}$r->{err}");
    my ($k, $n) = $r->{out} =~ /(\d+) keys, (\d+) tree nodes/;
    return ($k // -1, $n // -1);
}

# ---- debian-keyring + k1..k8
my $db = "$tmp/db913";
my @k = map { "$data/$_" } qw(k1-ed25519.asc k2-rsa2048.asc k3-ed25519.asc
    k4-ed25519.asc k5-ed25519.asc k6-ed25519.asc k7-ed25519.asc k8-ed25519.asc);
my $r = reconsvc('import', '--db', $db, $keyring, @k);
is($r->{rc}, 0, 'import debian-keyring + k1..k8') or diag($r->{err});
like($r->{out}, qr/^read 913, new 913/m, '913 new keys');
my ($nk, $nn) = check_ok($db, 'after import');
is($nk, 913, '913 keys');
is($nn, 69, '69 tree nodes (as in SKS 1.1.6 PTree for this set)');
my $rootn = node_info($db, 'root');
ok($rootn && $rootn->{count} == 913 && $rootn->{kind} eq 'internal', 'root: 913, internal');
is_deeply($rootn && $rootn->{sv}, \@sks_root, 'root svalues = SKS 1.1.6 root ReconRqst_Poly');
my $n0 = node_info($db, '0000');
is($n0 && $n0->{count}, 75, 'node 0000 holds 75 elements (SKS sent a 75-element Full)');
my $below = reconsvc('check', '--db', $db, '--node', '00000000000000000000');
is($below->{rc}, 1, 'a node below a leaf does not exist');

# ---- pbuild
$r = reconsvc('pbuild', '--db', $db);
ok($r->{rc} == 0 && $r->{out} =~ /prefix tree rebuilt: 913 keys, 69 nodes/,
    'pbuild') or diag("$r->{out}$r->{err}");
check_ok($db, 'after pbuild');
is_deeply(node_info($db, 'root')->{sv}, \@sks_root, 'root svalues unchanged by pbuild');
$r = reconsvc('pbuild', '--db', "$tmp/nonexistent");
isnt($r->{rc}, 0, 'pbuild of a missing database fails');
$r = reconsvc('check');
is($r->{rc}, 2, 'check without --db: usage (2)');

# ---- merge: the old element leaves the tree
my $dbm = "$tmp/dbmerge";
$r = reconsvc('import', '--db', $dbm, "$data/k3-dupsig.asc");
is($r->{rc}, 0, 'import k3-dupsig');
is_deeply(node_info($dbm, 'root')->{elems}, ['39B1F79DC69266314C6AD3ED3A5F06BF'],
    'tree holds 39B1F79D...');
$r = reconsvc('import', '--db', $dbm, "$data/k3-ed25519.asc");
like($r->{out}, qr/merged 1/, 'import k3: merged');
is_deeply(node_info($dbm, 'root')->{elems}, ['84D77DC5D86163BC803AD2CD5C789E99'],
    'tree holds 84D77DC5... only (doc/recon.md 1.4)');
check_ok($dbm, 'after the merge');

# ---- kill -9 midway through an import
SKIP: {
    my $synth;
    for my $f ("$root/build/bench/synth-30000-u2.pgp", "$root/build/t/synth-20000.pgp") {
        if (-s $f) { $synth = $f; last }
    }
    if (!$synth) {
        skip 'python3-cryptography missing: no synthetic keys', 6
            if system('/usr/bin/python3 -c "import cryptography" 2>/dev/null') != 0;
        mkdir "$root/build/t";
        my $out = "$root/build/t/synth-20000.pgp";
        my $g = run_cmd(['/usr/bin/python3', "$root/bench/synth-keys.py", '20000'],
                        timeout => 900);
        skip "synth-keys.py failed: $g->{err}", 6 if $g->{rc} != 0;
        open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!";
        print $fh $g->{out};
        close $fh or die;
        rename "$out.tmp", $out or die;
        $synth = $out;
    }
    my $dbk = "$tmp/dbkill";
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { no warnings 'exec'; exec { $bin } $bin, 'import', '--db', $dbk, $synth; }
        POSIX::_exit(127);
    }
    # kill midway: once the first batch is committed (keys has entries
    # for a reader; without mdb_stat: data.mdb has grown), then 0.3 s
    # later, in the middle of a later batch
    my $t0 = time;
    my $gone = 0;
    my $stat = have_cmd('mdb_stat');
    while (time - $t0 < 120) {
        if (waitpid($pid, WNOHANG) == $pid) { $gone = 1; last }
        if ((-s "$dbk/data.mdb" // 0) > 2 * 1024 * 1024) {
            last unless $stat;
            my $s = run_cmd(['mdb_stat', '-s', 'keys', $dbk]);
            last if $s->{rc} == 0 && $s->{out} =~ /Entries: ([1-9]\d*)/;
        }
        sleep 0.05;
    }
    sleep 0.3 unless $gone;
    $gone ||= waitpid($pid, WNOHANG) == $pid;
    kill 'KILL', $pid unless $gone;
    waitpid($pid, 0) unless $gone;
    ok(!$gone, sprintf('import killed with SIGKILL after %.1f s', time - $t0));
    my ($kk) = check_ok($dbk, 'after kill -9');
    ok($kk > 0 || $gone, "$kk keys were committed before the kill");
    $r = reconsvc('import', '--db', $dbk, $synth);
    is($r->{rc}, 0, 're-run of the import completes') or diag($r->{err});
    my ($k2) = check_ok($dbk, 'after the re-run');
    cmp_ok($k2, '>=', 20000, "$k2 keys in the end");
}

done_testing();
