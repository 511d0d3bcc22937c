#!/usr/bin/perl
# Self-signature records left to the background fill (shared/store.h: the
# fill mark; reconsvc/selfsig_fill.c). `reconsvc import` of a keydump with
# only the sks profile writes no record: `reconsvc check` is clean and
# says records are pending, op=stats shows them, and every lookup under
# hkp_serve_policy clean answers what a database imported with
# `--selfsig now` answers. `reconsvc run` then writes them in the
# background: killed with -9 in the middle, it resumes from the cursor in
# the mark when started again; a key merged by /pks/add while the fill
# runs ends with a correct record; at the end the mark is gone, check is
# clean with no key without a record, op=stats says so, and the answers
# are still those of the reference database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep);
use HkpTest qw(:all);
use ReconTest qw(start_recon wait_for);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $GEN = "$ROOT/build/synth-keys";
plan skip_all => "$GEN not built (make)" unless -x $GEN;
my $T = tmpdir();
my $NSYNTH = 8000;

# the keydump: generated keys, then the fixtures of t/39 and others
my $g = run_cmd([$GEN, $NSYNTH, '--uids', '2', '--seed', 't66', '--fprs', "$T/synth.fpr"],
                timeout => 300);
is($g->{rc}, 0, "$NSYNTH keys generated") or BAIL_OUT($g->{err});
spew("$T/synth.pgp", $g->{out});
my @synth_fprs = grep { length } split /\s+/, slurp("$T/synth.fpr");
my @fixtures = ((map { "$DATA/serve/$_.pgp" } qw(signer other victim hard soft att alice)),
                map { "$DATA/$_" } qw(k1-ed25519.asc k2-rsa2048.asc k3-dupsig.asc
                                      k5-ed25519.asc debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc));
my @fix_fprs = map { my @b = dearmor(slurp($_)); key_fpr((split_keys($b[0][0]))[0]) } @fixtures;
my $K3 = 'F24511A38E1F7ADFD95D3952EA498F20AD79F7AC';   # k3-dupsig, merged below
# every fixture and every 100th generated key
my @fprs = (@fix_fprs, map { $synth_fprs[$_ * 100] } 0 .. int($#synth_fprs / 100));
my $NKEYS = $NSYNTH + @fixtures;

sub check { my ($db, @a) = @_; return run_cmd([$RECONSVC, 'check', '--db', $db, @a], timeout => 300) }
sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }

# op=get and op=vindex (mr) of each fingerprint, status and body
sub answers_at {
    my ($base) = @_;
    my %a;
    for my $f (@fprs) {
        for my $op ('get', 'vindex') {
            my $r = http_get("$base/pks/lookup?op=$op&options=mr&search=0x$f");
            $a{"$op $f"} = "$r->{status}\n$r->{content}";
        }
    }
    return \%a;
}
sub answers {
    my ($db) = @_;
    my $a = answers_at(start_nginx(db => $db));
    stop_nginx();
    return $a;
}
sub stats {
    my ($base) = @_;
    my $r = http_get("$base/pks/lookup?op=stats&options=mr");
    my $j = $r->{status} == 200 ? eval { JSON::PP->new->utf8->decode($r->{content}) } : undef;
    return $j && $j->{selfsigRecords};
}
sub upload {
    my ($base, $file) = @_;
    return http_req('POST', "$base/pks/add", { 'Content-Type' => 'application/x-www-form-urlencoded' },
                    'keytext=' . urlenc(slurp($file)));
}
sub same_answers {
    my ($got, $want, $what) = @_;
    my @diff = grep { ($got->{$_} // '') ne $want->{$_} } sort keys %$want;
    ok(!@diff && keys %$got == keys %$want, $what) or diag("differ: @diff[0 .. ($#diff < 4 ? $#diff : 4)]");
}

# ------------------------------------------------------------ the import
my $db = "$T/later";
my $imp = run_cmd([$RECONSVC, 'import', '--db', $db, "$T/synth.pgp", @fixtures], timeout => 600);
is($imp->{rc}, 0, 'import (default --selfsig auto, sks only)') or diag($imp->{err});
like($imp->{out}, qr/^read $NKEYS, new $NKEYS,/m, "$NKEYS keys stored");
like($imp->{err}, qr/self-signature records not written \(--selfsig later\)/, 'it says the records are left for later');

my $ref = "$T/now";
$imp = run_cmd([$RECONSVC, 'import', '--db', $ref, '--selfsig', 'now', "$T/synth.pgp", @fixtures], timeout => 600);
is($imp->{rc}, 0, 'the reference import, --selfsig now') or diag($imp->{err});
unlike($imp->{err}, qr/not written/, 'it writes the records');

my $c = check($db);
is($c->{rc}, 0, 'check is clean with the records pending') or diag($c->{out});
like($c->{out}, qr/^selfsig: $NKEYS keys without a record \(verified at lookup time\), 0 differences$/m,
     'no key has a record');
like($c->{out}, qr/^selfsig: records pending .*; 0 written so far, not begun$/m, 'check says they are pending');
$c = check($ref);
like($c->{out}, qr/^selfsig: 0 keys without a record .*, 0 differences$/m, 'the reference has every record');
unlike($c->{out}, qr/records pending/, 'and nothing pending');

my $want = answers($ref);
is(scalar(grep { /^200\n/ } values %$want), 2 * @fprs, 'the reference answers every lookup');
same_answers(answers($db), $want, 'without the records, every lookup under clean answers the same');

# a maintained profile that verifies every self-signature (hockeypuck):
# auto writes the records as keys are stored; later does not
{
    my $hp = run_cmd([$RECONSVC, 'import', '--db', "$T/hp", '--profiles', 'sks,hockeypuck', @fixtures]);
    is($hp->{rc}, 0, 'import --profiles sks,hockeypuck') or diag($hp->{err});
    like(check("$T/hp")->{out}, qr/^selfsig: 0 keys without a record .*, 0 differences$/m,
         'with the hockeypuck profile, auto writes every record');
    $hp = run_cmd([$RECONSVC, 'import', '--db', "$T/hp-later", '--profiles', 'sks,hockeypuck',
                   '--selfsig', 'later', @fixtures]);
    is($hp->{rc}, 0, 'import --profiles sks,hockeypuck --selfsig later') or diag($hp->{err});
    my $n = @fixtures;
    like(check("$T/hp-later")->{out}, qr/^selfsig: $n keys without a record .*, 0 differences$/m,
         '--selfsig later leaves them all');
    my $bad = run_cmd([$RECONSVC, 'import', '--db', "$T/bad", '--selfsig', 'soon', @fixtures]);
    is($bad->{rc}, 2, '--selfsig soon is refused');
    like($bad->{err}, qr/bad --selfsig \(auto, now or later\)/, 'with the choices');
}

# ------------------------------------------------------------ the fill, killed
my $base = start_nginx(db => $db);
my $s = stats($base);
ok($s && $s->{pending} && $s->{missing} == $NKEYS, "op=stats: pending, $NKEYS missing")
    or diag(explain($s));

my @run = (db => $db, http_port => 1, gossip => 1000, args => ['--profiles', 'sks']);
my $r = start_recon(@run);
my $mid = wait_for(120, sub {
    my $s = stats($base);
    return $s && $s->{pending} && ($s->{filled} // 0) > 0 && $s->{missing} > 0 ? $s : 0;
});
$r->kill9;
ok($mid, 'reconsvc run was filling (op=stats: filled > 0, missing > 0) when killed')
    or diag($r->log);
diag("killed at $mid->{filled} records, $mid->{missing} missing") if $mid;
like($r->log, qr/selfsig fill: $NKEYS stored keys without a self-signature record: writing them in the background \(pass 1\)/,
     'run logged the start of the fill');
$c = check($db);
is($c->{rc}, 0, 'check is clean after the kill -9') or diag($c->{out});
my ($left) = $c->{out} =~ /^selfsig: (\d+) keys without a record/m;
ok(defined $left && $left > 0 && $left < $NKEYS, "part of the records written (" . ($left // '?') . " left)");
like($c->{out}, qr/^selfsig: records pending .*; [1-9]\d* written so far$/m, 'the mark kept its progress');

# ------------------------------------------------------------ resumed, a key changed meanwhile
$r = start_recon(@run);
my $up = upload($base, "$DATA/k3-ed25519.asc");
is($up->{status}, 200, '/pks/add of k3-ed25519 (merged into k3-dupsig) while the fill runs');
$s = stats($base);
ok($s && $s->{pending}, 'the fill was still pending after the upload') or diag(explain($s));
my $done = wait_for(300, sub { my $s = stats($base); return $s && !$s->{pending} ? $s : 0 });
ok($done, 'the fill finished') or diag($r->log);
is($done && $done->{missing}, 0, 'op=stats: no key without a record, nothing pending');
like($r->log, qr/selfsig fill: .*\(pass 1, resumed\)/, 'the fill resumed pass 1 from its cursor');
like($r->log, qr/selfsig fill: done: \d+ records written in [\d.]+ s .*; 0 keys without one left/,
     'and logged its end');
is($r->stop, 0, 'reconsvc run stops');
$c = check($db);
is($c->{rc}, 0, 'check is clean after the fill') or diag($c->{out});
like($c->{out}, qr/^selfsig: 0 keys without a record \(verified at lookup time\), 0 differences$/m,
     'every key has its record, each agrees with its signatures');
unlike($c->{out}, qr/records pending/, 'the mark is gone');
my $after = answers_at($base);
stop_nginx();

# the reference with the same upload
{
    my $b2 = start_nginx(db => $ref);
    is(upload($b2, "$DATA/k3-ed25519.asc")->{status}, 200, 'the same upload into the reference');
    $want = answers_at($b2);
    stop_nginx();
}
isnt($want->{"get $K3"}, undef, 'the merged key is answered');
same_answers($after, $want, 'with the filled records every lookup answers as the reference');

done_testing();
