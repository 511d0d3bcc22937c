#!/usr/bin/perl
# The VKS API of keys.openpgp.org (issue 12) in a location with hkp_vks,
# checked against the shapes of Hagrid's API page (/about/api): no client
# on Debian 12 speaks VKS (sq 0.27, sequoia-net 0.25, requests
# /pks/lookup?op=get&options=mr&search=... and POSTs /pks/add: HKP only),
# so these are HTTP checks.
#   GET  /vks/v1/by-fingerprint/<FPR>, /by-keyid/<KEYID>, /by-email/<addr>
#   POST /vks/v1/upload {"keytext": ...} -> {key_fpr, status, token}
#   POST /vks/v1/request-verify -> 501 {"error": ...}: no e-mail verification
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use HkpTest qw(:all);

my $root = root();
my %K1 = (fpr => '8236DAA56DF885E6A77B041A20E8C38A2AE840BF',
          sub => 'BB3556C600B38C1AA671B6598B7D547986907D72',
          kid => '20E8C38A2AE840BF', email => 'vector1@example.invalid');
my %V6 = (fpr => '360BBAF2AAE03A2FD1F781174080B4A5928A4BB39CB684A618357E3E14EA0F84',
          email => 'ed255196@sigverify.test');

my $db = tmpdir() . '/db';
import_keys($db, "$root/t/data/k1-ed25519.asc", "$root/t/data/k2-rsa2048.asc",
    "$root/t/data/sigverify/v6-ed25519.pgp");
start_nginx(db => $db, conf => 'location /vks/v1/ { hkp_vks; }');

my @answers;
sub req { my $r = http_req(@_); push @answers, [ "$_[0] $_[1]", $r ]; $r }
sub get { req('GET', @_) }

sub v1_bin {
    my ($fpr) = @_;
    my ($b) = dearmor(http_get("/pks/lookup?op=get&options=mr&search=0x$fpr")->{content});
    return $b ? $b->[0] : '';
}
my $k1 = v1_bin($K1{fpr});
my $v6 = v1_bin($V6{fpr});
ok(length $k1 && length $v6, 'the keys are served by v1');

sub armor_ok {
    my ($r, $bin, $what) = @_;
    is($r->{status}, 200, "$what: 200");
    is($r->{headers}{'content-type'}, 'application/pgp-keys', "$what: application/pgp-keys");
    my ($b) = dearmor($r->{content});
    ok($b && $b->[0] eq $bin && $b->[1], "$what: the key, ASCII-armored (CRC good)");
}

armor_ok(get("/vks/v1/by-fingerprint/$K1{fpr}"), $k1, 'by-fingerprint');
armor_ok(get("/vks/v1/by-fingerprint/" . lc $K1{fpr}), $k1, 'by-fingerprint, lower case');
armor_ok(get("/vks/v1/by-fingerprint/$K1{sub}"), $k1, 'by-fingerprint of a subkey');
armor_ok(get("/vks/v1/by-fingerprint/$V6{fpr}"), $v6, 'by-fingerprint, v6 (64 hex digits)');
armor_ok(get("/vks/v1/by-keyid/$K1{kid}"), $k1, 'by-keyid');
armor_ok(get("/vks/v1/by-email/$K1{email}"), $k1, 'by-email');
armor_ok(get("/vks/v1/by-email/" . uc $K1{email}), $k1, 'by-email, other case');
armor_ok(get("/vks/v1/by-email/%3C$K1{email}%3E"), $k1, 'by-email in <>');
armor_ok(get("/vks/v1/by-email/$V6{email}"), $v6, 'by-email, v6 key');

for my $u ("by-fingerprint/0x$K1{fpr}", 'by-fingerprint/' . ('A' x 40), "by-fingerprint/$K1{kid}",
           "by-keyid/0x$K1{kid}", 'by-keyid/0123456789ABCDEF', "by-keyid/$K1{fpr}",
           'by-email/nobody@example.invalid', 'by-email/vector1', 'by-email/example.invalid',
           'by-email/', 'by-fingerprint/', 'nonsense', '') {
    my $r = get("/vks/v1/$u");
    is($r->{status}, 404, "/vks/v1/$u: 404");
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, "/vks/v1/$u: a plain-text message");
}

# HEAD, OPTIONS, methods
for my $u ("/vks/v1/by-fingerprint/$K1{fpr}", '/vks/v1/by-keyid/0123456789ABCDEF') {
    my $g = get($u);
    my $h = req('HEAD', $u);
    is($h->{status}, $g->{status}, "HEAD $u: status of GET");
    is($h->{headers}{$_}, $g->{headers}{$_}, "HEAD $u: $_ as GET")
        for qw(content-type content-length);
    is($h->{content}, '', "HEAD $u: no body");
}
is(req('POST', "/vks/v1/by-keyid/$K1{kid}", { 'content-type' => 'text/plain' }, 'x')->{status},
   405, 'POST to a lookup: 405');
is(get('/vks/v1/upload')->{status}, 405, 'GET /vks/v1/upload: 405');
like(req('OPTIONS', '/vks/v1/upload')->{headers}{allow} // '', qr/POST/, 'OPTIONS upload: Allow POST');

# upload
sub upload {
    my ($body) = @_;
    my $r = req('POST', '/vks/v1/upload', { 'content-type' => 'application/json' }, $body);
    my $j = ($r->{headers}{'content-type'} // '') eq 'application/json'
        ? eval { decode_json($r->{content}) } : undef;
    return ($r, $j);
}
my $k5 = slurp("$root/t/data/k5-ed25519.asc");
my ($r, $j) = upload(encode_json({ keytext => $k5 }));
is($r->{status}, 200, 'upload: 200');
is_deeply([sort keys %{ $j // {} }], [qw(key_fpr status token)], 'upload reply: key_fpr, status, token');
is($j->{key_fpr}, '0BEBE28117B7F23865DCCCC97DBCCCC7E0786E61', 'key_fpr: the primary fingerprint, upper case');
is_deeply($j->{status}, { 'extra5@example.invalid' => 'published' },
          'status: the address, published (nothing is verified)');
like($j->{token} // '', qr/^[0-9A-F]{32}$/, 'token: the stored key hash');
is(http_get("/pks/lookup?op=hget&options=mr&search=$j->{token}")->{status}, 200,
   'the token fetches the stored key by op=hget');
armor_ok(get("/vks/v1/by-email/extra5\@example.invalid"),
         v1_bin('0BEBE28117B7F23865DCCCC97DBCCCC7E0786E61'), 'the uploaded key by e-mail');

# bare base64 keytext (no armor lines), as Hagrid takes it; v6
my $b64 = encode_base64(slurp("$root/t/data/sigverify/v6-rsa.pgp"), "\n");
($r, $j) = upload(encode_json({ keytext => $b64 }));
is($r->{status}, 200, 'upload of bare base64 (a v6 key): 200');
like($j->{key_fpr} // '', qr/^[0-9A-F]{64}$/, 'v6 key_fpr: 64 hex digits');
is_deeply($j->{status}, { 'rsa6@sigverify.test' => 'published' }, 'v6 status');
armor_ok(get("/vks/v1/by-fingerprint/$j->{key_fpr}"), v1_bin($j->{key_fpr}), 'uploaded v6 key by fingerprint');

# upload errors: VKS's {"error": ...}
for my $bad ([ '{"keytxt":"x"}', 400, 'no keytext member' ],
             [ 'not json', 400, 'not JSON' ],
             [ '{"keytext":"AAAA"}', 400, 'keytext that is no key' ],
             [ '{"keytext":""}', 400, 'empty keytext' ],
             [ '{"keytext":1}', 400, 'keytext not a string' ]) {
    ($r, $j) = upload($bad->[0]);
    is($r->{status}, $bad->[1], "upload $bad->[2]: $bad->[1]");
    ok($j && defined $j->{error} && keys(%$j) == 1, "upload $bad->[2]: {\"error\": ...}")
        or diag($r->{content});
}

# request-verify: 501, not pretended
($r, $j) = (req('POST', '/vks/v1/request-verify', { 'content-type' => 'application/json' },
                encode_json({ token => 'x', addresses => ['a@b.c'] })));
$j = eval { decode_json($r->{content}) };
is($r->{status}, 501, 'request-verify: 501');
like($j->{error} // '', qr/does not verify e-mail/, 'request-verify: says no e-mail is verified');

# op=stats says so too
my $st = http_get('/pks/lookup?op=stats&options=mr');
my $sj = eval { decode_json($st->{content}) } // {};
ok(exists $sj->{emailVerification} && !$sj->{emailVerification}, 'op=stats JSON: emailVerification false');
like(http_get('/pks/lookup?op=stats')->{content}, qr/E-mail addresses.*not verified/s,
     'op=stats HTML: e-mail addresses not verified');

# the serve policy applies (issue 10's serve view): a redacted user ID is
# not found by e-mail and not listed in the upload status
my $rx = run_cmd([$ENV{HKP_RECONSVC} || "$root/build/reconsvc", 'redact', '--db', $db,
                  $K1{fpr}, 'Recon Vector One <vector1@example.invalid>']);
is($rx->{rc}, 0, 'reconsvc redact of k1\'s user ID') or diag($rx->{err});
is(get("/vks/v1/by-email/$K1{email}")->{status}, 404, 'a redacted user ID: by-email 404');
my $fk = get("/vks/v1/by-fingerprint/$K1{fpr}");
is($fk->{status}, 404, 'a key with its only user ID redacted is not served by fingerprint either (as v1)')
    if http_get("/pks/lookup?op=get&options=mr&search=0x$K1{fpr}")->{status} == 404;

my @no = grep { ($_->[1]{headers}{'access-control-allow-origin'} // '') ne '*' } @answers;
ok(!@no, 'Access-Control-Allow-Origin: * on all ' . scalar(@answers) . ' VKS answers')
    or diag(join "\n", map { "$_->[0] -> $_->[1]{status}" } @no);
unlike(nginx_error_log(), qr/\[(alert|emerg|crit)\]/, 'no alert in the error log');
done_testing;
