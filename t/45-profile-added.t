#!/usr/bin/perl
# An environment made before the hash profiles (no ptree.hockeypuck,
# phash.hockeypuck, pkey.hockeypuck) gains the hockeypuck profile while
# nginx runs: `reconsvc run` (default --profiles sks,hockeypuck) makes its
# databases and builds its tree. nginx notices without a restart
# (hkp_db_profiles_refresh, store.h):
#   - the next /pks/add is stored and enters the hockeypuck tree too (it
#     used to answer HKP_EPROFILE until nginx was restarted)
#   - /pks/hashquery answers hockeypuck hashes of keys stored before and
#     after
#   - `reconsvc check` finds every tree consistent with the keys
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use ReconTest qw(:all);
use File::Path qw(make_path);

plan skip_all => 'mdb_dump/mdb_load not installed'
    unless have_cmd('mdb_dump') && have_cmd('mdb_load');

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $DATA = "$ROOT/t/data";
my $photo = "$DATA/hockeypuck-2.2/hostile/02-photo.pgp";     # hashes differ
my $T = tmpdir();

sub hash_line { my @a = @_; my $r = run_cmd([$RECONSVC, 'hash', @a]); return (split / /, $r->{out})[0] }
sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }
sub add {
    my ($base, $file) = @_;
    my $text = slurp($file);
    $text = enarmor($text) unless $text =~ /-----BEGIN PGP/;
    return http_req('POST', "$base/pks/add",
        { 'Content-Type' => 'application/x-www-form-urlencoded' }, 'keytext=' . urlenc($text));
}
sub hq {
    my ($base, $h) = @_;
    my $r = http_req('POST', "$base/pks/hashquery", {}, pack('N', 1) . pack('N', 16) . pack('H*', $h));
    return length($r->{content}) > 8 ? substr($r->{content}, 8, unpack('N', substr($r->{content}, 4, 4))) : '';
}
sub hp_of_bytes { my ($b) = @_; spew("$T/b.pgp", $b); return hash_line('--profile', 'hockeypuck', "$T/b.pgp") }

# the old environment: today's import, less the profile's three databases
my $db = "$T/db";
{
    my $new = "$T/new";
    import_keys($new, "$DATA/k1-ed25519.asc", $photo);
    my $d = run_cmd(['mdb_dump', '-a', $new]);
    is($d->{rc}, 0, 'mdb_dump -a');
    my @sec = grep { length } split /(?<=DATA=END\n)/, $d->{out};
    my @old = grep { !/^database=(\S+\.hockeypuck|sksout)$/m } @sec;
    is(scalar(@sec) - scalar(@old), 4, 'the three hockeypuck databases and sksout left out');
    spew("$T/old.dump", join '', @old);
    make_path($db);
    my $l = run_cmd(['mdb_load', '-f', "$T/old.dump", $db]);
    is($l->{rc}, 0, 'old environment loaded') or diag($l->{err});
    my $s = run_cmd(['mdb_stat', '-a', $db]);
    unlike($s->{out}, qr/hockeypuck/, 'it has no hockeypuck database');
}
my $base = start_nginx(db => $db);

my $k2 = "$DATA/k2-rsa2048.asc";
my $k4 = "$DATA/k4-ed25519.asc";
is(add($base, $k2)->{status}, 200, 'before: an upload is stored (sks only)');
my $hp_photo = hash_line('--profile', 'hockeypuck', $photo);
isnt($hp_photo, hash_line($photo), 'the photo key: hockeypuck hash differs from SKS\'s');
is(hq($base, $hp_photo), '', 'before: its hockeypuck hash is not known');

# reconsvc gives the environment the hockeypuck profile
{
    my $n = start_recon(db => $db, http_port => port($base), peers => []);
    ok(wait_for(30, sub { $n->log =~ /profiles: sks,hockeypuck \(trees built\)/ }),
       'reconsvc run: hockeypuck databases made, tree built') or diag($n->log);
    is($n->stop, 0, 'reconsvc stopped');
}

# nginx, not restarted
my $r = add($base, $k4);
is($r->{status}, 200, 'after: an upload is stored') or diag(substr($r->{content}, 0, 300));
unlike(nginx_error_log($base), qr/profile set unknown or incomplete/,
       'after: no profile error in nginx\'s log');
my $hp4 = hash_line('--profile', 'hockeypuck', $k4);
my $got = hq($base, $hp4);
is(length($got) ? hp_of_bytes($got) : 'nothing', $hp4,
   'after: hashquery by the new key\'s hockeypuck hash');
$got = hq($base, $hp_photo);
is(length($got) ? hp_of_bytes($got) : 'nothing', $hp_photo,
   'after: hashquery by the hockeypuck hash of a key stored before');
# a key the sks profile drops and the hockeypuck profile keeps (a user ID
# after the subkey: t/43-sks-refused.t) is now stored too: nginx opened
# the "sksout" database reconsvc made along with the profile's
my $dup = "$DATA/hockeypuck-2.2/hostile/11-dup-uid.pgp";
$r = add($base, $dup);
is($r->{status}, 200, 'after: 11-dup-uid is stored') or diag(substr($r->{content}, 0, 300));
$got = hq($base, '15C7830A6AAF2D4EE419EFC94E7FD56D');
is(length($got) ? hp_of_bytes($got) : 'nothing', '15C7830A6AAF2D4EE419EFC94E7FD56D',
   'after: hashquery by its hockeypuck hash (the vectors\' hash)');
my $c = run_cmd([$RECONSVC, 'check', '--db', $db], timeout => 120);
is($c->{rc}, 0, 'reconsvc check: every tree agrees with the keys') or diag($c->{out} . $c->{err});
like($c->{out}, qr/profile hockeypuck: 5 keys in its tree/, 'the hockeypuck tree has all 5 keys')
    or diag($c->{out});
like($c->{out}, qr/profile sks: 4 keys in its tree, 1 stored keys it drops, 0 differences/,
     'the sks tree has the other 4') or diag($c->{out});
stop_nginx($base);

# `reconsvc import --profiles LIST`: the set made first, the keys enter
# every tree of it
{
    my $db2 = "$T/db2";
    my $r = run_cmd([$RECONSVC, 'import', '--db', $db2, '--profiles', 'sks,hockeypuck',
                     "$DATA/k1-ed25519.asc", $photo]);
    is($r->{rc}, 0, 'import --profiles sks,hockeypuck') or diag($r->{err});
    my $c = run_cmd([$RECONSVC, 'check', '--db', $db2]);
    is($c->{rc}, 0, 'import --profiles: check clean') or diag($c->{out} . $c->{err});
    like($c->{out}, qr/profile hockeypuck: 2 keys in its tree/, 'import --profiles: both keys in the hockeypuck tree');
    $r = run_cmd([$RECONSVC, 'import', '--db', $db2, '--profiles', 'sks', "$DATA/k2-rsa2048.asc"]);
    is($r->{rc}, 0, 'import --profiles sks: the hockeypuck tree dropped');
    $c = run_cmd([$RECONSVC, 'check', '--db', $db2]);
    unlike($c->{out}, qr/profile hockeypuck/, 'import --profiles sks: no hockeypuck tree checked');
    $r = run_cmd([$RECONSVC, 'import', '--db', $db2, '--profiles', 'sks,hockeypuck',
                  '--verify-threads', 99, "$DATA/k2-rsa2048.asc"]);
    is($r->{rc}, 2, 'import --verify-threads over the bound: usage, exit 2');
    $r = run_cmd([$RECONSVC, 'import', '--db', $db2, '--profiles', 'sks,nosuch', "$DATA/k2-rsa2048.asc"]);
    is($r->{rc}, 1, 'import --profiles with an unknown name: exit 1');
    like($r->{err}, qr/unknown profile nosuch/, 'import --profiles: names it');
}

# Signatures verified ahead by threads (--verify-threads): the same
# databases as without them, over the Hockeypuck vectors (edge keys, a
# Debian sample) and a key given twice (a merge)
{
    my $H = "$DATA/hockeypuck-2.2";
    my @files = ((sort glob("$H/hostile/[0-9][0-9]-*.pgp")), "$H/debian-sample.pgp",
                 "$H/hostile/06-third-party.pgp");
    my %dump;
    for my $n (0, 1, 3) {
        my $d = "$T/threads$n";
        my $r = run_cmd([$RECONSVC, 'import', '--db', $d, '--profiles', 'sks,hockeypuck',
                         '--verify-threads', $n, @files], timeout => 300);
        is($r->{rc}, 0, "import --verify-threads $n") or diag($r->{err});
        $dump{$n} = join '', map { run_cmd(['mdb_dump', '-s', $_, $d])->{out} }
            qw(keys ptree sksout ptree.hockeypuck phash.hockeypuck pkey.hockeypuck);
        $dump{"$n.out"} = $r->{out};
        my $c = run_cmd([$RECONSVC, 'check', '--db', $d], timeout => 300);
        is($c->{rc}, 0, "--verify-threads $n: check clean") or diag($c->{out});
    }
    ok(length $dump{0} > 10000, 'databases dumped');
    for my $n (1, 3) {
        ok($dump{$n} eq $dump{0}, "--verify-threads $n: keys and trees identical to 0 threads'");
        is($dump{"$n.out"}, $dump{'0.out'}, "--verify-threads $n: the same summary");
    }
    like($dump{'0.out'}, qr/unchanged 1/, 'the key given twice: unchanged once');
}

done_testing();
