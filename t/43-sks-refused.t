#!/usr/bin/perl
# Issue 8 item 6: two keys of the Hockeypuck 2.2 vectors that Hockeypuck
# stores but our parser refuses, checked against a real SKS 1.1.6 on
# every path by which a key reaches it:
#   11-dup-uid  a user ID (with its self-signature) repeated after the subkey
#   13-marker   a marker packet (tag 10) between the UID's self-sig and the subkey
# SKS refuses both in `sks build` (a keydump), in POST /pks/add ("Malformed
# Key") and when recon fetches them from a peer over /pks/hashquery, so it
# stores, serves and hashes neither. Our `sks` profile does the same: on a
# node that keeps the sks profile alone `reconsvc import` leaves them out,
# /pks/add refuses them, `reconsvc hash` says DROPPED, and neither server
# answers op=get or op=hget for them.
# Hockeypuck 2.2 stores both (the vectors' hashes). A node of ours that
# keeps the hockeypuck profile (`--profiles hockeypuck`, or both) stores
# them too, once each, with the part SKS refuses as the key's tail
# (key.h): import, /pks/add and recon fetch alike; the hockeypuck tree
# holds the vectors' hashes, /pks/hashquery answers them with the form
# Hockeypuck hashes, gpg imports what op=get serves, the sks tree leaves
# them out, so an SKS peer reconciling with that node never asks for
# them; `reconsvc check` is clean on every node.
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
    like($r->{out}, qr/^DROPPED $FPR{$k} (user ID after a subkey|unexpected packet in key)$/,
         "$k: reconsvc hash (sks): DROPPED, with SKS's reason");
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

# ------------------------------ nodes that keep the hockeypuck profile
my %HP = (dup => '15C7830A6AAF2D4EE419EFC94E7FD56D',
          marker => '323433B77C1E18AC122E019E1B898CAB');
sub hp_tree {       # the hockeypuck tree's hashes (its phash map)
    my ($db) = @_;
    my $d = run_cmd(['mdb_dump', '-s', 'phash.hockeypuck', $db]);
    my %h = map { uc($_) => 1 } $d->{out} =~ /^ ([0-9a-f]{32})\n/mg;
    return \%h;
}
sub check_db {
    my ($name, $db, $sks_n, $out_n) = @_;
    my $r = run_cmd([$RECONSVC, 'check', '--db', $db]);
    is($r->{rc}, 0, "$name: reconsvc check exit 0") or diag($r->{out} . $r->{err});
    like($r->{out}, qr/^profile sks: $sks_n keys in its tree, $out_n stored keys it drops, 0 differences$/m,
         "$name: the sks tree holds $sks_n keys, $out_n stored keys left out of it");
    like($r->{out}, qr/^ok: /m, "$name: every tree consistent");
}
sub imp {
    my ($db, $prof, @files) = @_;
    my $r = run_cmd([$RECONSVC, 'import', '--db', $db, '--profiles', $prof, @files]);
    is($r->{rc}, 0, "import --profiles $prof") or diag($r->{err});
    return $r->{out};
}

# import: H keeps the hockeypuck profile (sks always too), B both
my $dbH = "$T/dbH";
like(imp($dbH, 'hockeypuck', $dump), qr/new 4, merged 0, unchanged 0, rejected 0/,
     'import --profiles hockeypuck: all 4 keys stored');
my $dbB = "$T/dbB";
like(imp($dbB, 'sks,hockeypuck', $dump), qr/rejected 0/, 'import --profiles sks,hockeypuck: none rejected');
for my $n (['H', $dbH], ['B', $dbB]) {
    my $t = hp_tree($n->[1]);
    ok($t->{$HP{dup}} && $t->{$HP{marker}}, "$n->[0]: the hockeypuck tree holds the vectors' hashes of 11 and 13");
    my %keys = map { $_ => 1 } db_hashes($n->[1]);
    is(scalar(keys %keys), 4, "$n->[0]: 4 keys stored, each once");
    ok(!$keys{$RAW{dup}} && !$keys{$RAW{marker}} && !$keys{$HP{dup}} && !$keys{$HP{marker}},
       "$n->[0]: 11 and 13 are stored under ids that are no peer's hash");
    check_db($n->[0], $n->[1], 2, 2);
}

# /pks/add: a node keeping the hockeypuck profile takes both uploads
my $dbA = "$T/dbA";
imp($dbA, 'hockeypuck', write_keys("$T/good2.pgp", map { slurp($_) } @good));
my $ngA = start_nginx(db => $dbA);
for my $k (sort keys %K) {
    my $r = http_req('POST', "$ngA/pks/add", \%hdr, 'keytext=' . urlenc(enarmor($BIN{$k})));
    is($r->{status}, 200, "$k: /pks/add on a hockeypuck node: 200") or diag($r->{content});
}
ok(hp_tree($dbA)->{$HP{dup}} && hp_tree($dbA)->{$HP{marker}},
   '/pks/add: the hockeypuck tree holds both vectors\' hashes');
for my $k (sort keys %K) {
    my $r = http_req('POST', "$ngA/pks/add", \%hdr, 'keytext=' . urlenc(enarmor($BIN{$k})));
    is($r->{status}, 200, "$k: uploaded again: 200 (unchanged)");
}
is(scalar(my @a = db_hashes($dbA)), 4, '/pks/add: 4 keys stored');
check_db('A', $dbA, 2, 2);

# what A serves: by hockeypuck hash the form Hockeypuck hashes; not by
# the SKS hash of the upload; op=get: keys gpg imports
for my $k (sort keys %K) {
    my $q = sub { my $r = http_req('POST', "$ngA/pks/hashquery", {}, pack('N', 1) . pack('N', 16) . pack('H*', $_[0]));
                  length($r->{content}) > 8 ? substr($r->{content}, 8, unpack('N', substr($r->{content}, 4, 4))) : '' };
    my $form = $q->($HP{$k});
    ok(length $form, "$k: /pks/hashquery answers its hockeypuck hash");
    spew("$T/form.pgp", $form);
    is(run_cmd([$RECONSVC, 'hash', '--profile', 'hockeypuck', "$T/form.pgp"])->{out}, "$HP{$k} $FPR{$k}\n",
       "$k: that form has the hockeypuck hash asked for");
    # (11's upload as it came is what Hockeypuck hashes: the same hash)
    is($q->($RAW{$k}), '', "$k: /pks/hashquery has nothing for the SKS hash of the upload")
        unless $RAW{$k} eq $HP{$k};
    my $g = http_get("$ngA/pks/lookup?op=get&options=mr&search=0x$FPR{$k}");
    is($g->{status}, 200, "$k: op=get serves it");
    my $home = gpg_home(keyserver => $ngA =~ s/^http/hkp/r);
    spew("$home/k.asc", $g->{content});
    my $gi = gpg($home, '--import', "$home/k.asc");
    is($gi->{rc}, 0, "$k: gpg imports what op=get serves") or diag($gi->{err});
    like(gpg($home, '--with-colons', '--list-keys')->{out}, qr/^fpr:+$FPR{$k}:/m, "$k: gpg has the key");
}
stop_nginx($ngA);

# recon: B (both profiles) holds 11 and 13 and one more control key.
# SKS (the control keys) reconciles with B and fetches just that one; C
# (ours, --profiles hockeypuck, the control keys) reconciles with B on the
# hockeypuck profile and fetches 11 and 13 by their Hockeypuck hashes.
my $extra = "$HD/01-py-signer.pgp";
like(imp($dbB, 'sks,hockeypuck', $extra), qr/new 1/, 'B: one more key');
my $hx = (split / /, run_cmd([$RECONSVC, 'hash', $extra])->{out})[0];
my $dbC = "$T/dbC";
imp($dbC, 'sks,hockeypuck', write_keys("$T/good3.pgp", map { slurp($_) } @good));
my $ngB = start_nginx(db => $dbB);
my ($pB, $pC) = (SksPeer::free_port('127.0.0.1'), SksPeer::free_port('127.0.0.5'));
my $hC = SksPeer::free_port('127.0.0.5');
my $ngC = start_nginx(db => $dbC, conf => "        listen 127.0.0.5:$hC;\n");
my $sks3 = SksPeer->start(dir => "$T/sks3", keys => [write_keys("$T/good4.pgp", map { slurp($_) } @good)],
                          peers => ["127.0.0.1:$pB"], gossip => 0.05);
my $B = start_recon(db => $dbB, http_port => port($ngB), port => $pB,
    peers => ['127.0.0.2 ' . $sks3->recon_port, "127.0.0.5 $pC"], gossip => 1);
my $C = start_recon(db => $dbC, addr => '127.0.0.5', http_port => $hC, port => $pC,
    peers => ["127.0.0.1 $pB"], gossip => 1, args => ['--profiles', 'hockeypuck']);
ok(wait_for(120, sub { $sks3->hget($hx) == 200 }), 'recon: SKS fetched the control key from B')
    or diag(substr($sks3->recon_log, -3000));
ok(wait_for(120, sub { my $t = hp_tree($dbC); $t->{$HP{dup}} && $t->{$HP{marker}} }),
   'recon fetch: C stored 11 and 13 under their Hockeypuck hashes')
    or diag(substr($C->log, -3000));
sleep 3;
is($sks3->count, 3, 'recon: SKS has the 3 control keys');
unlike($sks3->recon_log, qr/Requesting [2-9]\d* missing keys/, 'recon: SKS never asked B for more than one key');
for my $k (sort keys %K) {
    isnt($sks3->hget($RAW{$k}), 200, "recon: SKS has no $k");
}
is($B->stop, 0, 'B stopped');
is($C->stop, 0, 'C stopped');
stop_nginx($ngB);
stop_nginx($ngC);
$sks3->stop;
check_db('B after recon', $dbB, 3, 2);
# C got the control key, and 13 in the form Hockeypuck serves (the marker
# left out): keys SKS keeps; 11 still has its user ID after the subkey
check_db('C after recon', $dbC, 4, 1);

done_testing();
