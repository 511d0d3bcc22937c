#!/usr/bin/perl
# `reconsvc migrate`: an SKS node's sksconf (Debian's as shipped, and a
# typical public node's) becomes this keyserver's nginx snippet and site,
# reconsvc's unit settings and membership. The nginx files pass `nginx -t`
# with the module; the reconsvc settings start `reconsvc run`. Bad values
# are refused with the line, and nothing is written or overwritten.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(setsid _exit WNOHANG);
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use HkpTest qw(:all);
use SksPeer;

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $SO = $ENV{HKP_MODULE_SO} || "$ROOT/build/ngx_hkp_module.so";
-x $RECONSVC or BAIL_OUT("$RECONSVC is not built (run ./build.sh)");
my $T = tmpdir();
mkdir "$T/$_" for qw(deb pub);

sub migrate { return run_cmd([$RECONSVC, 'migrate', @_], timeout => 20) }

# nginx -t over the generated snippet and site, as Debian's nginx.conf
# includes them (conf.d and sites-enabled inside http {}). nginx -t binds
# the listen addresses, so the site's go to one free loopback port here
# (their text is checked above).
sub nginx_t {
    my ($dir) = @_;
    mkdir "$dir/ngx";
    my $port = SksPeer::free_port('127.0.0.1');
    my $site = (slurp("$dir/hkp.site") // '') =~ s/^\s+listen \S+;\n//gmr;
    $site =~ s/^server \{\n/server {\n    listen 127.0.0.1:$port;\n/m;
    spew("$dir/ngx/site", $site);
    spew("$dir/ngx/nginx.conf", "load_module $SO;\n"
        . "error_log $dir/ngx/error.log;\npid $dir/ngx/nginx.pid;\n"
        . "events {}\nhttp {\n    include $dir/hkp.conf;\n    include $dir/ngx/site;\n}\n");
    return run_cmd(['/usr/sbin/nginx', '-t', '-p', "$dir/ngx", '-c', "$dir/ngx/nginx.conf",
                    '-e', "$dir/ngx/error.log"]);
}

# --- Debian's sksconf as the sks package ships it -----------------------
spew("$T/deb/sksconf", slurp("$ROOT/t/data/sks/sksconf-debian"));
spew("$T/deb/membership", slurp("$ROOT/t/data/sks/membership-debian"));
my $r = migrate('--sksconf', "$T/deb/sksconf", '--out', "$T/out1");
is($r->{rc}, 0, "migrate Debian's sksconf") or diag($r->{err});
like($r->{out}, qr/^not carried over: pagesize \(Berkeley DB/m, 'says what it leaves and why');
like($r->{out}, qr{membership.*copied from \Q$T/deb/membership\E}, 'membership from beside sksconf');
my $site = slurp("$T/out1/hkp.site") // '';
like($site, qr/^\s+listen 127\.0\.0\.1:11371;$/m, 'hkp_address 127.0.0.1 becomes a listen line');
like($site, qr/^\s+listen \[::1\]:11371;$/m, 'and ::1 one in brackets');
like($site, qr/loopback only/, 'with a note that SKS was behind a proxy');
my $conf = slurp("$T/out1/hkp.conf") // '';
like($conf, qr/^hkp_db \/var\/lib\/hkp\/db;$/m, 'the snippet names the packaged database');
like($conf, qr/^hkp_recon_port 11370;$/m, 'and the default recon port');
my $dflt = slurp("$T/out1/hkp-reconsvc.default") // '';
like($dflt, qr/^RECON_LISTEN=0\.0\.0\.0:11370$/m, "SKS's default recon address");
like($dflt, qr/^HTTP_PORT=11371$/m, 'HTTP_PORT');
is(slurp("$T/out1/membership"), slurp("$T/deb/membership"), 'membership copied as it was');
SKIP: {
    skip "no module at $SO", 1 unless -f $SO;
    my $t = nginx_t("$T/out1");
    is($t->{rc}, 0, 'nginx -t accepts the generated snippet and site') or diag($t->{err});
}

# --- a typical public node -----------------------------------------------
my $rport = SksPeer::free_port('127.0.0.1');
spew("$T/pub/sksconf", <<"EOF");
# typical
hostname:   keyserver.example.org
server_contact: 0xDECAFBADDEADBEEF
recon_address: 127.0.0.1 ::1
recon_port: $rport
hkp_address: 192.0.2.42 2001:db8::42
hkp_port: 11371
use_port_80:
gossip_interval: 2
reconciliation_timeout: 30
reconciliation_config_timeout: 20
missing_keys_timeout: 90
mbar: 5
from_addr: "PGP Key Server Administrator <pgp-public-keys\@example.org>"
membership_reload_interval: 1
frobnicate: 3
EOF
spew("$T/peers", "keys.example.net 11370 # Jane\n");
$r = migrate('--sksconf', "$T/pub/sksconf", '--membership', "$T/peers", '--out', "$T/out2");
is($r->{rc}, 0, 'migrate a typical sksconf') or diag($r->{err});
like($r->{out}, qr/not carried over: frobnicate \(not an SKS 1\.1\.6 setting/, 'an unknown name is reported');
like($r->{out}, qr/not carried over: from_addr \(no PKS e-mail sync\)/, 'mail sync is not carried over');
like($r->{out}, qr/recon_address lists 2 addresses; reconsvc listens on one, 127\.0\.0\.1/,
     'one recon address: the IPv4 one, said so');
$conf = slurp("$T/out2/hkp.conf") // '';
like($conf, qr/^hkp_hostname keyserver\.example\.org;$/m, 'hostname -> hkp_hostname');
like($conf, qr/^hkp_contact 0xDECAFBADDEADBEEF;$/m, 'server_contact -> hkp_contact');
like($conf, qr/^hkp_recon_port $rport;$/m, 'recon_port -> hkp_recon_port');
$site = slurp("$T/out2/hkp.site") // '';
like($site, qr/^\s+listen 192\.0\.2\.42:11371;$/m, 'public hkp_address listen');
like($site, qr/^\s+listen \[2001:db8::42\]:80;$/m, 'use_port_80 adds port 80');
unlike($site, qr/loopback only/, 'no proxy note for public addresses');
like($site, qr/^\s+server_name keyserver\.example\.org;$/m, 'server_name from hostname');
is(slurp("$T/out2/membership"), "keys.example.net 11370 # Jane\n", '--membership copied');
$dflt = slurp("$T/out2/hkp-reconsvc.default") // '';
like($dflt, qr/^RECON_LISTEN=127\.0\.0\.1:$rport$/m, 'RECON_LISTEN from recon_address and port');
my ($opts) = $dflt =~ /^RECON_OPTS="(.*)"$/m;
ok(defined $opts, 'RECON_OPTS is there');
$opts //= '';
like($opts, qr/--gossip 120\b/, 'gossip_interval minutes -> --gossip seconds');
like($opts, qr/--session-timeout 1800\b/, 'reconciliation_timeout minutes -> seconds');
like($opts, qr/--config-timeout 20\b/, 'reconciliation_config_timeout');
like($opts, qr/--fetch-timeout 90\b/, 'missing_keys_timeout');
SKIP: {
    skip "no module at $SO", 1 unless -f $SO;
    my $t = nginx_t("$T/out2");
    is($t->{rc}, 0, 'nginx -t accepts them') or diag($t->{err});
}

# The generated settings start reconsvc (its log moved to the test dir).
my ($listen) = $dflt =~ /^RECON_LISTEN=(\S+)$/m;
my ($http) = $dflt =~ /^HTTP_PORT=(\d+)$/m;
$opts =~ s{--log \S+}{--log $T/recon.log};
run_cmd([$RECONSVC, 'import', '--db', "$T/db"]);
my $pid = fork() // die "fork: $!";
if (!$pid) {
    setsid();
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$T/recon.out";
    open STDERR, '>>', "$T/recon.out";
    { no warnings 'exec'; exec $RECONSVC, 'run', '--db', "$T/db", '--listen', $listen,
        '--http-port', $http, '--membership', "$T/out2/membership", split(' ', $opts); }
    _exit(127);
}
my $up = 0;
for (1 .. 100) {
    last if waitpid($pid, WNOHANG) == $pid;
    if (IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $rport, Timeout => 1)) {
        $up = 1;
        last;
    }
    sleep 0.1;
}
ok($up, 'reconsvc run starts with the generated settings')
    or diag(slurp("$T/recon.out") // '');
like(slurp("$T/recon.log") // '', qr/gossip every 120\.0 s/, 'and gossips every 120 s');
kill 'TERM', $pid;
waitpid($pid, 0);

# --- refused -------------------------------------------------------------
for my $case (["mbar: 6\n", qr/line 1: mbar 6: reconsvc speaks only mbar 5/],
              ["q: 3\n", qr/line 1: q 3/],
              ["recon_port: 99999\n", qr/line 1: recon_port "99999" is not a port/],
              ["hkp_address: example.org\n", qr/line 1: hkp_address wants 1-8 IP addresses/],
              ["hostname: a;b\n", qr/line 1: hostname "a;b" is not a host name/],
              ["server_contact: 0x123\n", qr/line 1: server_contact "0x123"/],
              ["# fine\nnot a setting\n", qr/line 2: not "name: value"/],
              ['x' x 2000 . "\n", qr/line 1: longer than 1023 bytes/]) {
    my ($text, $want) = @$case;
    my $d = tmpdir();
    spew("$d/sksconf", $text);
    my $b = migrate('--sksconf', "$d/sksconf", '--out', "$d/out");
    is($b->{rc}, 1, 'refused: ' . substr($text =~ s/\n/ /gr, 0, 30));
    like($b->{err}, $want, '  with the line and the reason');
    ok(!-e "$d/out", '  nothing written');
}
$r = migrate('--sksconf', "$T/deb/sksconf", '--out', "$T/out1");
is($r->{rc}, 1, 'an existing output file is not overwritten');
like($r->{err}, qr/hkp\.conf: File exists/, '  and says so');
spew("$T/big", 'a' x (70 * 1024));
$r = migrate('--sksconf', "$T/big", '--out', "$T/out3");
is($r->{rc}, 1, 'an sksconf over 64 KiB is refused');
like($r->{err}, qr/larger than 64 KiB/, '  and says so');
$r = migrate('--sksconf', "$T/deb/sksconf");
is($r->{rc}, 2, '--out is required (usage error)');

done_testing();
