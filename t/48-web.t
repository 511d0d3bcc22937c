#!/usr/bin/perl
# The web pages (ngx_hkp_web*.c, templates in html/), in a real browser:
# Chromium headless loads the search page at /, fills in the search box
# and submits the form (the browser builds the GET URL), lands on the
# results, follows the key's link to its key page (op=vindex: the plain
# summary, then SKS's listing), goes back and submits a search that finds
# nothing, and gets the HTML error page with the reason and a way back. A
# same-origin harness page (test code, served by a static location of the
# test's nginx) drives our pages in an iframe; the pages themselves have
# no script. Screenshots at phone and desktop width of every page (kept in
# $HKP_WEB_SHOTS when it is set).
#
# Without a browser: every page has lang, viewport, title, one h1 and
# labelled inputs, and no template slot left over; errors are HTML only for
# a browser's Accept and without options=mr (the one-line text/plain
# reason otherwise, the same status); a user ID with raw control bytes is
# escaped on every HTML page (index, vindex, get title, error), while the
# machine-readable answer keeps its %XX form.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path);
use HkpTest qw(:all);

plan skip_all => 'external server' if $ENV{HKP_TEST_URL};

my $DATA = root() . '/t/data';
my $T = tmpdir();
my $CHROMIUM = (grep { have_cmd($_) } qw(chromium chromium-browser))[0];

# A key whose user ID holds raw control bytes: C0 (SOH, BEL, TAB, ESC), DEL
# and the C1 control NEL (UTF-8 C2 85).
my $CTL_UID = "Ctl\x01Bell\x07Tab\tEsc\e[31m Del\x7f C1\xc2\x85 <ctl\@example.org>";
my $CTL_HTML = 'Ctl\x01Bell\x07Tab\x09Esc\x1B[31m Del\x7F C1\xC2\x85 '
             . '&lt;ctl@example.org&gt;';
my $home = "$T/gpg";
mkdir $home, 0700;
my $g = sub { run_cmd(['gpg', '--homedir', $home, '--batch', '--no-tty', '--pinentry-mode',
                       'loopback', '--passphrase', '', @_], env => { GNUPGHOME => $home }) };
$g->('--quick-gen-key', $CTL_UID, 'ed25519', 'sign', 'never');
my ($CTL) = $g->('--with-colons', '--list-keys')->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
ok($CTL, 'generated the key with control characters in its user ID') or BAIL_OUT('gpg failed');
spew("$T/ctl.pgp", $g->('--export', $CTL)->{out});

my $db = "$T/db";
import_keys($db, "$DATA/k1-ed25519.asc", "$DATA/k2-rsa2048.asc",
            "$DATA/debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc", "$T/ctl.pgp");
my $DEB = '7DF3D4B58EAD38D84E554E3B68530A812B47DCDE';

# the harness page is served from $T/harness/ by a static location
make_path("$T/harness");
my $base = start_nginx(db => $db, conf => "        location = / { hkp on; }\n"
                                       . "        location /harness/ { root $T; }\n");
my $HTML = { Accept => 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

# ------------------------------------------------------------------ every page

sub page_ok {
    my ($path, $name, %o) = @_;
    my $r = http_get("$base$path", $HTML);
    is($r->{status}, $o{status} // 200, "$name: status");
    like($r->{headers}{'content-type'} // '', qr{^text/html; charset=utf-8}, "$name: text/html");
    my $c = $r->{content};
    like($c, qr{\A<!DOCTYPE html>\n<html lang="en">}, "$name: doctype and lang");
    like($c, qr{<meta name="viewport" content="width=device-width, initial-scale=1">}, "$name: viewport");
    like($c, qr{<title>[^<]+</title>}, "$name: title");
    is(scalar(() = $c =~ /<h1>/g), 1, "$name: one h1");
    unlike($c, qr/\{\{/, "$name: no template slot left");
    unlike($c, qr{<script|<link |src="http|href="http}, "$name: no script, no external asset");
    unlike($c, qr/[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]/, "$name: no raw control character");
    for my $id ($c =~ /<input[^>]*\bid="([^"]+)"[^>]*type="(?:search|text)"/g,
                $c =~ /<textarea[^>]*\bid="([^"]+)"/g) {
        like($c, qr{<label for="\Q$id\E">}, "$name: input $id has a label");
    }
    is($r->{headers}{'access-control-allow-origin'}, '*', "$name: the HKP headers");
    return $c;
}

my $front = page_ok('/', 'search page');
like($front, qr{<form class="search" action="/pks/lookup" method="get"}, 'search page: GET form to /pks/lookup');
like($front, qr{<input id="search" name="search" type="search"}, 'search page: the search box');
like($front, qr{name="op" value="$_"}, "search page: op=$_") for qw(index vindex get);
like($front, qr{name="exact" value="on"}, 'search page: exact');
like($front, qr{name="fingerprint" value="on" checked}, 'search page: fingerprint, on by default');
like(page_ok('/?search=%3Cb%3E%22x%22', 'search page, prefilled'),
     qr{value="&lt;b&gt;&quot;x&quot;"}, 'search page: search= prefilled, escaped');

my $submit = page_ok('/pks/submit', 'submit page');
like($submit, qr{<form class="submit" action="/pks/add" method="post">}, 'submit page: POST form to /pks/add');
like($submit, qr{<textarea id="keytext" name="keytext"}, 'submit page: textarea keytext');

my $idx = page_ok('/pks/lookup?op=index&fingerprint=on&search=Recon+Vector', 'index page');
like($idx, qr{<a href="/pks/lookup\?op=vindex&amp;search=0x[0-9A-F]{16}">Recon Vector One &lt;vector1\@example\.invalid&gt;</a>},
     'index page: SKS listing, the user ID links to the key page');

my $key = page_ok("/pks/lookup?op=vindex&search=0x$DEB", 'key page');
like($key, qr{<h2 id="key-68530A812B47DCDE"><bdi>Jay Bonci &lt;jaybonci\@debian\.org&gt;</bdi> <span class="badge bad">expired</span></h2>},
     'key page: primary user ID as heading, marked expired');
like($key, qr{<dd class="fpr">7DF3 D4B5 8EAD 38D8 4E55&nbsp; 4E3B 6853 0A81 2B47 DCDE</dd>}, 'key page: fingerprint');
like($key, qr{<dt>Expires</dt><dd>2017-01-23 <span class="badge bad">expired</span></dd>}, 'key page: expiry shown and marked');
like($key, qr{<td data-label="Key ID"><code>0xE85E05609BC71181</code></td><td data-label="Algorithm">RSA, 2048 bits</td><td data-label="Usage">encrypt</td>},
     'key page: the subkey with its usage');
like($key, qr{href="/pks/lookup\?op=get&amp;options=mr&amp;search=0x$DEB" download=}, 'key page: download link');
like($key, qr{<strong>uid</strong> <span class="uid">Jay Bonci &lt;jaybonci\@debian.org&gt;</span>}, 'key page: SKS listing kept');

my $stats = page_ok('/pks/lookup?op=stats', 'stats page');
like($stats, qr{<svg class="chart" viewBox="0 0 \d+ \d+" role="img" aria-labelledby="hist-daily-t hist-daily-d"}, 'stats page: daily chart');
like($stats, qr{<svg class="chart"[^>]*aria-labelledby="hist-hourly-t}, 'stats page: hourly chart');
like($stats, qr{<rect class="new" x="\d+" y="\d+" width="\d+" height="[1-9]\d*"><title>4 new</title></rect>},
     'stats page: a bar for the 4 new keys');
like($stats, qr{<h3>Daily Histogram</h3>\n<table border="1">}, "stats page: SKS's table as SKS has it");

my $get = page_ok("/pks/lookup?op=get&search=0x$DEB", 'get page');
like($get, qr{<pre>\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n}, 'get page: the armor');

# the search page's location never takes a body: no body-limit warning for
# it (the /pks/ location's warning stays)
{
    my $b = start_nginx(db => $db, conf => "        client_max_body_size 1m;\n"
                                         . "        location = / { hkp on; }\n");
    my @warn = nginx_error_log($b) =~ /(\[warn\].*client_max_body_size 1048576 is below hkp_add_max_body.*)/g;
    is(scalar @warn, 1, 'one body-limit warning: the /pks/ location, not "location = /"')
        or diag join "\n", @warn;
    stop_nginx($b);
}

# ------------------------------------------------------------------ errors

my $err = page_ok('/pks/lookup?op=index&search=nosuchname', 'error page', status => 404);
like($err, qr{<p class="reason" role="alert">No keys found</p>}, 'error page: the reason');
like($err, qr{<a href="/\?search=nosuchname">Change the search}, 'error page: back to the search, filled in');
like($err, qr{<a href="/">New search</a>}, 'error page: a new search');
like(page_ok('/pks/lookup?op=index&search=0xZZ', 'error page 400', status => 400),
     qr{<p class="reason" role="alert">Invalid key ID: not a hexadecimal number</p>}, 'error page: 400 reason');
page_ok('/pks/nothing-here', 'error page, unknown path', status => 404);
like(page_ok('/pks/add', 'error page, GET /pks/add', status => 405),
     qr{href="/pks/submit">Back to the submit page}, 'error page after /pks/add: back to the submit page');

# the one-line reason stays for every program
for my $c (['without Accept', '/pks/lookup?op=index&search=nosuchname', {}],
           ['curl Accept', '/pks/lookup?op=index&search=nosuchname', { Accept => '*/*' }],
           ['options=mr', '/pks/lookup?op=index&options=mr&search=nosuchname', $HTML],
           ['op=get mr', '/pks/lookup?op=get&options=mr&search=nosuchname', $HTML]) {
    my ($name, $path, $h) = @$c;
    my $r = http_get("$base$path", $h);
    is($r->{status}, 404, "$name: 404");
    is($r->{content}, "No keys found\n", "$name: one line");
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, "$name: text/plain");
}
is(http_get("$base/pks/health", $HTML)->{headers}{'content-type'} =~ m{^text/plain} ? 1 : 0, 1,
   '/pks/health: text/plain for a browser too');
{
    my $r = http_req('POST', "$base/pks/hashquery", { %$HTML, 'Content-Type' => 'application/octet-stream' }, 'x');
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, '/pks/hashquery error: text/plain for a browser too');
}

# ------------------------------------------------------------------ control characters

{
    my $mr = http_get("$base/pks/lookup?op=index&options=mr&search=0x$CTL")->{content};
    like($mr, qr{^uid:Ctl%01Bell%07Tab%09Esc%1B\[31m Del%7F C1%C2%85 <ctl\@example.org>:}m,
         'mr index: the control bytes as %XX, unchanged');
    my $i = page_ok("/pks/lookup?op=index&search=0x$CTL", 'index page, control characters');
    like($i, qr{\Q$CTL_HTML\E}, 'index page: every control character escaped');
    my $v = page_ok("/pks/lookup?op=vindex&search=0x$CTL", 'key page, control characters');
    like($v, qr{<bdi>\Q$CTL_HTML\E</bdi>}, 'key page: every control character escaped');
    my $s = "Ctl\x01\x7f";
    (my $q = $s) =~ s/([^A-Za-z0-9])/sprintf '%%%02X', ord $1/ge;
    my $e = page_ok("/pks/lookup?op=get&search=$q+nosuchword", 'error page, control characters', status => 404);
    like($e, qr{Change the search &ldquo;Ctl\\x01\\x7F nosuchword&rdquo;}, 'error page: the search escaped');
    my $t = page_ok("/pks/lookup?op=get&search=0x$CTL%01", 'error page, control characters in a key ID',
                    status => 400);
}

# ------------------------------------------------------------------ the browser

SKIP: {
    skip 'no chromium (apt-get install chromium)', 1 unless $CHROMIUM;

    # Drives our pages in an iframe (same origin): fills in and submits
    # the search form, follows the key link, submits a search that finds
    # nothing. Each step logs what the page shows.
    my $keytext = slurp("$DATA/k3-ed25519.asc");
    $keytext =~ s/([\\"])/\\$1/g;
    $keytext =~ s/\r?\n/\\n/g;
    my $harness = <<'EOF';
<!DOCTYPE html><html><head><meta charset="utf-8"><title>harness</title></head><body>
<pre id="log"></pre>
<iframe id="f" src="/" width="1000" height="800"></iframe>
<script>
var log = document.getElementById('log'), f = document.getElementById('f'), step = 0;
function out(k, v) { log.textContent += k + '\t' + String(v).replace(/\s+/g, ' ').trim() + '\n'; }
function q(d, s) { var e = d.querySelector(s); return e ? e.textContent : '(none)'; }
f.onload = function () {
  var w = f.contentWindow, d = w.document;
  step++;
  out(step + ' url', w.location.pathname + w.location.search);
  out(step + ' title', d.title);
  out(step + ' h1', q(d, 'h1'));
  try {
    if (step == 1) {
      out(step + ' label', q(d, 'label[for=search]'));
      d.getElementById('search').value = 'Recon Vector';
      d.querySelector('form.search button[type=submit]').click();
    } else if (step == 2) {
      var a = d.querySelector('pre a[href*="op=vindex"]');
      out(step + ' keylink', a.getAttribute('href') + ' ' + a.textContent);
      a.click();
    } else if (step == 3) {
      out(step + ' heading', q(d, 'section.key h2'));
      out(step + ' fpr', q(d, 'dd.fpr'));
      out(step + ' uids', q(d, 'ul.uids'));
      w.location.href = '/';
    } else if (step == 4) {
      d.getElementById('search').value = 'nosuchname anywhere';
      d.querySelector('input[name=op][value=vindex]').click();
      d.querySelector('input[name=exact]').click();
      d.querySelector('form.search button[type=submit]').click();
    } else if (step == 5) {
      out(step + ' reason', q(d, 'p.reason'));
      var b = d.querySelector('a[href^="/?search="]');
      out(step + ' back', b.getAttribute('href'));
      b.click();
    } else if (step == 6) {
      out(step + ' value', d.getElementById('search').value);
      w.location.href = '/pks/submit';
    } else if (step == 7) {
      out(step + ' label', q(d, 'label[for=keytext]'));
      d.getElementById('keytext').value = KEYTEXT;
      d.querySelector('form.submit button[type=submit]').click();
    } else if (step == 8) {
      out(step + ' body', q(d, 'main'));
      out('done', 'yes');
    }
  } catch (e) { out('error', e); }
};
</script></body></html>
EOF
    $harness =~ s/KEYTEXT/"$keytext"/;
    spew("$T/harness/web.html", $harness);
    my $prof = "$T/chromium-profile";
    my @chr = ($CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
               '--disable-dev-shm-usage', "--user-data-dir=$prof");
    my $r = run_cmd([@chr, '--virtual-time-budget=20000', '--dump-dom', "$base/harness/web.html"],
                    timeout => 120);
    my ($log) = $r->{out} =~ m{<pre id="log">(.*?)</pre>}s;
    $log //= '';
    for ($log) { s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/&/g }
    my %s = map { split /\t/, $_, 2 } grep { /\t/ } split /\n/, $log;
    is($s{done}, 'yes', 'browser: every step ran') or diag "log:\n$log\nstderr:\n$r->{err}";
    ok(!exists $s{error}, 'browser: no script error') or diag $s{error};
    is($s{'1 url'}, '/', 'browser: the search page');
    is($s{'1 label'}, 'Name, e-mail address, key ID or fingerprint', 'browser: the search box has its label');
    is($s{'2 url'}, '/pks/lookup?search=Recon+Vector&op=index&fingerprint=on',
       'browser: the form builds the HKP query');
    like($s{'2 title'} // '', qr/^Search results for 'Recon Vector'$/, 'browser: the results page');
    like($s{'2 keylink'} // '', qr{^/pks/lookup\?op=vindex&search=0x[0-9A-F]{16} Recon Vector One <vector1\@example\.invalid>$},
         'browser: a key link on the results');
    like($s{'3 url'} // '', qr{^/pks/lookup\?op=vindex&search=0x[0-9A-F]{16}$}, 'browser: followed it');
    is($s{'3 heading'}, 'Recon Vector One <vector1@example.invalid>', 'browser: the key page, headed by the primary user ID');
    like($s{'3 fpr'} // '', qr/^[0-9A-F]{4}( [0-9A-F]{4}){4}\x{a0}? [0-9A-F]{4}( [0-9A-F]{4}){4}$|^[0-9A-F ]+/, 'browser: the fingerprint');
    like($s{'3 uids'} // '', qr/Recon Vector One <vector1\@example\.invalid> primary/, 'browser: the user IDs, the primary marked');
    is($s{'5 url'}, '/pks/lookup?search=nosuchname+anywhere&op=vindex&fingerprint=on&exact=on',
       'browser: the second search, with op and exact from the form');
    is($s{'5 reason'}, 'No keys found', 'browser: the HTML error page with the reason');
    is($s{'5 title'}, 'Not found (404)', 'browser: the error page title');
    is($s{'5 back'}, '/?search=nosuchname%20anywhere', 'browser: the way back');
    is($s{'6 value'}, 'nosuchname anywhere', 'browser: back on the search page, the search filled in');
    is($s{'7 label'}, 'Public key (ASCII armor)', 'browser: the submit page, its textarea labelled');
    is($s{'8 url'}, '/pks/add', 'browser: the form posted to /pks/add');
    is($s{'8 title'}, 'Key upload', 'browser: the upload reply page');
    like($s{'8 body'} // '', qr/Key 1 \(([0-9A-F]{40})\): added as a new key/, 'browser: the key was added');
    my ($up) = ($s{'8 body'} // '') =~ /Key 1 \(([0-9A-F]{40})\)/;
    is(http_get("$base/pks/lookup?op=index&options=mr&search=0x" . ($up // 'none'))->{status}, 200,
       'the uploaded key is found');

    # screenshots at phone and desktop width
    my $shots = $ENV{HKP_WEB_SHOTS} || "$T/shots";
    make_path($shots);
    my %pages = (search => '/', results => '/pks/lookup?op=index&fingerprint=on&search=Recon+Vector',
                 key => "/pks/lookup?op=vindex&search=0x$DEB", ctl => "/pks/lookup?op=vindex&search=0x$CTL",
                 error => '/pks/lookup?op=index&search=nosuchname', submit => '/pks/submit',
                 stats => '/pks/lookup?op=stats', upload => undef);
    for my $name (sort keys %pages) {
        next unless defined $pages{$name};
        for my $size (['phone', 390, 844], ['desktop', 1280, 900]) {
            my $png = "$shots/$name-$size->[0].png";
            unlink $png;
            run_cmd([@chr, '--hide-scrollbars', "--window-size=$size->[1],$size->[2]",
                     "--screenshot=$png", "$base$pages{$name}"], timeout => 120);
            my $head = slurp($png) // '';
            like(substr($head, 0, 8), qr/^\x89PNG\r\n\x1a\n/, "screenshot $name at $size->[0] width");
        }
    }
    diag "screenshots in $shots" if $ENV{HKP_WEB_SHOTS};
}

{
    my $log = nginx_error_log($base);
    unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
        or diag $log;
}

done_testing();
