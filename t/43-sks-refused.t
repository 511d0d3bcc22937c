#!/usr/bin/perl
# Issue 8 item 6: two keys of the Hockeypuck 2.2 vectors that Hockeypuck
# stores but our parser refuses, checked against a real SKS 1.1.6 on
# every path by which a key reaches it:
#   11-dup-uid  a user ID (with its self-signature) repeated after the subkey
#   13-marker   a marker packet (tag 10) between the UID's self-sig and the subkey
# SKS refuses both in `sks build` (a keydump), in POST /pks/add ("Malformed
# Key") and when recon fetches them from a peer over /pks/hashquery, so it
# stores, serves and hashes neither. Our `sks` profile does the same:
# `reconsvc import` leaves them out, /pks/add refuses them, `reconsvc hash`
# says DROPPED, and neither server answers op=get or op=hget for them. (The
# `hockeypuck` profile still gives the hash Hockeypuck stored for each
# upload, t/25-profile-hockeypuck.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'sks not installed' unless SksPeer::available();
plan skip_all => 'mdb_dump/mdb_load not installed'
    unless have_cmd('mdb_dump') && have_cmd('mdb_load');

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $HD = "$ROOT/t/data/hockeypuck-2.2/hostile";
my $T = tmpdir();

my %K = (dup => "$HD/11-dup-uid.pgp", marker => "$HD/13-marker.pgp");
my %FPR = (dup => 'F178DADB21A16665681E4AA33608783DE4A78CE5',
           marker => '342669C8805D61C6EBA2C9E2C97D1FB53DFD78DD');
my @good = ("$HD/00-gpg-signer.pgp", "$HD/06-third-party.pgp");
my %BIN = map { $_ => slurp($K{$_}) } keys %K;
# the SKS hash of each upload as it came (what a peer holding these bytes
# would offer), and the hashes of the two keys both servers keep
my %RAW = map { $_ => sks_hash(parse_packets($BIN{$_})) } keys %K;
my @GOOD = map { (split / /, run_cmd([$RECONSVC, 'hash', $_])->{out})[0] } @good;
like($_, qr/^[0-9A-F]{32}$/, "sks hash of a control key: $_") for @GOOD;

sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }

# ----------------------------------------------------------- the profile
for my $k (sort keys %K) {
    my $r = run_cmd([$RECONSVC, 'hash', $K{$k}]);
    like($r->{out}, qr/^DROPPED - /, "$k: reconsvc hash (sks): DROPPED");
    my $h = run_cmd([$RECONSVC, 'hash', '--profile', 'hockeypuck', $K{$k}]);
    like($h->{out}, qr/^[0-9A-F]{32} $FPR{$k}$/, "$k: the hockeypuck profile hashes the upload");
}

# ------------------------------------------------- a keydump: build, import
my $dump = write_keys("$T/dump.pgp", map { slurp($_) } @good, $K{dup}, $K{marker});
my $sks = SksPeer->start(dir => "$T/sks", keys => [$dump], dontgossip => 1);
my $SKS = $sks->hkp_url;
is($sks->count, 2, 'sks build: the 2 control keys stored, 11 and 13 left out');
is($sks->hget($_), 200, "sks build: SKS has control key $_") for @GOOD;

my $db = "$T/db";
import_keys($db, $dump);
is(join(' ', db_hashes($db)), join(' ', sort @GOOD),
   'reconsvc import: the same 2 keys as SKS, 11 and 13 left out');
my $OURS = start_nginx(db => $db);

# --------------------------------------------------------------- /pks/add
my %hdr = ('Content-Type' => 'application/x-www-form-urlencoded');
for my $k (sort keys %K) {
    my $body = 'keytext=' . urlenc(enarmor($BIN{$k}));
    my $rs = http_req('POST', "$SKS/pks/add", \%hdr, $body);
    like($rs->{content}, qr/Add failed: Malformed Key/, "$k: SKS /pks/add refuses it");
    unlike($rs->{content}, qr/added successfully/, "$k: SKS adds nothing");
    my $ro = http_req('POST', "$OURS/pks/add", \%hdr, $body);
    isnt($ro->{status}, 200, "$k: our /pks/add refuses it (HTTP $ro->{status})");
}
is($sks->count, 2, '/pks/add: SKS still has 2 keys');
is(join(' ', db_hashes($db)), join(' ', sort @GOOD), '/pks/add: we still have the same 2');

# ------------------------------------------------------- nothing is served
sub served {
    my ($base, $k) = @_;
    my $g = http_get("$base/pks/lookup?op=get&options=mr&search=0x$FPR{$k}");
    my $h = http_get("$base/pks/lookup?op=hget&options=mr&search=$RAW{$k}");
    return "get $g->{status}, hget " . ($h->{status} == 200 ? 200 : 'not found');
}
for my $k (sort keys %K) {
    is(served($SKS, $k), 'get 404, hget not found', "$k: SKS serves nothing for it");
    is(served($OURS, $k), 'get 404, hget not found', "$k: we serve nothing for it");
}
stop_nginx($OURS);
$sks->stop;

# ------------------------------------------- recon: SKS fetches them from P
# P (ours, --profiles sks) holds the control keys plus the two uploads'
# bytes as they came, stored under their SKS hashes (written with
# mdb_load, the tree rebuilt), so its tree offers them and its
# /pks/hashquery serves them. SKS reconciles with P, finds the two hashes
# missing, fetches them, and drops them.
my $dbP = "$T/dbP";
import_keys($dbP, write_keys("$T/good.pgp", map { slurp($_) } @good));
{
    my $d = run_cmd(['mdb_dump', '-s', 'keys', $dbP]);
    my ($head) = $d->{out} =~ /\A(.*?HEADER=END\n)/s;
    ok(defined $head, 'P: keys database dumped') or BAIL_OUT('mdb_dump keys');
    spew("$T/extra.dump", $head . join('', map { ' ' . lc($RAW{$_}) . "\n "
        . unpack('H*', $BIN{$_}) . "\n" } sort keys %K) . "DATA=END\n");
    my $l = run_cmd(['mdb_load', '-s', 'keys', '-f', "$T/extra.dump", $dbP]);
    is($l->{rc}, 0, 'P: the two uploads stored under their SKS hashes') or diag($l->{err});
    my $pb = run_cmd([$RECONSVC, 'pbuild', '--db', $dbP]);
    is($pb->{rc}, 0, 'P: tree rebuilt') or diag($pb->{err});
}
my $ngP = start_nginx(db => $dbP);
for my $k (sort keys %K) {
    my $q = pack('N', 1) . pack('N', 16) . pack('H*', $RAW{$k});
    my $r = http_req('POST', "$ngP/pks/hashquery", {}, $q);
    is(length($r->{content}) >= 8 ? substr($r->{content}, 8, length $BIN{$k}) : '',
       $BIN{$k}, "$k: P's /pks/hashquery serves the upload's bytes");
}
my $pP = SksPeer::free_port('127.0.0.1');
my $sks2 = SksPeer->start(dir => "$T/sks2", keys => [$dump],
                          peers => ["127.0.0.1:$pP"], gossip => 0.05);
my $P = start_recon(db => $dbP, http_port => port($ngP), port => $pP,
    peers => ['127.0.0.2 ' . $sks2->recon_port], gossip => 2,
    args => ['--profiles', 'sks']);
ok(wait_for(120, sub { $sks2->recon_log =~ /Requesting 2 missing keys/
                       && $sks2->recon_log =~ /2 keys received/ }),
   'recon: SKS found both hashes missing and fetched them from P')
    or diag(substr($sks2->recon_log, -3000));
sleep 2;
is($sks2->count, 2, 'recon: SKS still has 2 keys (it dropped both)');
for my $k (sort keys %K) {
    isnt($sks2->hget($RAW{$k}), 200, "recon: SKS does not store $k under its hash");
}
is($P->stop, 0, 'P stopped');
stop_nginx($ngP);
$sks2->stop;

done_testing();
