#!/usr/bin/perl
# /pks/lookup served by the nginx module from LMDB: every op and search
# form, status codes, headers, HTTP/1.0 framing, HEAD, OPTIONS, CORS, the
# mr index format (doc/hkp.md 3.4.1) and the database-unavailable path.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep);
use HkpTest qw(:all);

my $ROOT = root();
my @DATA = sort glob("$ROOT/t/data/*.asc");

# ------------------------------------------------------------------ keys
# The SKS vectors in t/data, plus keys made here with gpg for what the
# vectors lack: a UID with ':' and '%', a UTF-8 UID, a revoked UID, a
# revoked key, an expired key.

my $T = tmpdir();
my $gh = gpg_home(keyserver => 'hkp://127.0.0.1:9');

sub gen_key {
    my ($uid, @extra) = @_;
    my $r = gpg($gh, @extra, '--passphrase', '', '--quick-gen-key', $uid,
                 'ed25519', 'sign', (grep { /^--faked/ } @extra) ? '1y' : 'never');
    die "gpg --quick-gen-key $uid: $r->{err}" if $r->{rc};
    my $c = gpg($gh, '--with-colons', '--list-keys', $uid);
    my ($fpr) = $c->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
    return $fpr;
}

my $odd = gen_key('Colon: and 100% <odd@example.com>');
gpg($gh, '--passphrase', '', '--quick-add-uid', $odd,
    "Zo\x{c3}\x{ab} \x{c3}\x{86}r\x{c3}\x{b8} \x{e6}\x{97}\x{a5}\x{e6}\x{9c}\x{ac}\x{e8}\x{aa}\x{9e} <zoe\@example.net>");
gpg($gh, '--passphrase', '', '--quick-add-uid', $odd, 'Old Address <old@example.org>');
sleep 1.1;    # the revocation must be newer than the self-signature
gpg($gh, '--passphrase', '', '--yes', '--quick-revoke-uid', $odd, 'Old Address <old@example.org>');

my $rex = gen_key('Rex Revoked <rex@example.com>');
{
    my $rev = slurp("$gh/openpgp-revocs.d/$rex.rev") // die "no revocation cert";
    $rev =~ s/^:-----BEGIN/-----BEGIN/m;
    my $r = gpg($gh, '--import', { stdin => $rev });
    die "import revocation: $r->{err}" if $r->{rc};
}

my $oscar = gen_key('Oscar Oldexpired <oscar@example.com>',
                    '--faked-system-time', '20190101T000000!');

my $genfile = "$T/generated.asc";
{
    my $r = gpg($gh, '--armor', '--export', $odd, $rex, $oscar);
    die "export: $r->{err}" if $r->{rc} || $r->{out} !~ /BEGIN PGP/;
    spew($genfile, $r->{out});
}

my %colons;    # fpr => {algo, ctime, exp}
for my $fpr ($odd, $rex, $oscar) {
    my $c = gpg($gh, '--with-colons', '--list-keys', $fpr)->{out};
    my ($algo, $ctime, $exp) = $c =~ /^pub:[^:]*:\d+:(\d+):[0-9A-F]{16}:(\d+):(\d*):/m;
    $colons{$fpr} = { algo => $algo, ctime => $ctime, exp => $exp };
}

my $db = "$T/db";
my $imp = import_keys($db, @DATA, $genfile);
note "import: $imp";
my $NKEYS = 9 + 3;

# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $base = start_nginx(db => $db, conf => 'hkp_serve_policy full;');
my $L = '/pks/lookup';

sub get { http_get($_[0]) }

sub keys_of {      # primary fingerprints in an armored body, in order
    my ($text) = @_;
    my @k;
    for my $blk (dearmor($text)) {
        push @k, map { key_fpr($_) // '?' } split_keys($blk->[0]);
    }
    return @k;
}

sub blocks_of { scalar(() = $_[0] =~ /-----BEGIN PGP PUBLIC KEY BLOCK-----/g) }

sub cors_ok {
    my ($r, $what) = @_;
    is($r->{headers}{'access-control-allow-origin'}, '*', "$what: CORS header");
}

# ------------------------------------------------------------------ op=get by ID

my %k1 = (fpr => '8236DAA56DF885E6A77B041A20E8C38A2AE840BF',
          sub => 'BB3556C600B38C1AA671B6598B7D547986907D72');
my %k2 = (fpr => '451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E',
          hash => 'B01DB9A46CE7264D3DCD64479010D335');
my $deb = '7DF3D4B58EAD38D84E554E3B68530A812B47DCDE';
my $deb_sub = '3966851E9CBE33F814DA065FE85E05609BC71181';

my @idforms = (
    ['0x' . substr($k1{fpr}, -8), 'primary short ID'],
    ['0x' . substr($k1{fpr}, -16), 'primary long ID'],
    ['0x' . $k1{fpr}, 'primary fingerprint'],
    ['0x' . lc $k1{fpr}, 'lower-case fingerprint'],
    ['0X' . substr($k1{fpr}, -16), '0X prefix'],
    ['0x' . substr($k1{sub}, -8), 'subkey short ID'],
    ['0x' . substr($k1{sub}, -16), 'subkey long ID'],
    ['0x' . $k1{sub}, 'subkey fingerprint'],
    [substr($k1{fpr}, -16), 'bare long ID'],
    [$k1{fpr}, 'bare fingerprint'],
    [join('+', unpack '(A4)*', $k1{fpr}), 'bare fingerprint with spaces'],
);
for my $f (@idforms) {
    my ($s, $what) = @$f;
    my $r = get("$L?op=get&options=mr&search=$s");
    is($r->{status}, 200, "get by $what: 200");
    is_deeply([keys_of($r->{content})], [$k1{fpr}], "get by $what: exactly the key");
}

{
    my $r = get("$L?op=get&options=mr&search=0x$deb_sub");
    is_deeply([keys_of($r->{content})], [$deb], 'get by RSA subkey fingerprint');

    $r = get("$L?op=get&options=mr&search=0x" . substr($k1{fpr}, -16));
    like($r->{headers}{'content-type'}, qr{^application/pgp-keys}, 'get mr: application/pgp-keys');
    is($r->{headers}{'content-disposition'}, 'attachment; filename=gpgkey.asc',
       'get mr: Content-Disposition');
    is($r->{headers}{'x-hkp-results-count'}, 1, 'get mr: X-HKP-Results-Count');
    is($r->{headers}{'cache-control'}, 'no-cache', 'get mr: Cache-Control');
    is($r->{headers}{pragma}, 'no-cache', 'get mr: Pragma');
    is($r->{headers}{expires}, '0', 'get mr: Expires');
    cors_ok($r, 'get mr');
    like($r->{content}, qr/\A-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n/, 'armor starts with BEGIN and an empty line');
    like($r->{content}, qr/\n=[A-Za-z0-9+\/]{4}\n-----END PGP PUBLIC KEY BLOCK-----\n\z/, 'armor has a CRC line and ends with END');
    my ($blk) = dearmor($r->{content});
    is($blk->[1], 1, 'armor CRC is right');
    my ($key) = split_keys($blk->[0]);
    is(sks_hash($key), '50ED94C61884E160D6F8C91DA546C429', 'served key has the SKS vector hash');

    # the file's key comes back with the same packets
    my ($want) = dearmor(slurp("$ROOT/t/data/k2-rsa2048.asc"));
    $r = get("$L?op=get&options=mr&search=0x$k2{fpr}");
    my ($got) = dearmor($r->{content});
    is(sks_hash([map { @$_ } split_keys($got->[0])]), sks_hash([map { @$_ } split_keys($want->[0])]),
       'RSA key served with the packets that were imported');
}

# ------------------------------------------------------------------ get without mr: HTML

{
    my $r = get("$L?op=get&search=0x" . substr($k1{fpr}, -16));
    is($r->{status}, 200, 'get HTML: 200');
    like($r->{headers}{'content-type'}, qr{^text/html}, 'get HTML: text/html');
    like($r->{content}, qr{<pre>\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n.*-----END PGP PUBLIC KEY BLOCK-----\n</pre>}s,
         'get HTML: armor inside <pre>');
    is_deeply([keys_of($r->{content})], [$k1{fpr}], 'get HTML: the armor holds the key');
    ok(!exists $r->{headers}{'content-disposition'}, 'get HTML: no attachment');
}

# ------------------------------------------------------------------ text search

{
    my $r = get("$L?op=get&options=mr&search=vector");
    is($r->{status}, 200, 'get by word: 200');
    is(blocks_of($r->{content}), 1, 'get by word: all keys in ONE armor block');
    is(scalar(my @k = keys_of($r->{content})), 4, 'get by word: 4 keys');
    is($r->{headers}{'x-hkp-results-count'}, 4, 'get by word: X-HKP-Results-Count 4');

    $r = get("$L?op=index&options=mr&search=recon+vector+two");
    is($r->{status}, 200, 'AND search: 200');
    is($r->{content}, "info:1:1\npub:$k2{fpr}:1:2048:1795884093::\n"
                    . "uid:Recon Vector Two <vector2\@example.invalid>:1795884093::\n",
       'AND search: exactly the RSA key, exact mr lines');

    $r = get("$L?op=index&options=mr&search=TWO%20Recon");
    like($r->{content}, qr/^pub:$k2{fpr}:/m, 'word order and case do not matter');

    $r = get("$L?op=index&options=mr&search=vector+extra");
    is($r->{status}, 404, 'AND of words that no key has together: 404');
    cors_ok($r, '404');

    $r = get("$L?op=index&options=mr&search=vect");
    is($r->{status}, 404, 'partial word: 404');

    $r = get("$L?op=index&options=mr&search=recon");
    is($r->{status}, 200, 'search recon: 200');
    my @ct = $r->{content} =~ /^pub:[0-9A-F]+:\d+:\d+:(\d+):/mg;
    is(scalar @ct, 8, 'search recon: 8 keys');
    is_deeply(\@ct, [sort { $b <=> $a } @ct], 'text results: newest primary key first');
    like($r->{content}, qr/\Ainfo:1:8\n/, 'info line counts the keys');

    # e-mail: words without exact, whole mailbox with exact=on
    $r = get("$L?op=index&options=mr&search=vector1\@example.invalid");
    is_deeply([$r->{content} =~ /^pub:([0-9A-F]+):/mg], [$k1{fpr}], 'e-mail as words');
    $r = get("$L?op=get&options=mr&search=vector1\@example.invalid&exact=on");
    is_deeply([keys_of($r->{content})], [$k1{fpr}], 'exact=on e-mail (gpg --locate-keys)');
    $r = get("$L?op=get&options=mr&search=%3CVector1\@Example.invalid%3E&exact=on");
    is_deeply([keys_of($r->{content})], [$k1{fpr}], 'exact=on e-mail in angle brackets, any case');
    $r = get("$L?op=get&options=mr&search=vector1\@example&exact=on");
    is($r->{status}, 404, 'exact=on: a partial mailbox does not match');
    $r = get("$L?op=index&options=mr&search=odd\@example.com&exact=on");
    is_deeply([$r->{content} =~ /^pub:([0-9A-F]+):/mg], [$odd], 'exact=on finds a generated key');

    # UTF-8 words
    $r = get("$L?op=index&options=mr&search=zo%C3%AB");
    is_deeply([$r->{content} =~ /^pub:([0-9A-F]+):/mg], [$odd], 'UTF-8 word search');
    $r = get("$L?op=index&options=mr&search=ZO%C3%8B");
    is_deeply([$r->{content} =~ /^pub:([0-9A-F]+):/mg], [$odd], 'UTF-8 word search folds case');
}

# ------------------------------------------------------------------ mr index format

{
    my $r = get("$L?op=index&options=mr&search=0x$deb");
    is($r->{status}, 200, 'index by fingerprint: 200');
    like($r->{headers}{'content-type'}, qr{^text/plain}, 'mr index: text/plain');
    is($r->{headers}{'x-hkp-results-count'}, 1, 'mr index: X-HKP-Results-Count');
    is($r->{content}, "info:1:1\n"
        . "pub:$deb:1:2048:1259179203:1485142689:e\n"
        . "uid:Jay Bonci <jaybonci\@debian.org>:1390534692::\n",
        'Debian key: pub with expiry and e flag, uid with self-sig time');

    $r = get("$L?op=index&options=mr&search=0x" . substr($k1{fpr}, -16));
    is($r->{content}, "info:1:1\npub:$k1{fpr}:22:256:1795884093::\n"
        . "uid:Recon Vector One <vector1\@example.invalid>:1795884093::\n",
        'Ed25519 key: 256 bits (as SKS), no expiry');

    $r = get("$L?op=index&options=mr&search=0x$odd");
    my $c = $colons{$odd};
    like($r->{content}, qr/\Ainfo:1:1\npub:$odd:22:256:$c->{ctime}::\n/, 'generated key: pub line');
    like($r->{content}, qr/^uid:Colon%3A and 100%25 <odd\@example.com>:$c->{ctime}::\n/m,
         "uid escaping: ':' -> %3A and '%' -> %25");
    like($r->{content},
         qr/^uid:Zo%C3%AB %C3%86r%C3%B8 %E6%97%A5%E6%9C%AC%E8%AA%9E <zoe\@example.net>:\d+::\n/m,
         'uid escaping: bytes >= 0x80 as upper-case %XX');
    like($r->{content}, qr/^uid:Old Address <old\@example.org>:\d+::r\n/m, 'revoked uid: r flag');
    is(scalar(() = $r->{content} =~ /^uid:/mg), 3, 'one uid line per user ID');
    unlike($r->{content}, qr/\r/, 'LF line endings');

    $r = get("$L?op=index&options=mr&search=0x$rex");
    like($r->{content}, qr/^pub:$rex:22:256:$colons{$rex}{ctime}::r\n/m, 'revoked key: r flag');

    $r = get("$L?op=index&options=mr&search=0x$oscar");
    $c = $colons{$oscar};
    is($c->{ctime}, 1546300800, 'expired key made in 2019');
    like($r->{content}, qr/^pub:$oscar:22:256:1546300800:$c->{exp}:e\n/m,
         'expired key: exptime and e flag');

    # vindex mr = index mr
    my $v = get("$L?op=vindex&options=mr&search=0x$odd");
    my $i = get("$L?op=index&options=mr&search=0x$odd");
    is($v->{content}, $i->{content}, 'vindex mr equals index mr');
}

# ------------------------------------------------------------------ HTML index / vindex

{
    my $r = get("$L?op=index&search=vector&fingerprint=on");
    is($r->{status}, 200, 'HTML index: 200');
    like($r->{headers}{'content-type'}, qr{^text/html}, 'HTML index: text/html');
    my $long = substr($k1{fpr}, -16);
    like($r->{content}, qr{<a href="/pks/lookup\?op=get&amp;search=0x$long">}, 'HTML index: op=get link by long ID');
    like($r->{content}, qr{Recon Vector One &lt;vector1\@example.invalid&gt;}, 'HTML index: UID escaped');
    like($r->{content}, qr{Fingerprint=8236 DAA5 6DF8 85E6 A77B  041A 20E8 C38A 2AE8 40BF}, 'fingerprint=on');
    unlike(get("$L?op=index&search=vector")->{content}, qr/Fingerprint=/, 'no fingerprint without fingerprint=on');

    $r = get("$L?op=index&search=0x$odd");
    like($r->{content}, qr{Colon: and 100% &lt;odd\@example.com&gt;}, 'HTML: UID text escaped for HTML');

    $r = get("$L?op=index&search=0x$rex");
    like($r->{content}, qr/KEY REVOKED/, 'HTML: revoked key marked');

    $r = get("$L?op=vindex&search=0x$deb");
    is($r->{status}, 200, 'HTML vindex: 200');
    like($r->{content}, qr{<strong>uid</strong> <span class="uid">Jay Bonci &lt;jaybonci\@debian.org&gt;</span>}, 'vindex: uid line');
    like($r->{content}, qr{^sig sig3  <a href="/pks/lookup\?op=get&amp;search=0x68530A812B47DCDE">2B47DCDE</a> 2014-01-24 __________ 2017-01-23 \[selfsig\]$}m,
         'vindex: self-signature line');
    like($r->{content}, qr{<strong>sub</strong> 2048R/<a href="/pks/lookup\?op=get&amp;search=0xE85E05609BC71181">9BC71181</a>}, 'vindex: subkey');
    like($r->{content}, qr{^sig sbind }m, 'vindex: subkey binding signature');

    $r = get("$L?search=vector&options=mr");
    like($r->{content}, qr/\Ainfo:1:4\n/, 'missing op = index');
    $r = get("$L?OP=GET&Options=MR&search=0x$k1{fpr}");
    like($r->{content}, qr/BEGIN PGP PUBLIC KEY BLOCK/, 'names and keyword values are case-insensitive');
    $r = get("$L?op=index&op=get&options=mr&search=0x$k1{fpr}");
    like($r->{content}, qr/BEGIN PGP PUBLIC KEY BLOCK/, 'last parameter wins');
    $r = get("$L?op=get&options=mr&search=0x$k1{fpr}&mr&&");
    is($r->{status}, 200, 'pieces without = are ignored');
}

# ------------------------------------------------------------------ hget

{
    my $r = get("$L?op=hget&options=mr&search=$k2{hash}");
    is($r->{status}, 200, 'hget: 200');
    my ($blk) = dearmor($r->{content});
    is(sks_hash([map { @$_ } split_keys($blk->[0])]), $k2{hash}, 'hget: key with that hash');
    is($r->{headers}{'x-hkp-results-count'}, 1, 'hget: results count');
    $r = get("$L?op=x-hget&options=mr&search=" . lc $k2{hash});
    is($r->{status}, 200, 'x-hget with a lower-case hash');
    $r = get("$L?op=hget&options=mr&search=" . ('0' x 32));
    is($r->{status}, 404, 'hget: unknown hash 404');
    $r = get("$L?op=hget&options=mr&search=ABCD");
    is($r->{status}, 400, 'hget: short hash 400');
}

# ------------------------------------------------------------------ stats

{
    my $r = get("$L?op=stats");
    is($r->{status}, 200, 'stats HTML: 200');
    like($r->{headers}{'content-type'}, qr{^text/html}, 'stats HTML: text/html');
    for my $h ('<h2>Settings</h2>', '<h2>Gossip Peers</h2>', '<h2>Statistics</h2>',
               '<h3>Daily Histogram</h3>', '<h3>Hourly Histogram</h3>') {
        like($r->{content}, qr/\Q$h\E/, "stats HTML: $h");
    }
    like($r->{content}, qr{<tr><td>Hostname:</td><td>[^<]+</td></tr>}, 'stats HTML: Hostname row');
    like($r->{content}, qr{<tr><td>HTTP port:</td><td>${\ port()}</td></tr>}, 'stats HTML: HTTP port row');
    like($r->{content}, qr/Total number of keys: $NKEYS\b/, "stats HTML: live key count $NKEYS");
    cors_ok($r, 'stats');

    $r = get("$L?op=stats&options=mr");
    is($r->{status}, 200, 'stats JSON: 200');
    like($r->{headers}{'content-type'}, qr{^application/json}, 'stats JSON: application/json');
    my $j = eval { JSON::PP::decode_json($r->{content}) };
    ok($j, 'stats JSON parses') or diag $@;
    is($j->{total}, $NKEYS, 'stats JSON: total');
    ok(defined $j->{version} && defined $j->{hostname} && ref $j->{peers} eq 'ARRAY',
       'stats JSON: version, hostname, peers');
    is($j->{httpAddr}, ':' . port(), 'stats JSON: httpAddr');

    is(get("$L?op=x-stats")->{status}, 200, 'x-stats');
    is(get("/pks/stats?options=json")->{headers}{'content-type'}, 'application/json', '/pks/stats JSON');
}

# ------------------------------------------------------------------ errors

{
    my @bad = (
        ["op=get&options=mr&search=0x" . ('A' x 32), 501, qr/v3/, 'v3 fingerprint'],
        ["op=get&options=mr&search=0x1234", 400, qr/hex digits/, '0x + 4 hex'],
        ["op=get&options=mr&search=0x" . ('A' x 12), 400, qr/hex digits/, '0x + 12 hex'],
        ["op=get&options=mr&search=0x", 400, qr/hex digits/, '0x alone'],
        ["op=get&options=mr&search=0xZZZZZZZZ", 400, qr/hexadecimal/, '0x + non-hex'],
        ["op=get&options=mr", 400, qr/[Mm]issing search/, 'missing search'],
        ["op=get&options=mr&search=", 400, qr/[Mm]issing search/, 'empty search'],
        ["op=index&options=mr&search=" . ('a' x 1025), 400, qr/too long/, 'search too long'],
        ["op=index&options=mr&search=" . join('+', map { "w$_" } 1 .. 17), 400, qr/words/, '17 words'],
        ["op=index&options=mr&search=%21%21%21", 400, qr/no words/, 'no words'],
        ["op=index&options=mr&search=" . ('w' x 129), 400, qr/word is too long \(over 128 bytes\)/, 'one word over 128 bytes'],
        ["op=index&options=mr&search=debian+" . ('w' x 129), 400, qr/word is too long/, 'a word over 128 bytes beside a short one'],
        ["op=frobnicate&search=x", 501, qr/[Uu]nknown op/, 'unknown op'],
        ["op=x-get&search=x", 501, qr/[Uu]nknown op/, 'x-get is unknown'],
        ["op=get&options=mr&search=0x00000000", 404, qr/No keys/, 'unknown short ID'],
        ["op=get&options=mr&search=0x" . ('0' x 40), 404, qr/No keys/, 'unknown fingerprint'],
        ["op=get&options=mr&search=0x" . ('0' x 64), 404, qr/No keys/, 'unknown v6 fingerprint'],
        ["op=get&options=mr&search=nosuchwordanywhere", 404, qr/No keys/, 'unknown word'],
    );
    for my $b (@bad) {
        my ($q, $st, $re, $what) = @$b;
        my $r = get("$L?$q");
        is($r->{status}, $st, "$what: $st");
        like($r->{content}, $re, "$what: reason");
        is(scalar(() = $r->{content} =~ /\n/g), 1, "$what: one-line reason");
        cors_ok($r, $what) if $st != 404;
    }

    my $r = get('/pks/nothing');
    is($r->{status}, 404, 'unknown /pks/ path: 404');
    cors_ok($r, 'unknown path');
    $r = http_req('POST', "$L?op=get&search=0x$k1{fpr}", { 'Content-Type' => 'text/plain' }, 'x');
    is($r->{status}, 405, 'POST to lookup: 405');
    like($r->{headers}{allow}, qr/GET/, '405 has Allow');
    cors_ok($r, '405');
    $r = http_req('DELETE', "$L?op=get&search=0x$k1{fpr}");
    is($r->{status}, 405, 'DELETE: 405');
}

# ------------------------------------------------------------------ HEAD, OPTIONS

{
    my $url = "$L?op=get&options=mr&search=0x$k1{fpr}";
    my $g = get($url);
    my $h = http_req('HEAD', $url);
    is($h->{status}, 200, 'HEAD: 200');
    is($h->{content}, '', 'HEAD: no body');
    is($h->{headers}{'content-length'}, length $g->{content}, 'HEAD: Content-Length of the GET body');
    is($h->{headers}{'x-hkp-results-count'}, 1, 'HEAD: results count');
    cors_ok($h, 'HEAD');
    is(http_req('HEAD', "$L?op=get&search=0x00000000")->{status}, 404, 'HEAD of a missing key: 404');

    my $o = http_req('OPTIONS', $L);
    is($o->{status}, 204, 'OPTIONS: 204');
    like($o->{headers}{allow}, qr/GET/, 'OPTIONS: Allow');
    like($o->{headers}{'access-control-allow-methods'}, qr/GET/, 'OPTIONS: Access-Control-Allow-Methods');
    ok($o->{headers}{'access-control-allow-headers'}, 'OPTIONS: Access-Control-Allow-Headers');
    cors_ok($o, 'OPTIONS');
}

# ------------------------------------------------------------------ framing

{
    my $path = "$L?op=get&options=mr&search=0x" . substr($k1{fpr}, -16);
    for my $proto ('HTTP/1.0', 'HTTP/1.1') {
        my $raw = raw_http(undef, "GET $path $proto\r\nHost: x\r\nConnection: close\r\n\r\n");
        my $p = parse_http($raw);
        ok($p, "$proto: response parsed") or next;
        is($p->{status}, 200, "$proto: 200");
        ok(!exists $p->{headers}{'transfer-encoding'}, "$proto: not chunked");
        is($p->{headers}{'content-length'}, length $p->{body}, "$proto: Content-Length matches the body");
        like($p->{body}, qr/\A-----BEGIN PGP PUBLIC KEY BLOCK-----/, "$proto: armor body");
    }
    # dirmngr's exact request: HTTP/1.0, no User-Agent, Pragma/Cache-Control
    my $raw = raw_http(undef, "GET /pks/lookup?op=index&options=mr&fingerprint=on&search=vector2\@example.invalid HTTP/1.0\r\n"
                            . "Host: localhost:" . port() . "\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n");
    my $p = parse_http($raw);
    is($p->{status}, 200, 'dirmngr-style search: 200');
    like($p->{body}, qr/\Ainfo:1:1\npub:$k2{fpr}:/, 'dirmngr-style search: mr body');
    is($p->{headers}{'content-length'}, length $p->{body}, 'dirmngr-style search: Content-Length');
}

# ------------------------------------------------------------------ limits

{
    my $b2 = start_nginx(db => $db, conf => 'hkp_max_results 3; hkp_max_candidates 5; hkp_serve_policy full;');
    my $r = http_get("$b2$L?op=index&options=mr&search=vector");
    is($r->{status}, 400, 'more keys than hkp_max_results: 400');
    like($r->{content}, qr/^Too many responses, refine the search$/m, 'too many: reason');
    cors_ok($r, 'too many');
    $r = http_get("$b2$L?op=get&options=mr&search=vector+two");
    is($r->{status}, 200, 'a narrower search under the limits works');
    $r = http_get("$b2$L?op=index&options=mr&search=invalid");
    is($r->{status}, 400, 'more candidates than hkp_max_candidates: 400');
    like($r->{content}, qr/specific/, 'too many candidates: reason');
    stop_nginx($b2);
}

# ------------------------------------------------------------------ database not available

{
    my $late = "$T/late-db";
    my $b3 = start_nginx(db => $late, conf => 'hkp_serve_policy full;');
    my $r = http_get("$b3$L?op=get&options=mr&search=0x$k1{fpr}");
    is($r->{status}, 503, 'no database: 503');
    like($r->{content}, qr/[Dd]atabase not available/, 'no database: reason');
    cors_ok($r, '503');
    is(http_get("$b3$L?op=stats")->{status}, 503, 'no database: stats 503');
    my $log = nginx_error_log($b3);
    like($log, qr/hkp: cannot open database "\Q$late\E"/, 'the failure is logged with the path');
    import_keys($late, "$ROOT/t/data/k1-ed25519.asc");
    my $st = 0;
    for (1 .. 40) {
        $st = http_get("$b3$L?op=get&options=mr&search=0x$k1{fpr}")->{status};
        last if $st == 200;
        sleep 0.1;
    }
    is($st, 200, 'the database is opened once it exists');
    my $n = () = nginx_error_log($b3) =~ /cannot open database/g;
    is($n, 1, 'the open failure was logged once');
    stop_nginx($b3);
}

unlike(nginx_error_log($base), qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');

done_testing;
