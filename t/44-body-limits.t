#!/usr/bin/perl
# Body limits of the POST paths and directive bounds.
#
# A body over client_max_body_size (nginx's own check, before the module
# runs) or over hkp_add_max_body (the module's) gets the module's 413: one
# text/plain line naming the limit, with the CORS and no-cache headers of
# every HKP answer, for Content-Length and chunked bodies, on /pks/add and
# /pks/hashquery. The module leaves client_max_body_size as the operator
# set it (and warns when it is below hkp_add_max_body). Directives out of
# their range are refused when nginx reads the configuration.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

BAIL_OUT('curl is not installed (./build.sh test installs it)') unless have_cmd('curl');

my $ROOT = root();
my $T = tmpdir();
my $db = "$T/db";
import_keys($db, "$ROOT/t/data/k1-ed25519.asc");

my $MB = 1024 * 1024;
my $two = "$T/two-mb.bin";
spew($two, "\xAA" x (2 * $MB));
my $half = "$T/half-mb.bin";
spew($half, "\xAA" x ($MB / 2));

sub curl {                 # URL, curl args -> {status, headers, body}
    my ($url, @args) = @_;
    my $r = run_cmd(['curl', '-sS', '-i', @args, $url], timeout => 60);
    my $raw = $r->{out};
    $raw =~ s/\AHTTP\/1\.[01] 100 Continue\r?\n\r?\n//;
    return parse_http($raw) // { status => 0, headers => {}, body => "curl rc=$r->{rc}: $r->{err}" };
}

sub post_file {            # base, path, file, chunked?
    my ($b, $path, $file, $chunked) = @_;
    return curl("$b$path", '-H', 'Content-Type: application/pgp-keys',
                ($chunked ? ('-H', 'Transfer-Encoding: chunked') : ()),
                '--data-binary', "\@$file");
}

# The module's 413: status, one line with this reason, our headers.
sub our_413 {
    my ($r, $reason, $name) = @_;
    is($r->{status}, 413, "$name: 413");
    is($r->{body}, "$reason\n", "$name: one-line reason") or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, "$name: text/plain, not nginx's HTML page");
    is($r->{headers}{'access-control-allow-origin'}, '*', "$name: CORS header");
    is($r->{headers}{'cache-control'}, 'no-cache', "$name: no-cache");
}

# ------------------------------------------------------------------ client_max_body_size below the module's limit

{
    my $b = start_nginx(db => $db, conf => 'client_max_body_size 1m;');   # hkp_add_max_body 8m
    like(nginx_error_log($b), qr/\[warn\].*client_max_body_size 1048576 is below hkp_add_max_body 8388608/,
         'a client_max_body_size below hkp_add_max_body is warned about');
    our_413(post_file($b, '/pks/add', $two), 'Request body too large (2097152 > 1048576 bytes)',
            '2 MB over client_max_body_size 1m (Content-Length)');
    our_413(post_file($b, '/pks/add', $two, 1), 'Request body too large (more than 1048576 bytes)',
            '2 MB chunked over client_max_body_size 1m');
    our_413(post_file($b, '/pks/hashquery', $two), 'Request body too large (2097152 > 1048576 bytes)',
            '/pks/hashquery over client_max_body_size');
    our_413(post_file($b, '/pks/add?options=mr', $two), 'Request body too large (2097152 > 1048576 bytes)',
            'options=mr: the same one-line reason as the other errors');
    my $r = post_file($b, '/pks/add', $half);
    is($r->{status}, 400, 'half a MB of garbage under both limits reaches the key parser (400)');
    my $h = curl("$b/pks/add", '-I', '-H', 'Content-Length: ' . 2 * $MB);
    is($h->{status}, 413, 'HEAD with a large Content-Length: 413');
    is($h->{headers}{'access-control-allow-origin'}, '*', '... with the CORS header');
    stop_nginx($b);
}

# ------------------------------------------------------------------ the module's own limit

{
    my $b = start_nginx(db => $db, conf => 'client_max_body_size 0; hkp_add_max_body 1m;');
    unlike(nginx_error_log($b), qr/is below hkp_add_max_body/, 'no warning when client_max_body_size is larger');
    our_413(post_file($b, '/pks/add', $two), 'Request body too large (2097152 > 1048576 bytes)',
            '2 MB over hkp_add_max_body 1m (Content-Length, not read)');
    our_413(post_file($b, '/pks/add', $two, 1), 'Request body too large (more than 1048576 bytes)',
            '2 MB chunked over hkp_add_max_body 1m (refused while read)');
    like(nginx_error_log($b), qr/over hkp_add_max_body \(1048576 bytes\)/, '... the request body filter refused it');
    our_413(post_file($b, '/pks/hashquery', $two, 1), 'Request body too large (more than 1048576 bytes)',
            '/pks/hashquery chunked over hkp_add_max_body');
    my $r = post_file($b, '/pks/add', $half, 1);
    is($r->{status}, 400, 'a chunked body under the limit is read (400: not a key)');
    my $k = slurp("$ROOT/t/data/k1-ed25519.asc");
    $r = http_req('POST', "$b/pks/add", { 'Content-Type' => 'application/pgp-keys' }, $k);
    is($r->{status}, 200, 'a key under the limits is accepted');
    stop_nginx($b);
}

# ------------------------------------------------------------------ client_max_body_size is the operator's

{
    # hkp_add_max_body 8m must not raise a smaller client_max_body_size of
    # the location: bodies between the two are refused, naming nginx's limit
    my $b = start_nginx(db => $db, location => 'hkp on; client_max_body_size 1m; hkp_add_max_body 8m;');
    our_413(post_file($b, '/pks/add', $two), 'Request body too large (2097152 > 1048576 bytes)',
            'client_max_body_size of the location kept');
    stop_nginx($b);
}

# ------------------------------------------------------------------ directive bounds

sub refused {              # conf snippet, message pattern, name
    my ($conf, $re, $name) = @_;
    my $b = eval { start_nginx(db => $db, conf => $conf) };
    if ($b) {
        fail("$name: refused");
        stop_nginx($b);
        return;
    }
    like($@, $re, "$name: refused with a clear message") or diag $@;
}

refused('hkp_vindex_signer_lookups 1001;', qr/value must be between 0 and 1000/,
        'hkp_vindex_signer_lookups 1001');
refused('hkp_vindex_signer_lookups -1;', qr/invalid number/, 'hkp_vindex_signer_lookups -1');
refused('hkp_hostname ' . ('h' x 256) . ';', qr/value must be at most 255 bytes/, 'hkp_hostname of 256 bytes');
refused('hkp_contact ' . ('0' x 300) . ';', qr/value must be at most 255 bytes/, 'hkp_contact of 300 bytes');
refused('hkp_add_max_body 0;', qr/value must be between 1 and/, 'hkp_add_max_body 0');
refused('hkp_max_results 0;', qr/value must be between 1 and 100000/, 'hkp_max_results 0');
refused('hkp_recon_port 65536;', qr/value must be between 0 and 65535/, 'hkp_recon_port 65536');
{
    my $b = eval { start_nginx(db => $db, main => '', http => "    hkp_db_mapsize 1k;\n") };
    ok(!$b, 'hkp_db_mapsize 1k: refused');
    like($@ // '', qr/value must be between 1048576 and/, '... with the range');
    stop_nginx($b) if $b;
}
{
    my $b = start_nginx(db => $db, conf => 'hkp_vindex_signer_lookups 1000; hkp_hostname '
                                           . ('h' x 255) . ';');
    is(http_get("$b/pks/lookup?op=stats&options=mr")->{status}, 200, 'the largest values are accepted');
    stop_nginx($b);
}

done_testing();
