#!/usr/bin/perl
# POST /pks/hashquery (doc/hkp.md 6): keys by SKS hash for recon peers. Wire
# format, reverse request order, omission of unknown hashes, trailing CRLF,
# request limits, malformed requests, the reply size cap, GET -> 405.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my %H = (      # t/data/hashes.txt
    k1 => '50ED94C61884E160D6F8C91DA546C429', k2 => 'B01DB9A46CE7264D3DCD64479010D335',
    k4 => 'D6098F23D29F7D3D776892775ADDBE3C', k5 => '7934B4A7E7EF834E680A4A899536CDC0',
    k6 => '2108FA6CB90EEFB0C527AD6CA06F840A', k7 => '24AD9C8DCFDBEA5C0CCC0054CB24ECFC',
    k8 => '1C39089AA661517C6B34F9AA2588E256', deb => 'B4453EAFA31FA69F081C0E647F32B6E3',
);
my $UNKNOWN = '0123456789ABCDEF0123456789ABCDEF';

my $T = tmpdir();
my $db = "$T/db";
import_keys($db, (map { "$DATA/$_.asc" } qw(k1-ed25519 k2-rsa2048 k4-ed25519 k5-ed25519 k6-ed25519
                                            k7-ed25519 k8-ed25519)),
           "$DATA/debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc");
my $base = start_nginx(db => $db, conf => 'hkp_hashquery_max 10;');

sub hq_body {              # request body for hex hashes (raw lengths optional)
    my (@h) = @_;
    return pack('N', scalar @h) . join '', map { pack('N', 16) . pack('H*', $_) } @h;
}

sub hq {
    my ($body, $b) = @_;
    return http_req('POST', ($b // $base) . '/pks/hashquery', {}, $body);
}

# Parses a reply body: (list of key byte strings, rest after the keys).
sub hq_parse {
    my ($body) = @_;
    return () if length($body) < 4;
    my $n = unpack 'N', $body;
    my ($off, @keys) = (4);
    for (1 .. $n) {
        return () if $off + 4 > length $body;
        my $len = unpack 'N', substr($body, $off, 4);
        $off += 4;
        return () if $off + $len > length $body;
        push @keys, substr($body, $off, $len);
        $off += $len;
    }
    return (\@keys, substr($body, $off));
}

sub hashes_in { [ map { sks_hash(parse_packets($_)) } @{ $_[0] } ] }

# ------------------------------------------------------------------ basics

{
    my $r = hq(hq_body($H{k1}, $UNKNOWN, $H{k2}, $H{k5}));
    is($r->{status}, 200, 'known + unknown hashes: 200');
    is($r->{headers}{'content-type'}, 'pgp/keys', 'Content-Type: pgp/keys (as SKS)');
    is($r->{headers}{'x-hkp-results-count'}, 3, 'X-HKP-Results-Count: keys found');
    my ($keys, $rest) = hq_parse($r->{content});
    ok($keys, 'reply framing parses');
    is_deeply(hashes_in($keys // []), [$H{k5}, $H{k2}, $H{k1}],
              'keys in reverse request order, unknown hash omitted, each key has the asked hash');
    is($rest, "\r\n", 'trailing CRLF after the last key');
    is($r->{headers}{'content-length'}, length $r->{content}, 'Content-Length covers the CRLF');

    $r = hq(hq_body($H{k4}, $H{k4}, $H{k6}, $H{k4}));
    ($keys) = hq_parse($r->{content});
    is_deeply(hashes_in($keys // []), [$H{k6}, $H{k4}], 'repeated hashes answered once');

    $r = hq(hq_body($UNKNOWN));
    is($r->{status}, 200, 'only unknown hashes: 200');
    is($r->{content}, "\0\0\0\0\r\n", '... count 0 and CRLF');

    $r = hq(hq_body());
    is($r->{status}, 200, 'count 0: 200');
    is($r->{content}, "\0\0\0\0\r\n", '... empty reply');

    # exactly what SKS's recon client sends: HTTP/1.0, no Host, no Content-Type
    my $body = hq_body($H{k7});
    my $raw = raw_http(undef, "POST /pks/hashquery HTTP/1.0\r\ncontent-length: " . length($body)
                              . "\r\n\r\n$body");
    my $p = parse_http($raw);
    is($p && $p->{status}, 200, 'SKS-style request (HTTP/1.0, no Host): 200');
    ($keys) = hq_parse($p ? $p->{body} : '');
    is_deeply(hashes_in($keys // []), [$H{k7}], '... the key');
    unlike($p ? $p->{head} : '', qr/chunked/i, '... not chunked');

    # the stored bytes are served as they are: same as op=get's packets
    my $get = http_get("/pks/lookup?op=hget&options=mr&search=$H{k2}");
    ($keys) = hq_parse(hq(hq_body($H{k2}))->{content});
    is($keys->[0], (dearmor($get->{content}))[0][0], 'hashquery key bytes = op=hget key bytes');
}

# ------------------------------------------------------------------ malformed

{
    my @bad = (
        ['too many hashes (11 > hkp_hashquery_max 10)', hq_body(($UNKNOWN) x 11)],
        ['count far too large', pack('N', 0xFFFFFFFF)],
        ['hash length 15', pack('N', 1) . pack('N', 15) . ("\1" x 15)],
        ['hash length 17', pack('N', 1) . pack('N', 17) . ("\1" x 17)],
        ['truncated hash', substr(hq_body($H{k1}), 0, 20)],
        ['count larger than the hashes sent', pack('N', 2) . substr(hq_body($H{k1}), 4)],
        ['trailing data', hq_body($H{k1}) . "x"],
        ['three bytes', "\0\0\0"],
        ['empty body', ''],
    );
    for my $c (@bad) {
        my $r = hq($c->[1]);
        is($r->{status}, 400, "$c->[0]: 400");
        like($r->{content}, qr/\A[^\n]+\n\z/, "$c->[0]: one-line reason");
        note "$c->[0]: $r->{content}";
    }
    my $r = http_get('/pks/hashquery');
    is($r->{status}, 405, 'GET /pks/hashquery: 405');
    like($r->{headers}{allow} // '', qr/POST/, '... Allow: POST');
    is(http_req('HEAD', '/pks/hashquery')->{status}, 405, 'HEAD /pks/hashquery: 405');
    is(hq(hq_body(($H{k1}) x 10))->{status}, 200, '10 hashes (the limit): 200');
}

# ------------------------------------------------------------------ size cap

{
    my $b2 = start_nginx(db => $db, conf => 'hkp_hashquery_max_bytes 1k;');
    my $all = hq(hq_body(@H{qw(k1 k2 k4 k5 k6 k7 k8)}));
    my ($allkeys) = hq_parse($all->{content});
    is(scalar @{ $allkeys // [] }, 7, 'without a cap: 7 keys');
    my $total = 6 + 4 * 7;
    $total += length $_ for @{ $allkeys // [] };
    cmp_ok($total, '>', 1024, "... $total bytes, over 1k");

    my $r = hq(hq_body(@H{qw(k1 k2 k4 k5 k6 k7 k8)}), $b2);
    is($r->{status}, 200, 'with hkp_hashquery_max_bytes 1k: 200');
    my ($keys, $rest) = hq_parse($r->{content});
    ok($keys && @$keys > 0 && @$keys < 7, 'some keys left out (' . scalar(@{ $keys // [] }) . ' sent)');
    cmp_ok(length $r->{content}, '<=', 1024, 'reply within the cap');
    is($r->{headers}{'x-hkp-results-count'}, scalar @{ $keys // [] }, 'count header = keys sent');
    is($rest, "\r\n", 'still ends with CRLF');
    my %sent = map { $_ => 1 } @{ hashes_in($keys // []) };
    my @missing = grep { !$sent{$_} } @H{qw(k1 k2 k4 k5 k6 k7 k8)};
    ($keys) = hq_parse(hq(hq_body(@missing), $b2)->{content});
    ok(@{ $keys // [] } > 0, 'asking again for the missing ones gets more of them');

    # a single key larger than the cap is still sent (else it could never be fetched)
    $r = hq(hq_body($H{deb}, $H{k1}), $b2);
    ($keys) = hq_parse($r->{content});
    is_deeply(hashes_in($keys // []), [$H{k1}], 'the big key after a small one is left out');
    $r = hq(hq_body($H{deb}), $b2);
    ($keys) = hq_parse($r->{content});
    is_deeply(hashes_in($keys // []), [$H{deb}], 'a key over the cap alone is sent (' . length($keys->[0] // '') . ' bytes)');
    cmp_ok(length $r->{content}, '>', 1024, '... the reply exceeds the cap for it');
    stop_nginx($b2);
}

unlike(nginx_error_log($base), qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');

done_testing;
