#!/usr/bin/perl
# Self-signature records (shared/selfsig.h): every key written by reconsvc
# import --selfsig now and by /pks/add gets its record in the txn that
# stores it (t/66 has the default import, which leaves them to a fill);
# `reconsvc check` finds a missing record (counted, not a difference: the
# key is verified at lookup time), a damaged one and a record of no stored
# key; op=get under hkp_serve_policy clean answers the same bytes with the
# records, without one key's record, and without the "selfsig" database at
# all (an environment made before it); `reconsvc check --fill-selfsig`
# writes the missing and wrong ones. The fixtures are t/data/serve's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More;
use HkpTest qw(:all);

plan skip_all => 'mdb_dump/mdb_load not installed'
    unless have_cmd('mdb_dump') && have_cmd('mdb_load');

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $T = tmpdir();

my @serve = map { "$DATA/serve/$_.pgp" } qw(signer other victim hard soft att alice);
my @fprs = map { my @b = dearmor(slurp($_)); key_fpr((split_keys($b[0][0]))[0]) } @serve;

sub check { my ($db) = @_; return run_cmd([$RECONSVC, 'check', '--db', $db]) }
sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }

# op=get of every fixture under clean: status and body, by fingerprint
sub answers {
    my ($db) = @_;
    my $base = start_nginx(db => $db);
    my %a;
    for my $f (@fprs) {
        my $r = http_get("$base/pks/lookup?op=get&options=mr&search=0x$f");
        $a{$f} = "$r->{status}\n$r->{content}";
    }
    stop_nginx();
    return \%a;
}

# the dump of db, split in one section per database
sub sections {
    my ($db) = @_;
    my $d = run_cmd(['mdb_dump', '-a', $db]);
    is($d->{rc}, 0, 'mdb_dump -a') or diag($d->{err});
    return grep { length } split /(?<=DATA=END\n)/, $d->{out};
}

sub load_env {
    my ($db, @sec) = @_;
    make_path($db);
    spew("$T/load.dump", join '', @sec);
    my $l = run_cmd(['mdb_load', '-f', "$T/load.dump", $db]);
    is($l->{rc}, 0, "loaded $db") or diag($l->{err});
}

# ------------------------------------------------------------ write paths
my $db = "$T/db";
import_keys($db, '--selfsig', 'now', @serve);
my $c = check($db);
is($c->{rc}, 0, 'check: ok after import') or diag($c->{out});
like($c->{out}, qr/^selfsig: 0 keys without a record .*, 0 differences$/m,
     'every imported key has its record');

{
    my $base = start_nginx(db => $db);
    my $text = slurp("$DATA/k2-rsa2048.asc");
    my $r = http_req('POST', "$base/pks/add",
        { 'Content-Type' => 'application/x-www-form-urlencoded' }, 'keytext=' . urlenc($text));
    is($r->{status}, 200, '/pks/add stores a key');
    stop_nginx();
}
$c = check($db);
is($c->{rc}, 0, 'check: ok after /pks/add') or diag($c->{out});
like($c->{out}, qr/^selfsig: 0 keys without a record .*, 0 differences$/m,
     'the added key has its record');
like($c->{out}, qr/^ok: 8 keys/m, '8 keys stored');

my $want = answers($db);
is(scalar(grep { /^200\n/ } values %$want), scalar(@fprs), 'every fixture is served under clean');

# ------------------------------------------------------------ damage
my @sec = sections($db);
my ($ss) = grep { /^database=selfsig$/m } @sec;
ok(defined $ss, 'the environment has a selfsig database');
my ($head, $body) = $ss =~ /\A(.*?HEADER=END\n)(.*)DATA=END\n\z/s;
my @pairs = $body =~ /( \S+\n \S+\n)/g;
is(scalar(@pairs), 8, 'one record per stored key');

# the first record left out, the second with its "ok" bits flipped, and a
# record of a key that is not stored
my ($k2, $v2) = $pairs[1] =~ / (\S+)\n (\S+)\n/;
my $bad = substr($v2, 0, -2) . sprintf('%02x', hex(substr($v2, -2)) ^ 0xff);
my $ghost = ' ' . ('00' x 16) . "\n $v2\n";
my @damaged = map { /^database=selfsig$/m ? $head . join('', " $k2\n $bad\n", @pairs[2 .. $#pairs], $ghost) . "DATA=END\n" : $_ } @sec;
my $db2 = "$T/damaged";
load_env($db2, @damaged);
$c = check($db2);
is($c->{rc}, 1, 'check fails on the damaged records');
like($c->{out}, qr/^selfsig: 1 keys without a record \(verified at lookup time\), 2 differences$/m,
     'one missing record counted, two differences');
like($c->{out}, qr/selfsig: key \U$k2\E has a self-signature record that disagrees with its signatures/i,
     'the damaged record is named');
like($c->{out}, qr/selfsig: key 0{32} has a self-signature record but is not stored/,
     'the record of no stored key is named');

# ------------------------------------------------------------ lookups without records
{
    my $db3 = "$T/missing";
    load_env($db3, map { /^database=selfsig$/m ? $head . join('', @pairs[1 .. $#pairs]) . "DATA=END\n" : $_ } @sec);
    $c = check($db3);
    is($c->{rc}, 0, 'a missing record is not a difference') or diag($c->{out});
    is_deeply(answers($db3), $want, 'op=get answers the same without one key\'s record');
}
{
    my $db4 = "$T/old";
    load_env($db4, grep { !/^database=selfsig$/m } @sec);
    $c = check($db4);
    like($c->{out}, qr/^selfsig: 8 keys without a record/m,
         'an environment without the database: every key counted as without a record');
    is_deeply(answers($db4), $want, 'op=get answers the same without the selfsig database');
}

# ------------------------------------------------------------ repair
{
    my $db5 = "$T/repair";
    load_env($db5, @damaged);
    $c = run_cmd([$RECONSVC, 'check', '--db', $db5, '--fill-selfsig']);
    like($c->{out}, qr/^selfsig: 2 records written$/m, '--fill-selfsig writes the missing and the damaged record');
    is($c->{rc}, 1, 'the record of no stored key is still a difference');
    like($c->{out}, qr/^selfsig: 0 keys without a record \(verified at lookup time\), 1 difference$/m,
         'no record missing or wrong after it');
    my $db6 = "$T/old-filled";
    load_env($db6, grep { !/^database=selfsig$/m } @sec);
    $c = run_cmd([$RECONSVC, 'check', '--db', $db6, '--fill-selfsig']);
    is($c->{rc}, 0, 'an environment without the database: --fill-selfsig and check ok') or diag($c->{out});
    like($c->{out}, qr/^selfsig: 8 records written$/m, 'every key got its record');
    is_deeply(answers($db6), $want, 'op=get answers the same with the filled records');
}

done_testing();
