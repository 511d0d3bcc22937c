#!/usr/bin/perl
# Real clients (gpg/dirmngr 2.2, sq 0.27, curl) against nginx + ngx_hkp_module
# over a database imported from t/data/*.asc and Debian's keyring.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
for my $c (qw(gpg gpgconf sq curl)) {
    BAIL_OUT("$c is not installed (./build.sh test installs it)") unless have_cmd($c);
}
BAIL_OUT("$KEYRING missing (apt-get install debian-keyring)") unless -r $KEYRING;

# Keys from t/data (see t/data/hashes.txt).
my %K = (
    k1 => { fpr => '8236DAA56DF885E6A77B041A20E8C38A2AE840BF', sub => 'BB3556C600B38C1AA671B6598B7D547986907D72',
            uid => 'Recon Vector One <vector1@example.invalid>', mail => 'vector1@example.invalid' },
    k2 => { fpr => '451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E',
            uid => 'Recon Vector Two <vector2@example.invalid>', mail => 'vector2@example.invalid' },
    k4 => { fpr => 'B4C5A495B4BFFC9CAA8731DD8F795EA356300AE6',
            uid => 'Recon Vector Four <vector4@example.invalid>', mail => 'vector4@example.invalid' },
    k5 => { fpr => '0BEBE28117B7F23865DCCCC97DBCCCC7E0786E61',
            uid => 'Recon Extra 5 <extra5@example.invalid>', mail => 'extra5@example.invalid' },
    k7 => { fpr => '756312A9860891BF7FEB5A90C037ABC624C1063D' },
    deb => { fpr => '20691DFCC2C98C47952984EE00018C22381A7594' },   # in debian-keyring 2022.12.24
);
my $MISSING = '0123456789ABCDEF0123456789ABCDEF01234567';
sub lid { substr($_[0], -16) }
sub sid { substr($_[0], -8) }

my $tmp = tmpdir();
my $db = "$tmp/db";
my $summary = import_keys($db, glob(root() . '/t/data/*.asc'), $KEYRING);
like($summary, qr/read \d+.*new \d+/s, 'reconsvc import summary') or diag $summary;
# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $base = start_nginx(db => $db, conf => 'hkp_serve_policy full;');
my $port = port();
note "nginx at $base";

# ----------------------------------------------------------------- helpers

sub keyring_fprs {          # primary fingerprints in a GNUPGHOME
    my ($home) = @_;
    my $r = gpg($home, '--with-colons', '--list-keys');
    my (@fprs, $want);
    for (split /\n/, $r->{out}) {
        $want = 1 if /^pub:/;
        $want = 0 if /^sub:/;
        if (/^fpr:(?:[^:]*:){8}([0-9A-F]+):/ && $want) { push @fprs, $1; $want = 0 }
    }
    return \@fprs;
}

sub has_fpr { my ($home, $fpr) = @_; return scalar grep { $_ eq $fpr } @{ keyring_fprs($home) } }

sub show {
    my ($r, $home) = @_;
    my $s = "rc=$r->{rc}" . ($r->{timed_out} ? ' TIMED OUT' : '') . "\nstdout: $r->{out}\nstderr: $r->{err}";
    if ($home && defined(my $log = slurp("$home/dirmngr.log"))) {
        my @l = split /\n/, $log;
        $s .= "\ndirmngr.log (tail):\n" . join "\n", @l[($#l > 30 ? $#l - 30 : 0) .. $#l];
    }
    return $s;
}

sub recv_ok {
    my ($id, $fpr, $name) = @_;
    my $h = gpg_home();
    my $r = gpg($h, '--recv-keys', $id);
    ok($r->{rc} == 0 && has_fpr($h, $fpr), "gpg --recv-keys $name") or diag show($r, $h);
    return $h;
}

# fingerprints named by `sq inspect` of some data
sub sq_inspect_fprs {
    my ($data) = @_;
    my $r = run_cmd(['sq', 'inspect'], stdin => $data, timeout => 30);
    return [ $r->{out} =~ /^\s*Fingerprint: ([0-9A-F]{40})$/mg ];
}

# ----------------------------------------------------------------- gpg --recv-keys

recv_ok($K{k1}{fpr}, $K{k1}{fpr}, 'by fingerprint');
recv_ok('0x' . lid($K{k2}{fpr}), $K{k2}{fpr}, 'by long key ID (0x...)');
recv_ok(lid($K{k4}{fpr}), $K{k4}{fpr}, 'by long key ID (bare)');
recv_ok(sid($K{k5}{fpr}), $K{k5}{fpr}, 'by short key ID');
recv_ok($K{deb}{fpr}, $K{deb}{fpr}, 'by fingerprint, a Debian developer key');
recv_ok($K{k1}{sub}, $K{k1}{fpr}, 'by subkey fingerprint (primary lands)');

{
    my $h = gpg_home();
    my $r = gpg($h, '--recv-keys', $K{k2}{fpr}, $K{k5}{fpr}, $K{k7}{fpr});
    ok($r->{rc} == 0 && has_fpr($h, $K{k2}{fpr}) && has_fpr($h, $K{k5}{fpr}) && has_fpr($h, $K{k7}{fpr}),
       'gpg --recv-keys three keys at once') or diag show($r, $h);

    $r = gpg($h, '--refresh-keys');
    ok($r->{rc} == 0, 'gpg --refresh-keys of those keys') or diag show($r, $h);

    $r = gpg($h, '--recv-keys', $MISSING);
    isnt($r->{rc}, 0, 'gpg --recv-keys of an unknown fingerprint fails');
    like($r->{err}, qr/No data|not found/i, '... with "No data"') or diag show($r, $h);
    is(scalar @{ keyring_fprs($h) }, 3, '... and imports nothing');
}

# ----------------------------------------------------------------- gpg --search-keys

{
    my $h = gpg_home();
    # In batch mode gpg prints the listing, then fails to prompt (rc 2).
    my $r = gpg($h, '--search-keys', 'Recon Vector Two');
    like($r->{out}, qr/^\(1\)\s+\Q$K{k2}{uid}\E\s*\n\s+2048 bit RSA key \Q${\ lid($K{k2}{fpr})}\E/m,
         'gpg --search-keys by name lists the key') or diag show($r, $h);
    unlike($r->{out}, qr/\(2\)/, '... and only that key') or diag show($r, $h);

    $r = gpg($h, '--search-keys', $K{k1}{mail});
    like($r->{out}, qr/^\(1\)\s+\Q$K{k1}{uid}\E\s*\n\s+256 bit EDDSA key \Q${\ lid($K{k1}{fpr})}\E/m,
         'gpg --search-keys by e-mail lists the key') or diag show($r, $h);

    $r = gpg($h, '--search-keys', "<$K{k4}{mail}>");
    like($r->{out}, qr/\Q$K{k4}{uid}\E/, 'gpg --search-keys by <e-mail>') or diag show($r, $h);

    $r = gpg($h, '--search-keys', '0x' . $K{k5}{fpr});
    like($r->{out}, qr/\Q$K{k5}{uid}\E/, 'gpg --search-keys by 0x fingerprint') or diag show($r, $h);

    $r = gpg($h, '--search-keys', 'recon vector');
    my @hits = $r->{out} =~ /^\((\d+)\)/mg;
    is(scalar @hits, 4, 'gpg --search-keys "recon vector" lists the 4 "Recon Vector" keys') or diag show($r, $h);

    $r = gpg($h, '--search-keys', 'nobody-here@nowhere.invalid');
    like($r->{err}, qr/not found on keyserver/, 'gpg --search-keys of an unknown address: not found') or diag show($r, $h);
    unlike($r->{out}, qr/^\(1\)/m, '... and lists nothing');
}

# ----------------------------------------------------------------- gpg --locate-keys

{
    my $h = gpg_home();
    my $r = gpg($h, '--auto-key-locate', 'clear,keyserver', '--locate-keys', $K{k4}{mail});
    ok($r->{rc} == 0 && $r->{out} =~ /\Q$K{k4}{fpr}\E/ && has_fpr($h, $K{k4}{fpr}),
       'gpg --auto-key-locate clear,keyserver --locate-keys ADDR') or diag show($r, $h);

    $r = gpg($h, '--auto-key-locate', 'clear,keyserver', '--locate-keys', 'nobody-here@nowhere.invalid');
    isnt($r->{rc}, 0, 'gpg --locate-keys of an unknown address fails') or diag show($r, $h);
}

# ----------------------------------------------------------------- sq keyserver get

my @SQ = ('sq', 'keyserver', '-p', 'insecure', '-s', "hkp://127.0.0.1:$port", 'get');
for my $case ([$K{k1}{fpr}, $K{k1}{fpr}, 'fingerprint'],
              [lid($K{k2}{fpr}), $K{k2}{fpr}, 'long key ID'],
              [sid($K{k5}{fpr}), $K{k5}{fpr}, 'short key ID'],
              [$K{k4}{mail}, $K{k4}{fpr}, 'e-mail'],
              [$K{deb}{fpr}, $K{deb}{fpr}, 'fingerprint, Debian developer key']) {
    my ($q, $fpr, $name) = @$case;
    my $r = run_cmd([@SQ, $q], timeout => 60);
    my $fprs = sq_inspect_fprs($r->{out});
    ok($r->{rc} == 0 && $r->{out} =~ /^-----BEGIN PGP PUBLIC KEY BLOCK-----/ && "@$fprs" eq $fpr,
       "sq keyserver get by $name") or diag(show($r) . "\ninspect: @$fprs");
}
{
    my $r = run_cmd([@SQ, $MISSING], timeout => 60);
    ok($r->{rc} != 0 && $r->{err} =~ /Key not found/, 'sq keyserver get of an unknown fingerprint: "Key not found"')
        or diag show($r);
    $r = run_cmd([@SQ, 'nobody-here@nowhere.invalid'], timeout => 60);
    ok($r->{rc} != 0 && $r->{err} =~ /not found/i, 'sq keyserver get of an unknown e-mail: not found')
        or diag show($r);
}

# ----------------------------------------------------------------- curl | gpg --import

for my $case (['options=mr&', 'mr'], ['', 'HTML page']) {
    my ($opt, $name) = @$case;
    my $url = "$base/pks/lookup?op=get&${opt}search=0x$K{k2}{fpr}";
    my $c = run_cmd(['curl', '-sS', '--noproxy', '*', '--max-time', '30', '-o', '-', '-w', '\n%{http_code}', $url],
                    timeout => 60);
    my ($body, $code) = $c->{out} =~ /\A(.*)\n(\d+)\z/s ? ($1, $2) : ($c->{out}, 0);
    is($code, 200, "curl op=get ($name): 200") or diag show($c);
    my $h = gpg_home();
    my $r = gpg($h, '--import', { stdin => $body });
    ok($r->{rc} == 0 && has_fpr($h, $K{k2}{fpr}), "curl op=get ($name) | gpg --import") or diag show($r, $h);
}

# ----------------------------------------------------------------- server health

{
    my $r = http_get('/pks/lookup?op=get&options=mr&search=0x' . $K{k1}{fpr});
    is($r->{status}, 200, 'nginx still serves after all clients');
    my $log = nginx_error_log();
    unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
        or diag join "\n", grep { /signal|\[alert\]|\[emerg\]|\[crit\]/ } split /\n/, $log;
}

done_testing();
