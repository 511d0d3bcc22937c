#!/usr/bin/perl
# POST /pks/add: every body form real clients send (curl urlencoded and
# multipart, sq's raw '=', gpg --send-keys, sq keyserver send, raw binary),
# several keys and blocks, the per-key reply (HTML and options=mr JSON),
# SKS merge semantics checked by key hash, malformed and oversize uploads
# (4xx, store unchanged), operator limits, concurrent uploads, and lookups
# answered while a big upload is being written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use HkpTest qw(:all);

for my $c (qw(gpg gpgconf sq curl)) {
    BAIL_OUT("$c is not installed (./build.sh test installs it)") unless have_cmd($c);
}
my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();
my $JSON = JSON::PP->new;

# ------------------------------------------------------------------ keys

my $gh = gpg_home(keyserver => 'hkp://127.0.0.1:9');

sub gen_key {
    my ($home, $uid, $algo) = @_;
    my $r = gpg($home, '--passphrase', '', '--quick-gen-key', $uid, $algo // 'ed25519',
                'sign', 'never');
    die "gpg --quick-gen-key $uid: $r->{err}" if $r->{rc};
    my $c = gpg($home, '--with-colons', '--list-keys', "=$uid");
    my ($fpr) = $c->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
    die "no fingerprint for $uid" unless $fpr;
    return $fpr;
}

sub export_pkts {          # the packets gpg exports for a key
    my ($home, $fpr) = @_;
    my $r = gpg($home, '--export', $fpr);
    die "export $fpr: $r->{err}" if $r->{rc} || !length $r->{out};
    return parse_packets($r->{out});
}

sub export_armor {
    my ($home, $fpr) = @_;
    my $r = gpg($home, '--armor', '--export', $fpr);
    die "export $fpr: $r->{err}" if $r->{rc} || $r->{out} !~ /BEGIN PGP/;
    return $r->{out};
}

# Fragments of a key: [primary + direct sigs] and one [primary + block]
# per UID/UAT/subkey with its signatures.
sub fragments {
    my ($pk) = @_;
    my @blocks;
    my @head = ($pk->[0]);
    my $i = 1;
    push @head, $pk->[$i++] while $i < @$pk && $pk->[$i]{tag} == 2;
    while ($i < @$pk) {
        my @b = ($pk->[$i++]);
        push @b, $pk->[$i++] while $i < @$pk && $pk->[$i]{tag} == 2;
        push @blocks, [$pk->[0], @b];
    }
    return ([@head], @blocks);
}

# ------------------------------------------------------------------ server

my $db = "$T/db";
import_keys($db, "$DATA/k1-ed25519.asc");
# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $base = start_nginx(db => $db, workers => 2, conf => 'hkp_serve_policy full;');
my $port = port();
note "nginx at $base";

sub stats_total {
    my ($b) = @_;
    my $r = http_get(($b // $base) . '/pks/lookup?op=stats&options=mr');
    return undef unless $r->{status} == 200;
    return $JSON->decode($r->{content})->{total};
}

# The SKS hash of the key stored under this fingerprint (computed here from
# op=get's packets), or undef when there is none.
sub stored_hash {
    my ($fpr, $b) = @_;
    my $r = http_get(($b // $base) . "/pks/lookup?op=get&options=mr&search=0x$fpr");
    return undef unless $r->{status} == 200;
    my @blk = dearmor($r->{content});
    my @keys = split_keys(join '', map { $_->[0] } @blk);
    return @keys == 1 ? sks_hash($keys[0]) : "several keys (" . scalar(@keys) . ")";
}

sub hget_status {
    my ($hash, $b) = @_;
    return http_get(($b // $base) . "/pks/lookup?op=hget&options=mr&search=$hash")->{status};
}

sub curl_add {             # curl ARGS... URL -> {status, headers, body}
    my ($url, @args) = @_;
    my $r = run_cmd(['curl', '-sS', '-i', @args, $url], timeout => 120);
    my $raw = $r->{out};
    $raw =~ s/\AHTTP\/1\.[01] 100 Continue\r?\n\r?\n//;
    my $p = parse_http($raw) // { status => 0, body => "curl rc=$r->{rc}: $r->{err}" };
    return $p;
}

sub post {                 # raw POST body
    my ($body, $ctype, $path, $b) = @_;
    return http_req('POST', ($b // $base) . ($path // '/pks/add'),
                    { 'Content-Type' => $ctype // 'application/x-www-form-urlencoded' }, $body);
}

sub json_of {
    my ($s) = @_;
    my $j = eval { $JSON->decode($s) };
    return $j // { error => "not JSON: $s" };
}

sub urlenc_all {           # dirmngr-style: everything but alnum escaped
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub urlenc_sq {            # sequoia-style: '=' left raw
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9=\-_.~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub hashes_of {            # {outcome => [hash...]} of an mr reply
    my ($j, $what) = @_;
    return [ map { $_->{hash} } @{ $j->{$what} // [] } ];
}

my %H = (      # t/data/hashes.txt
    k2 => 'B01DB9A46CE7264D3DCD64479010D335', k3dup => '39B1F79DC69266314C6AD3ED3A5F06BF',
    k3 => '84D77DC5D86163BC803AD2CD5C789E99', k4 => 'D6098F23D29F7D3D776892775ADDBE3C',
    k5 => '7934B4A7E7EF834E680A4A899536CDC0', k6 => '2108FA6CB90EEFB0C527AD6CA06F840A',
    k7 => '24AD9C8DCFDBEA5C0CCC0054CB24ECFC', k8 => '1C39089AA661517C6B34F9AA2588E256',
);
my %F = (
    k2 => '451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E', k3 => 'F24511A38E1F7ADFD95D3952EA498F20AD79F7AC',
    k4 => 'B4C5A495B4BFFC9CAA8731DD8F795EA356300AE6', k5 => '0BEBE28117B7F23865DCCCC97DBCCCC7E0786E61',
    k6 => '9C7C8112120358EE1A3F0020958A5BA742CEAF24', k7 => '756312A9860891BF7FEB5A90C037ABC624C1063D',
    k8 => '40C0EEB58EAA20BE1574A4B5440EFEE97BD5A159',
);

# ------------------------------------------------------------------ body forms

my $n0 = stats_total();
is($n0, 1, 'the store starts with one key');

{
    my $r = curl_add("$base/pks/add", '--data-urlencode', "keytext\@$DATA/k2-rsa2048.asc");
    is($r->{status}, 200, 'curl --data-urlencode keytext@file: 200');
    like($r->{body}, qr/\Q$F{k2}\E\): added as a new key, hash $H{k2}/, 'HTML reply names the key, its fate and hash');
    like($r->{body}, qr/Key block added to key server database\./, 'SKS summary line');
    is($r->{headers}{'x-hkp-results-count'}, 1, 'X-HKP-Results-Count: keys in the upload');
    like($r->{headers}{'content-type'}, qr{^text/html}, 'HTML by default');
    is(stored_hash($F{k2}), $H{k2}, 'stored with the SKS hash');
    is(stats_total(), $n0 + 1, 'count +1');

    $r = curl_add("$base/pks/add?options=mr", '--data-urlencode', "keytext\@$DATA/k2-rsa2048.asc");
    is($r->{status}, 200, 'the same upload again: 200 (nothing new is success)');
    my $j = json_of($r->{body});
    is_deeply([$j->{inserted}, $j->{updated}, $j->{invalid}], [[], [], []], 'mr: nothing inserted/updated/invalid');
    is_deeply($j->{unchanged}, [{ index => 0, fingerprint => $F{k2}, hash => $H{k2} }], 'mr: unchanged entry');
    like($r->{headers}{'content-type'}, qr{^application/json}, 'options=mr in the query: JSON');
    is(stats_total(), $n0 + 1, 'count unchanged');

    $r = curl_add("$base/pks/add", '-F', "keytext=\@$DATA/k4-repeated-blocks.asc", '-F', 'options=mr');
    is($r->{status}, 200, 'curl -F keytext=@file (multipart): 200');
    $j = json_of($r->{body});
    is_deeply(hashes_of($j, 'inserted'), [$H{k4}], 'multipart, options=mr form field: JSON, repeats collapsed (k4 hash)');

    # urlencoded, keytext not first, sq's raw '=' (padding and CRC line)
    my $k5 = slurp("$DATA/k5-ed25519.asc");
    like(urlenc_sq($k5), qr/=[A-Za-z0-9]{4}%0A/, 'the sq-style body keeps a raw =CRC');
    $r = post('options=mr&keytext=' . urlenc_sq($k5) . '&x=y');
    is($r->{status}, 200, 'options before keytext, raw "=", a field after: 200');
    is_deeply(hashes_of(json_of($r->{content}), 'inserted'), [$H{k5}], '... k5 inserted');

    # several keys in one armor block, and a second block
    my $b67 = join '', map { (dearmor(slurp("$DATA/$_.asc")))[0][0] } qw(k6-ed25519 k7-ed25519);
    my $text = "Some leading text\n" . enarmor($b67) . "\nbetween the blocks\n" . slurp("$DATA/k8-ed25519.asc");
    $r = post('keytext=' . urlenc_all($text) . '&options=mr');
    is($r->{status}, 200, 'two keys in one block + a second block: 200');
    my $jj = json_of($r->{content});
    is_deeply([map { [$_->{index}, $_->{fingerprint}, $_->{hash}] } @{ $jj->{inserted} }],
              [[0, $F{k6}, $H{k6}], [1, $F{k7}, $H{k7}], [2, $F{k8}, $H{k8}]],
              'every key of every block inserted, in upload order');
    is($r->{headers}{'x-hkp-results-count'}, 3, 'X-HKP-Results-Count 3');

    # raw binary body
    $r = post((dearmor(slurp("$DATA/k3-dupsig.asc")))[0][0], 'application/pgp-keys', '/pks/add?options=mr');
    is($r->{status}, 200, 'raw binary body (application/pgp-keys): 200');
    is_deeply(hashes_of(json_of($r->{content}), 'inserted'), [$H{k3dup}], '... k3-dupsig stored with its SKS hash');

    # the SKS-verified merge: k3-dupsig, then k3-ed25519
    $r = curl_add("$base/pks/add?options=mr", '--data-urlencode', "keytext\@$DATA/k3-ed25519.asc");
    $j = json_of($r->{body});
    is_deeply(hashes_of($j, 'updated'), [$H{k3}], 'k3-ed25519 merged into k3-dupsig');
    is_deeply($j->{updated}[0]{replaced}, [$H{k3dup}], '... replacing the old hash');
    is(hget_status($H{k3}), 200, "op=hget $H{k3} (the SKS result) found");
    is(hget_status($H{k3dup}), 404, 'the replaced hash is gone');
    is(stats_total(), $n0 + 7, 'count: k2 k4 k5 k6 k7 k8 k3');
}

# ------------------------------------------------------------------ gpg and sq

{
    my $fpr = gen_key($gh, 'Gina Sender <gina@example.com>');
    my $send = gpg_home();
    gpg($send, '--import', { stdin => export_armor($gh, $fpr) });
    my $r = gpg($send, '--send-keys', $fpr);
    is($r->{rc}, 0, 'gpg --send-keys: success') or diag "$r->{out}$r->{err}";
    my $recv = gpg_home();
    $r = gpg($recv, '--recv-keys', $fpr);
    is($r->{rc}, 0, 'gpg --recv-keys in another GNUPGHOME') or diag "$r->{out}$r->{err}";
    like(gpg($recv, '--with-colons', '--list-keys', $fpr)->{out}, qr/^fpr:+$fpr:/m, '... has the key');
    is(stored_hash($fpr), sks_hash(export_pkts($gh, $fpr)), 'stored hash = hash of what gpg sent');

    my $qfpr = gen_key($gh, 'Quentin Sequoia <quentin@example.com>');
    my $file = "$T/quentin.asc";
    spew($file, export_armor($gh, $qfpr));
    $r = run_cmd(['sq', 'keyserver', '-p', 'insecure', '-s', "hkp://127.0.0.1:$port", 'send', $file],
                 timeout => 60);
    is($r->{rc}, 0, 'sq keyserver send FILE: success') or diag "$r->{out}$r->{err}";
    is(stored_hash($qfpr), sks_hash(export_pkts($gh, $qfpr)), 'stored hash = hash of what sq sent');
}

# ------------------------------------------------------------------ merge semantics

{
    my $x = gen_key($gh, 'Xavier Merge <xavier@example.com>');
    my @up;                                   # everything uploaded so far
    my $upload = sub {
        my ($pkts, $name, $want) = @_;
        push @up, $pkts;
        my $r = post(packets_bin($pkts), 'application/pgp-keys', '/pks/add?options=mr');
        my $j = json_of($r->{content});
        is($r->{status}, 200, "$name: 200");
        my $expect = sks_hash([dedup_packets(@up)]);
        my ($what) = grep { @{ $j->{$_} // [] } } qw(inserted updated unchanged invalid);
        is($what // 'none', $want, "$name: reported $want");
        is(stored_hash($x), $expect, "$name: stored hash = hash of the union of all uploads");
        is(hget_status($expect), 200, "$name: op=hget finds it");
        return $expect;
    };

    my $h0 = $upload->(export_pkts($gh, $x), 'primary + UID', 'inserted');

    gpg($gh, '--passphrase', '', '--quick-add-uid', $x, 'Xavier Second <x2@example.org>');
    my $full = export_pkts($gh, $x);
    my @fr = fragments($full);
    my ($newuid) = grep { $_->[1]{tag} == 13 && $_->[1]{body} =~ /x2\@example/ } @fr[1 .. $#fr];
    ok($newuid, 'fragment with the new UID built');
    my $h1 = $upload->($newuid, 'new UID (fragment: primary + UID + its sig)', 'updated');
    is($h1, sks_hash($full), '... equals gpg\'s full export');
    like(http_get("$base/pks/lookup?op=index&options=mr&search=0x$x")->{content}, qr/^uid:Xavier Second/m,
         '... the new UID is listed');

    gpg($gh, '--passphrase', '', '--quick-add-key', $x, 'cv25519', 'encr');
    $full = export_pkts($gh, $x);
    $upload->($full, 'new subkey (full export)', 'updated');
    is(stored_hash($x), sks_hash($full), '... equals gpg\'s full export');

    my $y = gen_key($gh, 'Yolanda Certifier <yolanda@example.com>');
    my $r = gpg($gh, '--passphrase', '', '-u', $y, '--quick-sign-key', $x);
    is($r->{rc}, 0, 'third-party certification made') or diag $r->{err};
    $full = export_pkts($gh, $x);
    $upload->($full, 'new certification', 'updated');
    like(http_get("$base/pks/lookup?op=vindex&options=mr&search=0x$x")->{content} // '', qr/./, 'vindex answers');

    my $rev = slurp("$gh/openpgp-revocs.d/$x.rev") // die 'no revocation certificate';
    $rev =~ s/^:-----BEGIN/-----BEGIN/m;
    gpg($gh, '--import', { stdin => $rev });
    $full = export_pkts($gh, $x);
    ok((grep { $_->{tag} == 2 && ord(substr($_->{body}, 1, 1)) == 0x20 } @$full), 'export has the key revocation');
    $upload->($full, 'revocation added', 'updated');
    like(http_get("$base/pks/lookup?op=index&options=mr&search=0x$x")->{content}, qr/^pub:$x:[^\n]*:r[^\n]*$/m,
         '... the index shows the key revoked');

    $upload->($full, 'same upload twice', 'unchanged');
    $upload->($newuid, 'an old fragment again', 'unchanged');

    # fragments of another key, in a scrambled order, each one alone
    my $z = gen_key($gh, 'Zora Fragments <zora@example.com>');
    gpg($gh, '--passphrase', '', '--quick-add-uid', $z, 'Zora Other <zora@example.net>');
    gpg($gh, '--passphrase', '', '--quick-add-key', $z, 'cv25519', 'encr');
    gpg($gh, '--passphrase', '', '--quick-add-key', $z, 'ed25519', 'sign');
    my $zfull = export_pkts($gh, $z);
    my @frag = fragments($zfull);
    is(scalar @frag, 5, 'key Z: head + 2 UIDs + 2 subkeys');
    my $zn = stats_total();
    my @order = (3, 1, 4, 0, 2);
    for my $i (@order) {
        my $r = post(enarmor(packets_bin($frag[$i])), 'application/pgp-keys');
        is($r->{status}, 200, "fragment $i of Z: 200");
    }
    is(stored_hash($z), sks_hash($zfull), 'fragments in any order give the full key');
    is(stats_total(), $zn + 1, '... stored as one key');
}

# ------------------------------------------------------------------ malformed uploads

{
    my $n = gen_key($gh, 'Nemo Nowhere <nemo@example.com>');
    my $armor = export_armor($gh, $n);
    my $bin = gpg($gh, '--export', $n)->{out};
    my @watch = ($F{k2}, $F{k3});
    my $snap = sub { join ' ', stats_total() // 'none', map { stored_hash($_) // 'none' } @watch, $n };
    my $before = $snap->();
    like($before, qr/ none$/, 'key N is not stored');

    my @bad = (
        ['garbage form', 'keytext=hello+world', undef, 400],
        ['no keytext field', 'foo=bar', undef, 400],
        ['empty body', '', undef, 400],
        ['truncated armor', 'keytext=' . urlenc_all(substr($armor, 0, int(length($armor) * 0.6))), undef, 400],
        ['bad CRC', do { (my $a = $armor) =~ s/^=(....)$/'=' . ($1 eq 'AAAA' ? 'BBBB' : 'AAAA')/me;
                         'keytext=' . urlenc_all($a) }, undef, 400],
        ['packet length past the end (binary)', do {
            my $p = parse_packets($bin);
            my $b = packets_bin($p);
            substr($b, -(length($p->[-1]{body}) + 1), 1) = chr(length($p->[-1]{body}) + 20);
            $b }, 'application/pgp-keys', 400],
        ['packet length past the end (armored, good CRC)', do {
            my $p = parse_packets($bin);
            my $b = packets_bin($p);
            substr($b, -(length($p->[-1]{body}) + 1), 1) = chr(length($p->[-1]{body}) + 20);
            'keytext=' . urlenc_all(enarmor($b)) }, undef, 400],
        ['secret key block (armored)', 'keytext='
            . urlenc_all(gpg($gh, '--armor', '--pinentry-mode', 'loopback', '--passphrase', '',
                             '--export-secret-keys', $n)->{out}), undef, 400],
        ['secret key (binary)', gpg($gh, '--pinentry-mode', 'loopback', '--passphrase', '',
                                    '--export-secret-keys', $n)->{out}, 'application/pgp-keys', 422],
        ['no key packet (only a UID)', packets_bin([{ tag => 13, body => 'Lonely UID' }]),
            'application/pgp-keys', 422],
    );
    for my $c (@bad) {
        my ($name, $body, $ct, $want) = @$c;
        my $r = post($body, $ct);
        is($r->{status}, $want, "$name: $want");
        like($r->{content}, qr/\A[^\n]+\n?\z/, "$name: a one-line reason") if $want == 400;
        note "$name: $r->{content}";
    }
    my $r = post(gpg($gh, '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', $n)->{out},
                 'application/pgp-keys', '/pks/add?options=mr');
    like(json_of($r->{content})->{invalid}[0]{reason} // '', qr/secret/i, '422 with options=mr: JSON names the reason');
    is($snap->(), $before, 'after all malformed uploads: count and hashes unchanged, N not stored');

    # oversize: Content-Length over hkp_add_max_body (8 MiB default), and chunked
    my $big = "$T/big.bin";
    spew($big, $bin x 1 . ("\xAA" x (9 * 1024 * 1024)));
    $r = curl_add("$base/pks/add", '-H', 'Content-Type: application/pgp-keys', '--data-binary', "\@$big");
    is($r->{status}, 413, 'body over 8 MiB: 413');
    like($r->{body}, qr/too large/i, '413 reason');
    $r = curl_add("$base/pks/add", '-H', 'Content-Type: application/pgp-keys', '-H', 'Transfer-Encoding: chunked',
                  '--data-binary', "\@$big");
    is($r->{status}, 413, 'chunked body growing over the limit: 413');
    $r = curl_add("$base/pks/add", '-H', 'Content-Type: application/pgp-keys', '--data-binary', '@' . do {
        my $f = "$T/chunk-ok.bin"; spew($f, $bin); $f }, '-H', 'Transfer-Encoding: chunked');
    is($r->{status}, 200, 'a small chunked body is accepted');
    is(stored_hash($n), sks_hash(parse_packets($bin)), '... and stored');

    is(http_get('/pks/add')->{status}, 405, 'GET /pks/add: 405');
    is(http_req('PUT', '/pks/add', {}, 'x')->{status}, 405, 'PUT /pks/add: 405');
    $r = http_req('OPTIONS', '/pks/add');
    is($r->{status}, 204, 'OPTIONS /pks/add: 204');
    like($r->{headers}{allow} // '', qr/POST/, '... Allow: POST');
}

# ------------------------------------------------------------------ limits

{
    my $db2 = "$T/db-limits";
    import_keys($db2);
    my $b2 = start_nginx(db => $db2, conf => 'hkp_max_uids 1; hkp_max_packet_size 600; hkp_serve_policy full;');
    my $two = gen_key($gh, 'Tom Two <tom@example.com>');
    gpg($gh, '--passphrase', '', '--quick-add-uid', $two, 'Tom Again <tom@example.org>');
    my $long = gen_key($gh, 'L' x 700 . ' <long@example.com>');
    my $one = gen_key($gh, 'Olga One <olga@example.com>');

    my $r = post('options=mr&keytext=' . urlenc_all(export_armor($gh, $two)), undef, undef, $b2);
    is($r->{status}, 422, 'two UIDs with hkp_max_uids 1: 422');
    like(json_of($r->{content})->{invalid}[0]{reason} // '', qr/user ID|UID/i, '... reason names the UID limit');
    $r = post('keytext=' . urlenc_all(export_armor($gh, $long)), undef, undef, $b2);
    is($r->{status}, 422, '700-byte UID with hkp_max_packet_size 600: 422');
    like($r->{content}, qr/large/, '... one-line reason');
    is(stats_total($b2), 0, 'nothing stored');

    # one key good, one over the limits, in the same upload
    $r = post('options=mr&keytext=' . urlenc_all(export_armor($gh, $one) . export_armor($gh, $two)),
              undef, undef, $b2);
    is($r->{status}, 200, 'one good key and one over the limits: 200');
    my $j = json_of($r->{content});
    is(scalar @{ $j->{inserted} }, 1, '... the good one inserted');
    is($j->{invalid}[0]{index} // -1, 1, '... the other reported invalid');
    my $h1 = stored_hash($one, $b2);
    is($h1, sks_hash(export_pkts($gh, $one)), '... stored');

    # a merge whose result is over the limits is refused, the stored key stays
    gpg($gh, '--passphrase', '', '--quick-add-uid', $one, 'Olga Two <olga@example.org>');
    my @of = fragments(export_pkts($gh, $one));
    my ($frag) = grep { $_->[1]{tag} == 13 && $_->[1]{body} =~ /Olga Two/ } @of[1 .. $#of];
    $r = post(packets_bin($frag), 'application/pgp-keys', '/pks/add?options=mr', $b2);
    is($r->{status}, 422, 'a fragment with one new UID, merged key would have 2 UIDs: 422');
    like(json_of($r->{content})->{invalid}[0]{reason} // '', qr/user IDs/, '... reason from the merge');
    is(json_of($r->{content})->{invalid}[0]{fingerprint} // "", $one, "... invalid entry has the fingerprint") or diag $r->{content};
    is(stored_hash($one, $b2), $h1, '... stored key unchanged');
    is(stats_total($b2), 1, '... count unchanged');
    stop_nginx($b2);

    # a read-only mirror
    my $b3 = start_nginx(db => $db2, location => 'hkp on; hkp_add off; hkp_serve_policy full;');
    $r = post('keytext=' . urlenc_all(export_armor($gh, $two)), undef, undef, $b3);
    is($r->{status}, 403, 'hkp_add off: 403');
    is(http_get("$b3/pks/lookup?op=get&options=mr&search=0x$one")->{status}, 200, '... lookups still served');
    stop_nginx($b3);
}

# ------------------------------------------------------------------ concurrency

sub fork_curl {            # returns pid; child writes "status\nbody" to $out
    my ($out, @args) = @_;
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        my $r = run_cmd(['curl', '-sS', '-o', "$out.body", '-w', '%{http_code}', @args], timeout => 300);
        spew("$out.tmp", "$r->{out}\n" . (slurp("$out.body") // ''));
        rename "$out.tmp", $out;
        _exit(0);
    }
    return $pid;
}

{
    my @keys = map { gen_key($gh, "Conc $_ <conc$_\@example.com>") } 1 .. 6;
    my $f = gen_key($gh, 'Frag Concurrent <frag@example.com>');
    gpg($gh, '--passphrase', '', '--quick-add-uid', $f, "Frag Two <frag$_\@example.org>") for 2 .. 4;
    gpg($gh, '--passphrase', '', '--quick-add-key', $f, 'cv25519', 'encr') for 1 .. 3;
    my $ffull = export_pkts($gh, $f);
    my @frag = fragments($ffull);
    my $same = gen_key($gh, 'Sam Same <sam@example.com>');
    my $same_file = "$T/same.asc";
    spew($same_file, export_armor($gh, $same));

    my $n = stats_total();
    my @jobs;
    my $i = 0;
    for my $k (@keys) {
        my $file = "$T/conc-$i.asc";
        spew($file, export_armor($gh, $k));
        push @jobs, ["$T/out-$i", '--data-urlencode', "keytext\@$file", "$base/pks/add?options=mr"];
        $i++;
    }
    for my $fr (@frag) {
        my $file = "$T/frag-$i.bin";
        spew($file, packets_bin($fr));
        push @jobs, ["$T/out-$i", '-H', 'Content-Type: application/pgp-keys', '--data-binary', "\@$file",
                     "$base/pks/add?options=mr"];
        $i++;
    }
    for (1 .. 6) {
        push @jobs, ["$T/out-$i", '--data-urlencode', "keytext\@$same_file", "$base/pks/add?options=mr"];
        $i++;
    }
    my @pids = map { fork_curl(@$_) } @jobs;
    waitpid($_, 0) for @pids;
    my @st = map { (split /\n/, slurp($_->[0]) // "none\n")[0] } @jobs;
    is_deeply(\@st, [(200) x @jobs], scalar(@jobs) . ' concurrent uploads (different keys, fragments, same key): all 200');
    my $ins = 0;
    for my $j (@jobs[-6 .. -1]) {
        my (undef, $body) = split /\n/, slurp($j->[0]) // '', 2;
        $ins += @{ json_of($body)->{inserted} // [] };
    }
    is($ins, 1, 'the same key uploaded 6 times at once: inserted exactly once');
    is(stats_total(), $n + @keys + 2, 'nothing lost: count + 6 keys + fragment key + same key');
    is_deeply([map { stored_hash($_) } @keys], [map { sks_hash(export_pkts($gh, $_)) } @keys],
              'every concurrently uploaded key stored with its hash');
    is(stored_hash($f), sks_hash($ffull), scalar(@frag) . ' fragments of one key uploaded at once: the full key');

    # exact per-upload replies, however the uploads were grouped into txns
    my @rep = map { json_of((split /\n/, slurp($_->[0]) // '', 2)[1] // '') } @jobs;
    my $strip = sub { my ($j) = @_; +{ map { $_ => [ map { +{%$_} } @{ $j->{$_} // [] } ] } qw(inserted updated unchanged invalid) } };
    is_deeply([ map { $strip->($_) } @rep[0 .. $#keys] ],
              [ map { +{ inserted => [{ index => 0, fingerprint => $_, hash => sks_hash(export_pkts($gh, $_)) }],
                         updated => [], unchanged => [], invalid => [] } } @keys ],
              'each different-key upload: its own key inserted with its hash, nothing else');
    my @fr = @rep[@keys .. $#keys + @frag];
    my (@ins, %step, @unch, @other);
    for my $j (@fr) {
        my @all = map { @{ $j->{$_} // [] } } qw(inserted updated unchanged invalid);
        push @other, $j unless @all == 1 && ($all[0]{fingerprint} // '') eq $f && $all[0]{index} == 0;
        push @ins, $_->{hash} for @{ $j->{inserted} // [] };
        $step{ $_->{replaced}[0] // '' } = $_->{hash} for @{ $j->{updated} // [] };
        push @unch, $_->{hash} for @{ $j->{unchanged} // [] };
        push @other, $j for @{ $j->{invalid} // [] };
        push @other, $j for grep { @{ $_->{replaced} // [] } != 1 } @{ $j->{updated} // [] };
    }
    is(scalar @other, 0, 'each fragment upload: one result, index 0, the key\'s fingerprint, none invalid')
        or diag explain \@fr;
    is(scalar @ins, 1, '... exactly one fragment upload inserted the key');
    my @path = @ins;
    push @path, $step{ $path[-1] } while @path <= @fr && defined $step{ $path[-1] };
    is(scalar @path, 1 + keys %step, '... the updates form one chain from the insert (each replaced the previous hash)');
    is($path[-1], sks_hash($ffull), '... ending at the full key\'s hash');
    my %on = map { $_ => 1 } @path;
    is(scalar(grep { !$on{$_} } @unch), 0, '... unchanged replies carry a hash on that chain');
    my @same = @rep[-6 .. -1];
    my $hs = sks_hash(export_pkts($gh, $same));
    is_deeply([ sort map { my $j = $_; join ' ', map { my $o = $_; map { "$o:$_->{index}:$_->{fingerprint}:$_->{hash}" } @{ $j->{$o} // [] } } qw(inserted updated unchanged invalid) } @same ],
              [ "inserted:0:$same:$hs", ("unchanged:0:$same:$hs") x 5 ],
              '... the same key 6 times: one inserted, five unchanged, each with the stored hash');
}

# Group commit: many uploads at once into one worker, so that several share
# one write txn. The requests are sent whole but for their last byte, then
# the last bytes all together, so their bodies are complete at the same
# moment. A merge over the limits (rejected at store time, in its nested
# txn) is refused alone, also when it shares the txn with other uploads or
# with a good key of its own upload; every reply is exact.
{
    my $dbg = "$T/db-group";
    import_keys($dbg);
    my $bg = start_nginx(db => $dbg, workers => 1, conf => 'hkp_max_uids 1; hkp_serve_policy full;');
    my $pg = port($bg);
    my $p = gen_key($gh, 'Pia Pinned <pia@example.com>');
    my $r = post(packets_bin(export_pkts($gh, $p)), 'application/pgp-keys', '/pks/add?options=mr', $bg);
    is($r->{status}, 200, 'group commit: key P (one UID) stored');
    my $hp = stored_hash($p, $bg);
    gpg($gh, '--passphrase', '', '--quick-add-uid', $p, 'Pia Second <pia@example.org>');
    my @pf = fragments(export_pkts($gh, $p));
    my ($bad) = grep { $_->[1]{tag} == 13 && $_->[1]{body} =~ /Pia Second/ } @pf[1 .. $#pf];
    my $badbin = packets_bin($bad);
    my @good = map { gen_key($gh, "Group $_ <group$_\@example.com>") } 1 .. 24;
    my (@bodies, @want);
    my $i = 0;
    for my $k (@good) {
        my $bin = packets_bin(export_pkts($gh, $k));
        my $mixed = $i % 3 == 1;          # also carries the refused fragment
        push @bodies, $mixed ? $bin . $badbin : $bin;
        push @want, "200 inserted:0:$k:" . sks_hash(export_pkts($gh, $k)) . ($mixed ? " invalid:1:$p" : '');
        $i++;
        if ($i % 4 == 0) {                # the refused fragment alone
            push @bodies, $badbin;
            push @want, "422 invalid:0:$p";
        }
    }
    local $SIG{PIPE} = 'IGNORE';
    my @socks;
    for my $body (@bodies) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pg, Proto => 'tcp')
            or BAIL_OUT("connect: $!");
        binmode $s;
        my $req = "POST /pks/add?options=mr HTTP/1.0\r\nContent-Type: application/pgp-keys\r\n"
                . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
        my $off = 0;
        while ($off < length($req) - 1) {
            my $w = syswrite($s, $req, length($req) - 1 - $off, $off) or last;
            $off += $w;
        }
        push @socks, [$s, substr($req, -1)];
    }
    sleep 0.2;                            # the server has read all but the last bytes
    syswrite($_->[0], $_->[1]) for @socks;
    my (@got, $reasons);
    $reasons = 0;
    for my $sk (@socks) {
        my ($s, $raw) = ($sk->[0], '');
        1 while sysread($s, $raw, 1 << 16, length $raw);
        close $s;
        my $resp = parse_http($raw) // { status => 'none', body => '' };
        my $j = json_of($resp->{body});
        push @got, join ' ', $resp->{status}, map { my $o = $_; map { "$o:$_->{index}:" . ($_->{fingerprint} // '')
                                                            . ($o eq 'invalid' ? '' : ":$_->{hash}") } @{ $j->{$o} // [] } }
                                   qw(inserted updated unchanged invalid);
        $reasons++ if grep { ($_->{reason} // '') !~ /user IDs/ } @{ $j->{invalid} // [] };
    }
    is_deeply(\@got, \@want, scalar(@bodies) . ' simultaneous uploads into one worker: every reply exact (good keys '
              . 'inserted, the over-limit merge refused alone)');
    is($reasons, 0, '... every refusal names the UID limit');
    is(stats_total($bg), 1 + @good, '... every good key stored');
    is_deeply([ map { stored_hash($_, $bg) } @good ], [ map { sks_hash(export_pkts($gh, $_)) } @good ],
              '... each with its hash');
    is(stored_hash($p, $bg), $hp, '... key P unchanged');
    unlike(nginx_error_log($bg), qr/\[(alert|crit|emerg)\]/, '... no alerts in its error log');
    stop_nginx($bg);
}

# ------------------------------------------------------------------ lookups during a big upload

SKIP: {
    skip "$KEYRING missing", 7 unless -r $KEYRING;
    my $db3 = "$T/db-big";
    import_keys($db3, "$DATA/k1-ed25519.asc");
    my $b3 = start_nginx(db => $db3, workers => 1, conf => 'hkp_add_max_body 64m; client_max_body_size 64m; hkp_serve_policy full;');
    my $p3 = port($b3);
    my $body = slurp($KEYRING);
    my ($sent, $done) = ("$T/big-sent", "$T/big-done");

    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p3, Proto => 'tcp')
            or _exit(1);
        binmode $s;
        my $req = "POST /pks/add?options=mr HTTP/1.0\r\nContent-Type: application/pgp-keys\r\n"
                . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
        my $off = 0;
        while ($off < length $req) {
            my $w = syswrite($s, $req, 1 << 20, $off);
            _exit(2) unless $w;
            $off += $w;
        }
        spew($sent, '1');
        my $resp = '';
        1 while sysread($s, $resp, 1 << 16, length $resp);
        spew("$done.tmp", $resp);
        rename "$done.tmp", $done;
        _exit(0);
    }
    sleep 0.01 until -e $sent || waitpid($pid, POSIX::WNOHANG()) == $pid;
    ok(-e $sent, 'the whole keyring was sent as one POST');
    my ($during, $before_commit) = (0, 0);
    my $ua = HTTP::Tiny->new(keep_alive => 0, timeout => 30);
    until (-e $done) {
        my $r = $ua->get("$b3/pks/lookup?op=stats&options=mr");
        last if -e $done;     # answered after the upload finished: does not count
        if ($r->{status} == 200) {
            $during++;
            $before_commit++ if $JSON->decode($r->{content})->{total} == 1;
        }
    }
    waitpid($pid, 0);
    my $resp = parse_http(slurp($done));
    is($resp && $resp->{status}, 200, 'the keyring upload: 200');
    my $j = json_of($resp ? $resp->{body} : '');
    cmp_ok(scalar @{ $j->{inserted} // [] }, '>=', 900, 'hundreds of keys inserted in one upload');
    cmp_ok($during, '>', 0, "lookups answered while the upload was in progress ($during)");
    cmp_ok($before_commit, '>', 0, "... $before_commit of them saw the store before the upload committed");

    # curl adds "Expect: 100-continue" to bodies over 1 MiB
    my $maint = '/usr/share/keyrings/debian-maintainers.gpg';
    if (-r $maint) {
        my $r = curl_add("$b3/pks/add?options=mr", '-H', 'Content-Type: application/pgp-keys',
                         '--data-binary', "\@$maint");
        is($r->{status}, 200, 'curl upload of 2.5 MB (Expect: 100-continue): 200');
        my $jm = json_of($r->{body});
        is(@{ $jm->{inserted} // [] } + @{ $jm->{updated} // [] } + @{ $jm->{unchanged} // [] },
           scalar(split_keys(slurp($maint))), '... every key accounted for');
    }
    stop_nginx($b3);
}

unlike(nginx_error_log($base), qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');

done_testing;
