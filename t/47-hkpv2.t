#!/usr/bin/perl
# HKPv2 (draft-ietf-openpgp-hkp-01, issue 12) in a location with hkp_v2:
# every category and status code, v4 and v6 keys, HEAD, OPTIONS, CORS.
#   GET  /pks/v2/certs/by-vfingerprint/<vfpr>  (draft "04"+hex; "4/"+hex)
#   GET  /pks/v2/certs/by-keyid/<16 hex>       (never newer than v4)
#   GET  /pks/v2/certs/by-identity/<identity>  (exact; e-mail any case)
#   GET  /pks/v2/index/<identity|fingerprint>  (JSON)
#   GET  /pks/v2/prefixlog/<YYYY-MM-DD>
#   POST /pks/v2/certs                         (JSON reply)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use POSIX qw(strftime);
use HkpTest qw(:all);

my $root = root();
my $CT = 'application/pgp-keys;armor=no';
my $LOCS = 'location /pks/v2/ { hkp_v2; } location /vks/v1/ { hkp_vks; }';

my %K1 = (fpr => '8236DAA56DF885E6A77B041A20E8C38A2AE840BF',
          sub => 'BB3556C600B38C1AA671B6598B7D547986907D72',
          uid => 'Recon Vector One <vector1@example.invalid>',
          email => 'vector1@example.invalid');
my %V6 = (fpr => '360BBAF2AAE03A2FD1F781174080B4A5928A4BB39CB684A618357E3E14EA0F84',
          sub => 'D5A026917A1AAB52E3EADABF4666FD2F0D9C430CBB84623F329D3BF2F51A042F',
          uid => 'ed25519 v6 <ed255196@sigverify.test>',
          email => 'ed255196@sigverify.test');
my $RFC_V6 = 'CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9';

my $today0 = strftime('%Y-%m-%d', gmtime);
my $db = tmpdir() . '/db';
import_keys($db, "$root/t/data/k1-ed25519.asc", "$root/t/data/k2-rsa2048.asc",
    "$root/t/data/k3-dupsig.asc", "$root/t/data/sigverify/v6-ed25519.pgp",
    "$root/t/data/sigverify/rfc9580-a3-v6-cert.asc");
start_nginx(db => $db, conf => $LOCS);

my @answers;    # every v2 answer, for the CORS check at the end
sub req {
    my ($m, $u, $h, $b) = @_;
    my $r = http_req($m, $u, $h, $b);
    push @answers, [ "$m $u", $r ];
    return $r;
}
sub get { req('GET', @_) }
sub enc { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~@-])/sprintf('%%%02X', ord $1)/ge; $s }

# the stored key as v1 serves it (binary), to compare v2 answers with
sub v1_bin {
    my ($fpr) = @_;
    my $r = http_get("/pks/lookup?op=get&options=mr&search=0x$fpr");
    is($r->{status}, 200, "v1 op=get finds 0x$fpr") or return '';
    my ($b) = dearmor($r->{content});
    return $b->[0];
}
my $k1_bin = v1_bin($K1{fpr});
my $v6_bin = v1_bin($V6{fpr});
ok(length $v6_bin > 100, 'v1 serves the v6 key by 0x + 64 hex digits');

sub certs_ok {
    my ($r, $bin, $what) = @_;
    is($r->{status}, 200, "$what: 200");
    is($r->{headers}{'content-type'}, $CT, "$what: $CT");
    ok($r->{content} eq $bin, "$what: the stored certificate, binary")
        or diag(substr($r->{content}, 0, 200));
}

# ---- certs/by-vfingerprint ---------------------------------------------
my $V = '/pks/v2/certs/by-vfingerprint';
certs_ok(get("$V/04$K1{fpr}"), $k1_bin, 'draft form 04 + fpr');
certs_ok(get("$V/04" . lc $K1{fpr}), $k1_bin, 'lower-case hex');
certs_ok(get("$V/4/$K1{fpr}"), $k1_bin, "Hockeypuck's form 4/fpr");
certs_ok(get("$V/04/$K1{fpr}"), $k1_bin, 'form 04/fpr');
certs_ok(get("$V/04$K1{sub}"), $k1_bin, 'a subkey fingerprint finds its key');
certs_ok(get("$V/06$V6{fpr}"), $v6_bin, 'v6: 06 + 64 hex');
certs_ok(get("$V/6/" . lc $V6{fpr}), $v6_bin, 'v6: 6/fpr');
certs_ok(get("$V/06$V6{sub}"), $v6_bin, 'v6 subkey');
for my $bad ("06$K1{fpr}", $K1{fpr}, "0x04$K1{fpr}", "04$V6{fpr}", "05$V6{fpr}",
             '04' . ('A' x 40), "04$K1{fpr}00", '04', "4/$V6{fpr}", 'zz') {
    my $r = get("$V/$bad");
    is($r->{status}, 404, "by-vfingerprint/$bad: 404");
}

# ---- certs/by-keyid ----------------------------------------------------
my $KID = '/pks/v2/certs/by-keyid';
certs_ok(get("$KID/20E8C38A2AE840BF"), $k1_bin, 'by-keyid (primary)');
certs_ok(get("$KID/8b7d547986907d72"), $k1_bin, 'by-keyid (subkey, lower case)');
is(http_get('/pks/lookup?op=get&options=mr&search=0x360BBAF2AAE03A2F')->{status}, 200,
   'v1 finds the v6 key by its 64-bit key ID');
is(get("$KID/360BBAF2AAE03A2F")->{status}, 404,
   'v2 by-keyid never returns a v6 certificate (section 5.1.3)');
is(get("$KID/" . substr($V6{fpr}, -16))->{status}, 404, 'nor by the last 16 digits');
is(get("$KID/0x20E8C38A2AE840BF")->{status}, 404, 'by-keyid with 0x: 404');
is(get("$KID/$K1{fpr}")->{status}, 404, 'by-keyid with a fingerprint: 404');
is(get("$KID/0123456789ABCDEF")->{status}, 404, 'unknown key ID: 404');

# ---- certs/by-identity -------------------------------------------------
my $ID = '/pks/v2/certs/by-identity';
certs_ok(get("$ID/$K1{email}"), $k1_bin, 'by-identity e-mail');
certs_ok(get("$ID/" . uc $K1{email}), $k1_bin, 'e-mail in upper case');
certs_ok(get("$ID/" . enc("<$K1{email}>")), $k1_bin, 'e-mail in <>');
certs_ok(get("$ID/" . enc($K1{uid})), $k1_bin, 'the whole user ID');
certs_ok(get("$ID/" . enc(lc $K1{uid})), $k1_bin, 'the whole user ID, other case');
certs_ok(get("$ID/$V6{email}"), $v6_bin, 'v6 key by e-mail');
for my $partial ('vector1', 'example.invalid', 'vector1@example.invali',
                 'Recon Vector One', 'Recon', "x$K1{email}") {
    is(get("$ID/" . enc($partial))->{status}, 404, "by-identity '$partial': 404 (exact only)");
}

# ---- index --------------------------------------------------------------
my $r = get("/pks/v2/index/$K1{email}");
is($r->{status}, 200, 'index by e-mail');
is($r->{headers}{'content-type'}, 'application/json', 'index: application/json');
my $ix = eval { decode_json($r->{content}) };
ok(ref $ix eq 'ARRAY' && @$ix == 1, 'index: one certificate') or diag($r->{content});
my $c = $ix->[0] // {};
is($c->{version}, 4, 'index: version 4');
is($c->{fingerprint}, lc $K1{fpr}, 'index: fingerprint, hex without 0x');
like($c->{creation} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'index: RFC 3339 UTC creation');
is($c->{algorithm}{code}, 22, 'index: algorithm code');
is(JSON::PP::is_bool($c->{revoked}) && !$c->{revoked} ? 1 : 0, 1, 'index: not revoked');
is($c->{userIDs}[0]{uidString}, $K1{uid}, 'index: uidString');
ok($c->{userIDs}[0]{primary}, 'index: the primary user ID');
is($c->{subkeys}[0]{fingerprint}, lc $K1{sub}, 'index: subkey fingerprint');
is($c->{subkeys}[0]{version}, 4, 'index: subkey version');
ok(defined $c->{flags} && defined $c->{subkeys}[0]{flags}, 'index: key flags');

for my $id ($V6{fpr}, lc $V6{fpr}, "06$V6{fpr}", $V6{email}) {
    my $r6 = get("/pks/v2/index/$id");
    is($r6->{status}, 200, "v6 index by $id");
    my $j = eval { decode_json($r6->{content}) } // [];
    is($j->[0]{version}, 6, "index $id: version 6");
    is($j->[0]{fingerprint}, lc $V6{fpr}, "index $id: the 64-digit fingerprint");
    is($j->[0]{subkeys}[0]{version}, 6, "index $id: v6 subkey");
}
# the serve policy (default clean) applies to v2 as to v1: the RFC 9580
# sample certificate has no user ID to serve, so neither shows it
is(http_get("/pks/lookup?op=index&options=mr&search=0x$RFC_V6")->{status}, 404,
   'v1 does not serve the RFC 9580 sample certificate (no user ID)');
is(get("/pks/v2/index/$RFC_V6")->{status}, 404, '... nor does the v2 index');
is(get("$V/06$RFC_V6")->{status}, 404, '... nor by-vfingerprint');
is(get("/pks/v2/index/$K1{fpr}")->{status}, 200, 'index by a v4 fingerprint');
is(get('/pks/v2/index/nobody@example.invalid')->{status}, 404, 'index: nothing found, 404');
is(get('/pks/v2/index/vector1')->{status}, 404, 'index: partial identity, 404');

# ---- prefixlog ------------------------------------------------------------
my $today = strftime('%Y-%m-%d', gmtime);
my $pl = get("/pks/v2/prefixlog/$today");
is($pl->{status}, 200, 'prefixlog of today');
like($pl->{headers}{'content-type'}, qr{^text/plain}, 'prefixlog: text/plain');
if ($today eq $today0) {
    my %p = map { $_ => 1 } split /\r\n/, $pl->{content};
    ok($p{lc substr($_, 0, 8)}, "prefixlog has the prefix of $_")
        for $K1{fpr}, $V6{fpr}, $RFC_V6;
    like($pl->{content}, qr/\A(?:[0-9a-f]{8}\r\n)+\z/, 'prefixlog: 8 hex digits per CRLF line');
}
my $old = strftime('%Y-%m-%d', gmtime(time - 3 * 86400));
my $r3 = get("/pks/v2/prefixlog/$old");
is($r3->{status}, 200, 'a kept day with no changes: 200');
is($r3->{content}, '', '... and empty');
is(get('/pks/v2/prefixlog/' . strftime('%Y-%m-%d', gmtime(time - 40 * 86400)))->{status}, 404,
   'a day past the retention (30 days): 404');
is(get('/pks/v2/prefixlog/' . strftime('%Y-%m-%d', gmtime(time + 2 * 86400)))->{status}, 404,
   'a future day: 404');
is(get("/pks/v2/prefixlog/$_")->{status}, 400, "prefixlog/$_: 400")
    for qw(2026-02-30 2025-02-29 20261202 2026-13-01 yesterday);

# ---- OPTIONS, 403, 501, 405, HEAD -----------------------------------------
for my $cat (qw(certs/by-vfingerprint certs/by-keyid certs/by-identity index prefixlog)) {
    my $o = req('OPTIONS', "/pks/v2/$cat");
    is($o->{status}, 200, "OPTIONS $cat: 200");
    like($o->{headers}{allow} // '', qr/\bGET\b.*\bHEAD\b/, "OPTIONS $cat: Allow GET, HEAD");
    is(get("/pks/v2/$cat")->{status}, 403, "GET $cat without identifier: 403");
    is(get("/pks/v2/$cat/")->{status}, 403, "GET $cat/ (empty identifier): 403");
    my $p = req('POST', "/pks/v2/$cat/x", { 'content-type' => 'text/plain' }, 'x');
    is($p->{status}, 405, "POST $cat: 405");
}
my $o = req('OPTIONS', '/pks/v2/certs');
is($o->{status}, 200, 'OPTIONS certs: 200');
like($o->{headers}{allow} // '', qr/\bPOST\b/, 'OPTIONS certs: Allow POST');
like($o->{headers}{accept} // '', qr{application/pgp-keys;armor=no}, 'OPTIONS certs: Accept');
is(get('/pks/v2/certs')->{status}, 405, 'GET certs (the submission category): 405');
for my $cat (qw(canonical sendtoken certs/by-fingerprint tokens nonsense)) {
    is(get("/pks/v2/$cat/x")->{status}, 501, "GET $cat: 501 (unsupported category)");
    is(req('OPTIONS', "/pks/v2/$cat")->{status}, 501, "OPTIONS $cat: 501");
}
for my $u ("$ID/$K1{email}", "/pks/v2/index/$V6{email}", "$V/04$K1{fpr}", "$KID/0123456789ABCDEF",
           "/pks/v2/prefixlog/$today") {
    my $g = get($u);
    my $h = req('HEAD', $u);
    is($h->{status}, $g->{status}, "HEAD $u: status of GET");
    is($h->{content}, '', "HEAD $u: no body");
    for my $hd (qw(content-type content-length access-control-allow-origin x-hkp-results-count)) {
        is($h->{headers}{$hd}, $g->{headers}{$hd}, "HEAD $u: $hd as GET");
    }
}

# ---- POST /pks/v2/certs ---------------------------------------------------
sub submit {
    my ($body, $ctype) = @_;
    my $s = req('POST', '/pks/v2/certs', { 'content-type' => $ctype // $CT }, $body);
    my $j = $s->{headers}{'content-type'} eq 'application/json'
        ? eval { decode_json($s->{content}) } : undef;
    return ($s, $j);
}
sub armored { slurp("$root/t/data/$_[0]") }
sub binary { my ($b) = dearmor(armored($_[0])); $b->[0] }

my ($s, $j) = submit(binary('k5-ed25519.asc'));
is($s->{status}, 200, 'submit a binary bundle: 200');
is_deeply([sort keys %$j], [qw(deleted ignored inserted invalid updated)],
          'submission reply: the five arrays');
is_deeply($j->{inserted}, [{ version => 4, fingerprint => '0bebe28117b7f23865dcccc97dbcccc7e0786e61' }],
          'inserted: version and fingerprint');
($s, $j) = submit(binary('k5-ed25519.asc'));
is($j->{ignored}[0]{fingerprint}, '0bebe28117b7f23865dcccc97dbcccc7e0786e61', 'again: ignored');
ok(!@{ $j->{inserted} }, 'again: nothing inserted');
($s, $j) = submit(armored('k6-ed25519.asc'), 'application/pgp-keys');
is($j->{inserted}[0]{fingerprint}, lc '9C7C8112120358EE1A3F0020958A5BA742CEAF24', 'armored text: inserted');
my $mp = "--B0und\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n"
       . armored('k7-ed25519.asc') . "\r\n--B0und--\r\n";
($s, $j) = submit($mp, 'multipart/form-data; boundary=B0und');
is($j->{inserted}[0]{fingerprint}, lc '756312A9860891BF7FEB5A90C037ABC624C1063D', 'multipart keytext: inserted');
($s, $j) = submit(binary('k3-ed25519.asc'));
is($j->{updated}[0]{fingerprint}, lc 'F24511A38E1F7ADFD95D3952EA498F20AD79F7AC', 'a merge: updated');
($s, $j) = submit(slurp("$root/t/data/sigverify/v6-rsa.pgp"));
my $v6rsa = $j->{inserted}[0] // {};
is($v6rsa->{version}, 6, 'v6 key submitted: inserted, version 6');
is(length($v6rsa->{fingerprint} // ''), 64, 'v6 key submitted: 64-digit fingerprint');
certs_ok(get("$V/06$v6rsa->{fingerprint}"), v1_bin(uc $v6rsa->{fingerprint}),
         'the submitted v6 key by by-vfingerprint/06 (as v1 serves it)');
is(http_get('/pks/lookup?op=get&options=mr&search=0x' . uc $v6rsa->{fingerprint})->{status}, 200,
   'the submitted v6 key by v1 0x + 64 hex');

# a secret key block next to a good key: that key is invalid, the other stored
my $seckey = packets_bin([{ tag => 5, body => "\x04" . ("\x00" x 40) }]);
($s, $j) = submit($seckey . binary('k8-ed25519.asc'));
is($s->{status}, 200, 'one invalid key among good ones: 200');
is($j->{inserted}[0]{fingerprint}, lc '40C0EEB58EAA20BE1574A4B5440EFEE97BD5A159', '... the good one inserted');
ok(@{ $j->{invalid} } == 1 && length $j->{invalid}[0]{comment}, '... the bad one invalid, with a comment');
($s, $j) = submit($seckey);
is($s->{status}, 422, 'every key refused: 422');
ok($j && @{ $j->{invalid} } == 1, '... with the JSON reply');
($s) = submit("\x00not a cert");
is($s->{status}, 422, 'malformed submission: 422');
($s) = submit('');
is($s->{status}, 422, 'empty submission: 422');
($s) = submit("--B0und\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--B0und--\r\n",
              'multipart/form-data; boundary=B0und');
is($s->{status}, 422, 'multipart without keytext: 422');

# a v6 key uploaded by v1, served by v2
my $ed448 = enarmor(slurp("$root/t/data/sigverify/v6-ed448.pgp"));
(my $form = $ed448) =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
my $add = http_req('POST', '/pks/add?options=mr',
    { 'content-type' => 'application/x-www-form-urlencoded' }, "keytext=$form");
is($add->{status}, 200, 'v6 key uploaded by v1 /pks/add');
my $afpr = eval { decode_json($add->{content})->{inserted}[0]{fingerprint} } // '';
is(length $afpr, 64, 'v1 upload of the v6 key: 64-digit fingerprint');
certs_ok(get("$V/06$afpr"), v1_bin($afpr), 'v1-uploaded v6 key by v2');
my $ij = eval { decode_json(get("/pks/v2/index/$afpr")->{content}) } // [];
is($ij->[0]{version}, 6, 'v1-uploaded v6 key: index JSON version 6');

# prefix log after uploads: the new keys are in today's log
$today = strftime('%Y-%m-%d', gmtime);
my %p = map { $_ => 1 } split /\r\n/, get("/pks/v2/prefixlog/$today")->{content};
ok($p{lc substr($afpr, 0, 8)} && $p{'0bebe281'}, 'uploaded keys are in the prefix log')
    if $today eq strftime('%Y-%m-%d', gmtime(time - 60));

# ---- CORS on every answer ---------------------------------------------------
my @no = grep { ($_->[1]{headers}{'access-control-allow-origin'} // '') ne '*' } @answers;
ok(!@no, 'Access-Control-Allow-Origin: * on all ' . scalar(@answers) . ' v2 answers')
    or diag(join "\n", map { "$_->[0] -> $_->[1]{status}" } @no);

# ---- the serve policy: a redacted user ID is gone from v2 too ------------------
my $rx = run_cmd([$ENV{HKP_RECONSVC} || "$root/build/reconsvc", 'redact', '--db', $db,
                  $V6{fpr}, $V6{uid}]);
is($rx->{rc}, 0, 'reconsvc redact of the v6 key\'s user ID') or diag($rx->{err});
is(get("$ID/$V6{email}")->{status}, 404, 'redacted user ID: by-identity 404');
is(get("/pks/v2/index/$V6{email}")->{status}, 404, 'redacted user ID: index by it 404');
my $v1r = http_get("/pks/lookup?op=get&options=mr&search=0x$V6{fpr}")->{status};
is(get("$V/06$V6{fpr}")->{status}, $v1r, 'by-vfingerprint answers as v1 op=get does');

# ---- hkp_add off: submissions refused --------------------------------------
start_nginx(db => $db, conf => 'location /pks/v2/ { hkp_v2; hkp_add off; }');
my $off = http_req('POST', '/pks/v2/certs', { 'content-type' => $CT }, binary('k2-rsa2048.asc'));
is($off->{status}, 403, 'hkp_add off: POST /pks/v2/certs 403');
is($off->{headers}{'access-control-allow-origin'}, '*', '... with CORS');
is(http_get("$ID/$K1{email}")->{status}, 200, 'hkp_add off: lookups still answer');

unlike(nginx_error_log(), qr/\[(alert|emerg|crit)\]/, 'no alert in the error log');

# ---- configuration errors ------------------------------------------------------
eval { start_nginx(conf => 'location /pks/v2/ { hkp_v2; }') };
like($@, qr/needs an "hkp_db"/, 'hkp_v2 without hkp_db: nginx refuses to start');
eval { start_nginx(db => $db, conf => 'location /pks/v2/ { hkp on; hkp_v2; }') };
like($@, qr/cannot be combined/, 'hkp on and hkp_v2 in one location: refused');
eval { start_nginx(db => $db, conf => 'location /pks/v2/ { hkp_v2; hkp_v2; }') };
like($@, qr/is duplicate/, 'hkp_v2 twice: refused');
done_testing;
