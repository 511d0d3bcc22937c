#!/usr/bin/perl
# Malformed and unusual requests: each gets a 4xx/5xx-free answer with a
# one-line reason, CORS on errors, correct framing, and nginx keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $K1 = '8236DAA56DF885E6A77B041A20E8C38A2AE840BF';    # t/data/k1-ed25519.asc
my $GOOD = "/pks/lookup?op=get&options=mr&search=0x$K1";

my $tmp = tmpdir();
import_keys("$tmp/db", glob(root() . '/t/data/*.asc'));
my $base = start_nginx(db => "$tmp/db");
my $port = port();

sub still_serving {
    my ($after) = @_;
    my $r = http_get($GOOD);
    return $r->{status} == 200 && $r->{content} =~ /BEGIN PGP PUBLIC KEY BLOCK/;
}

# One-line reason: non-empty, at most one line (optionally newline-terminated), short.
sub one_line {
    my ($body) = @_;
    return $body =~ /\A[^\r\n]*\S[^\r\n]*(?:\r?\n)?\z/ && length($body) < 300;
}

sub show {
    my ($r) = @_;
    my $h = join '', map { "  $_: $r->{headers}{$_}\n" } sort keys %{ $r->{headers} };
    my $c = length($r->{content}) > 400 ? substr($r->{content}, 0, 400) . '...' : $r->{content};
    return "status $r->{status}\n$h  body: $c";
}

ok(still_serving(), 'baseline: a good lookup works');

# ----------------------------------------------------------------- bad lookups
my $hex32 = '0123456789ABCDEF0123456789ABCDEF';
my $long_search = 'a' x 2000;                     # fits nginx's header buffers, exceeds the search limit
my $many_words = join '+', map { "word$_" } 1 .. 40;
my @cases = (
    # name, path, expected status (regex)
    ['unknown op',                 '/pks/lookup?op=frobnicate&search=vector',          qr/^501$/],
    ['op=x-get (unknown)',         '/pks/lookup?op=x-get&search=0x' . $K1,             qr/^501$/],
    ['non-hex key ID',             '/pks/lookup?op=get&options=mr&search=0xZZZZZZZZ',  qr/^400$/],
    ['non-hex fingerprint',        '/pks/lookup?op=get&options=mr&search=0x' . ('G' x 40), qr/^400$/],
    ['0x alone',                   '/pks/lookup?op=get&options=mr&search=0x',          qr/^400$/],
    ['0x + 7 hex',                 '/pks/lookup?op=get&options=mr&search=0x1234567',   qr/^400$/],
    ['0x + 9 hex',                 '/pks/lookup?op=get&options=mr&search=0x123456789', qr/^400$/],
    ['0x + 41 hex',                '/pks/lookup?op=get&options=mr&search=0x' . $K1 . 'A', qr/^400$/],
    ['0x + 32 hex (v3 fingerprint)', "/pks/lookup?op=get&options=mr&search=0x$hex32",  qr/^501$/],
    ['0x + 32 hex, op=index',      "/pks/lookup?op=index&options=mr&search=0x$hex32",  qr/^501$/],
    ['missing search (get)',       '/pks/lookup?op=get&options=mr',                    qr/^(400|404)$/],
    ['missing search (index)',     '/pks/lookup?op=index&options=mr',                  qr/^(400|404)$/],
    ['empty search',               '/pks/lookup?op=get&options=mr&search=',            qr/^(400|404)$/],
    ['blank search',               '/pks/lookup?op=index&options=mr&search=+++',       qr/^(400|404)$/],
    ['2000-byte search',           "/pks/lookup?op=index&options=mr&search=$long_search", qr/^(400|414)$/],
    ['40-word search',             "/pks/lookup?op=index&options=mr&search=$many_words", qr/^400$/],
    ['hget non-hex',               '/pks/lookup?op=hget&options=mr&search=XYZ',        qr/^400$/],
    ['hget 31 hex',                '/pks/lookup?op=hget&options=mr&search=' . substr($hex32, 1), qr/^400$/],
    ['hget without search',        '/pks/lookup?op=hget&options=mr',                   qr/^(400|404)$/],
    ['hget unknown hash',          "/pks/lookup?op=hget&options=mr&search=$hex32",     qr/^404$/],
    ['get unknown fingerprint',    '/pks/lookup?op=get&options=mr&search=0x' . ('0' x 40), qr/^404$/],
    ['get unknown v6 fingerprint', '/pks/lookup?op=get&options=mr&search=0x' . ('AB' x 32), qr/^404$/],
    ['index unknown words',        '/pks/lookup?op=index&options=mr&search=zzqqxx+nowhere', qr/^404$/],
    ['NUL byte in search',         '/pks/lookup?op=index&options=mr&search=vec%00tor', qr/^(400|404)$/],
    ['control bytes in search',    '/pks/lookup?op=index&options=mr&search=%01%02%1b', qr/^(400|404)$/],
    ['invalid UTF-8 in search',    '/pks/lookup?op=index&options=mr&search=%ff%fe%c3', qr/^(400|404)$/],
    ['bad percent escape',         '/pks/lookup?op=index&options=mr&search=%zz%',      qr/^(400|404)$/],
    ['unknown path /pks/unknown',  '/pks/unknown',                                     qr/^404$/],
    ['unknown path /pks/lookup/',  '/pks/lookup/?op=get&search=0x' . $K1,              qr/^404$/],
);

for my $c (@cases) {
    my ($name, $path, $want) = @$c;
    my $r = http_get($path);
    subtest $name => sub {
        like($r->{status}, $want, "status") or diag show($r);
        ok(one_line($r->{content}), 'one-line reason body') or diag show($r);
        is($r->{headers}{'access-control-allow-origin'}, '*', 'Access-Control-Allow-Origin: *')
            or diag show($r);
    };
}
ok(still_serving(), 'still serving after the bad lookups');

# A 10 KB search: nginx core may refuse it (414) before the module sees it.
{
    my $r = http_get('/pks/lookup?op=index&options=mr&search=' . ('b' x 10240));
    like($r->{status}, qr/^(400|414)$/, '10 KB search: 400 or 414') or diag show($r);
    ok(still_serving(), 'still serving after the 10 KB search');
}

# ----------------------------------------------------------------- methods
for my $m (qw(PUT DELETE POST PATCH)) {
    my $r = http_req($m, '/pks/lookup?op=get&search=0x' . $K1, { 'Content-Type' => 'text/plain' }, "x");
    subtest "$m /pks/lookup" => sub {
        is($r->{status}, 405, 'status 405') or diag show($r);
        like($r->{headers}{allow} // '', qr/\bGET\b/, 'Allow names GET') or diag show($r);
        is($r->{headers}{'access-control-allow-origin'}, '*', 'CORS') or diag show($r);
        ok(one_line($r->{content}), 'one-line reason body') or diag show($r);
    };
}

{
    my $get = http_get($GOOD);
    my $raw = raw_http($port, "HEAD $GOOD HTTP/1.0\r\n\r\n");
    my $p = parse_http($raw);
    subtest 'HEAD op=get' => sub {
        ok($p, 'a response') or return diag "raw: $raw";
        is($p->{status}, 200, 'status 200');
        is($p->{body}, '', 'no body');
        like($p->{headers}{'content-type'} // '', qr{^application/pgp-keys}, 'Content-Type of the GET');
        is($p->{headers}{'content-length'}, length($get->{content}), 'Content-Length of the GET')
            if defined $p->{headers}{'content-length'};
    };
}

{
    my $r = http_req('OPTIONS', '/pks/lookup', { Origin => 'https://example.org',
        'Access-Control-Request-Method' => 'GET' });
    subtest 'OPTIONS /pks/lookup (CORS preflight)' => sub {
        like($r->{status}, qr/^(200|204)$/, '2xx (204 expected)') or diag show($r);
        is($r->{status}, 204, 'status 204');
        is($r->{headers}{'access-control-allow-origin'}, '*', 'Access-Control-Allow-Origin: *') or diag show($r);
        like($r->{headers}{'access-control-allow-methods'} // '', qr/\bGET\b/, 'Allow-Methods has GET')
            or diag show($r);
        like($r->{headers}{allow} // '', qr/\bGET\b/, 'Allow has GET') or diag show($r);
        is($r->{content}, '', 'no body');
    };
}
ok(still_serving(), 'still serving after odd methods');

# ----------------------------------------------------------------- raw garbage
for my $g (["binary garbage", "\x00\x01\x02\xff\xfe garbage\r\n\r\n"],
           ["no request line", "\r\n\r\n\r\n"],
           ["bad method token", "G\@T /pks/lookup HTTP/1.0\r\n\r\n"],
           ["header without colon", "GET /pks/lookup?op=stats HTTP/1.0\r\nthis is no header\r\n\r\n"],
           ["HTTP/9.9", "GET /pks/lookup?op=stats HTTP/9.9\r\n\r\n"],
           ["truncated request", "GET /pks/lookup?op=get&search=0x"]) {
    my ($name, $bytes) = @$g;
    my $raw = raw_http($port, $bytes, timeout => 3, half_close => 1);
    my $p = parse_http($raw);
    ok(!$p || $p->{status} >= 400, "raw $name: an error status or a closed connection")
        or diag "got: " . substr($raw, 0, 300);
}
ok(still_serving(), 'still serving after raw garbage');

# ----------------------------------------------------------------- framing
for my $path ($GOOD, '/pks/lookup?op=index&options=mr&search=vector',
              '/pks/lookup?op=get&options=mr&search=0x' . ('0' x 40),
              '/pks/lookup?op=frobnicate', '/pks/lookup?op=stats') {
    my $raw = raw_http($port, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n");
    my $p = parse_http($raw);
    subtest "HTTP/1.0 GET $path" => sub {
        ok($p, 'a response') or return diag "raw: " . substr($raw, 0, 300);
        ok(!exists $p->{headers}{'transfer-encoding'}, 'no Transfer-Encoding') or diag $p->{head};
        ok(defined $p->{headers}{'content-length'}, 'Content-Length present') or diag $p->{head};
        is($p->{headers}{'content-length'}, length($p->{body}), 'Content-Length matches the body')
            if defined $p->{headers}{'content-length'};
        is($p->{headers}{'access-control-allow-origin'}, '*', 'CORS');
    };
}

{
    # gpg/dirmngr's exact request shape: HTTP/1.0, no User-Agent/Accept, Host: localhost
    my $raw = raw_http($port, "GET $GOOD HTTP/1.0\r\nHost: localhost:$port\r\n"
                            . "Pragma: no-cache\r\nCache-Control: no-cache\r\n\r\n");
    my $p = parse_http($raw);
    ok($p && $p->{status} == 200 && $p->{body} =~ /^-----BEGIN PGP PUBLIC KEY BLOCK-----/m,
       'dirmngr-shaped HTTP/1.0 request gets the key') or diag substr($raw, 0, 300);

    # No Host header at all (HTTP/1.0 allows it)
    $raw = raw_http($port, "GET $GOOD HTTP/1.0\r\n\r\n");
    $p = parse_http($raw);
    ok($p && $p->{status} == 200, 'HTTP/1.0 request without Host works') or diag substr($raw, 0, 300);
}

{
    # Two pipelined HTTP/1.1 requests on one connection: two complete responses.
    my $req = "GET $GOOD HTTP/1.1\r\nHost: x\r\n\r\n"
            . "GET /pks/lookup?op=frobnicate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $raw = raw_http($port, $req);
    my @st = $raw =~ m{^HTTP/1\.1 (\d{3})}mg;
    is("@st", '200 501', 'pipelined keep-alive requests: 200 then 501') or diag substr($raw, 0, 500);
    my $p = parse_http($raw);
    if ($p && defined $p->{headers}{'content-length'} && !$p->{headers}{'transfer-encoding'}) {
        my $rest = substr($p->{body}, $p->{headers}{'content-length'});
        like($rest, qr{\AHTTP/1\.1 501 }, 'first Content-Length ends exactly at the second response');
    } else {
        fail('first response of the pipeline has a Content-Length') ;
        diag $p ? $p->{head} : $raw;
    }
}

# ----------------------------------------------------------------- aftermath
ok(still_serving(), 'nginx still serves at the end');
my $log = nginx_error_log();
unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
    or diag join "\n", grep { /signal|\[alert\]|\[emerg\]|\[crit\]/ } split /\n/, $log;

done_testing();
