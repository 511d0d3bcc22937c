#!/usr/bin/perl
# HKP v1 answers are byte-identical with the v2 and VKS locations added
# (issue 12): the machine-readable lookups (op=get/index/vindex with
# options=mr) of a fixed set of keys, v4 and v6, are compared
# with t/data/v1-answers.sha256, recorded from the build of main before
# issue 12 (690c0a1) with
#   HKP_RECORD=t/data/v1-answers.sha256 HKP_MODULE_SO=<main>/build/ngx_hkp_module.so \
#   HKP_RECONSVC=<main>/build/reconsvc prove t/29-v1-unchanged.t
# Each line: request, status, then (for 200s) SHA-256 of Content-Type,
# X-HKP-Results-Count and the body. Error bodies are not compared (their
# format is another issue's).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use HkpTest qw(:all);

my $root = root();
my $db = tmpdir() . '/db';
import_keys($db, map("$root/t/data/$_", qw(k1-ed25519.asc k2-rsa2048.asc
    k3-ed25519.asc k4-ed25519.asc debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc)),
    "$root/t/data/sigverify/v6-ed25519.pgp", "$root/t/data/sigverify/rfc9580-a3-v6-cert.asc");
# with the v2 and VKS locations beside /pks/ (not when recording from a
# build that has no such directives)
# (and, since the serve policy of issue 10 changes v1 answers on purpose,
# with hkp_serve_policy full, the stored keys as they are)
start_nginx(db => $db, conf => $ENV{HKP_RECORD} ? ''
    : 'hkp_serve_policy full; location /pks/v2/ { hkp_v2; } location /vks/v1/ { hkp_vks; }');

my $v6 = '360BBAF2AAE03A2FD1F781174080B4A5928A4BB39CB684A618357E3E14EA0F84';
my @searches = ('0x8236DAA56DF885E6A77B041A20E8C38A2AE840BF', '0x20E8C38A2AE840BF',
    '0xBB3556C600B38C1AA671B6598B7D547986907D72', '0x451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E',
    '0x7DF3D4B58EAD38D84E554E3B68530A812B47DCDE', "0x$v6", '0x360BBAF2AAE03A2F',
    'Recon', 'vector3@example.invalid', 'Vector Four', 'sigverify.test', 'nobody',
    '0xCB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9');
my @reqs;
for my $s (@searches) {
    (my $e = $s) =~ s/([^A-Za-z0-9._-])/sprintf('%%%02X', ord $1)/ge;
    push @reqs, map { "/pks/lookup?op=$_&options=mr&search=$e" } qw(get index vindex);
    push @reqs, "/pks/lookup?op=index&options=mr&exact=on&search=$e";
}

my @lines;
for my $u (@reqs) {
    my $r = http_get($u);
    my $line = "$u $r->{status}";
    if ($r->{status} == 200) {
        $line .= ' ' . sha256_hex(join "\n", $r->{headers}{'content-type'} // '',
            $r->{headers}{'x-hkp-results-count'} // '', $r->{content});
    }
    push @lines, $line;
}

if (my $out = $ENV{HKP_RECORD}) {
    spew($out, join('', map "$_\n", @lines));
    pass("recorded " . scalar(@lines) . " answers into $out");
    done_testing;
    exit;
}

my @want = split /\n/, slurp("$root/t/data/v1-answers.sha256") // '';
is(scalar @lines, scalar @want, 'as many answers as recorded');
for my $i (0 .. $#lines) {
    is($lines[$i], $want[$i] // '', "v1 answer $i unchanged");
}
ok((grep { / 200 / } @lines) >= 40, 'most recorded answers are found keys');
done_testing;
