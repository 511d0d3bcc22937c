#!/usr/bin/perl
# The Debian packages, installed on this machine as an operator would:
# `./build.sh deb` builds libnginx-mod-http-hkp and hkp-reconsvc (lintian
# clean), `dpkg -i` installs both, the packaged nginx configuration passes
# `nginx -t` and answers a lookup and an upload on 11371, reconsvc runs as
# the packaged user from the unit's own command line (under systemd where
# systemd runs, as user hkp otherwise), logrotate's SIGHUP keeps it
# running, a remove leaves nginx working, and a purge takes everything
# away. Needs root (dpkg); runs one at a time per machine (a lock).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Fcntl qw(:flock);
use POSIX qw(WNOHANG setsid _exit);
use Time::HiRes qw(sleep);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(wait_for);

plan skip_all => 'installs packages: needs root' if $> != 0;
plan skip_all => 'needs dpkg' unless have_cmd('dpkg');

my $ROOT = root();
my @PKGS = qw(libnginx-mod-http-hkp hkp-reconsvc);
my $KEY = "$ROOT/t/data/debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc";
my $FPR = '7DF3D4B58EAD38D84E554E3B68530A812B47DCDE';
my $UPLOAD = "$ROOT/t/data/k2-rsa2048.asc";

open(my $lock, '>', '/tmp/hkp-deb-test.lock') or die "lock: $!";
flock($lock, LOCK_EX) or die "flock: $!";

sub sh { return run_cmd(['sh', '-c', $_[0]], timeout => $_[1] // 120) }
sub installed {
    my $r = run_cmd(['dpkg-query', '-W', '-f=${Status}', $_[0]]);
    return $r->{out} =~ /install ok installed/;
}

for my $p (@PKGS) {
    plan skip_all => "$p is installed on this machine already; not touching it"
        if installed($p);
}
my $systemd = -d '/run/systemd/system';
# The system nginx (pid file of Debian's nginx.conf), not the test nginx
# instances other tests run under their own prefixes.
my $nginx_was_running = do {
    my $pid = (slurp('/run/nginx.pid') // '') =~ /(\d+)/ ? $1 : 0;
    $pid && kill(0, $pid);
};
if (!$nginx_was_running) {
    for my $port (80, 11371) {
        plan skip_all => "port $port is in use by something else" if SksPeer::port_listening($port);
    }
}

my ($started_nginx, $recon_pid);
sub cleanup {
    if ($recon_pid) { kill 'TERM', $recon_pid; waitpid($recon_pid, 0); undef $recon_pid }
    sh('systemctl stop hkp-reconsvc.service') if $systemd;
    if ($started_nginx) { sh('/usr/sbin/nginx -s quit; sleep 1'); undef $started_nginx }
    sh("dpkg --purge @PKGS >/dev/null 2>&1", 300);
}
END { cleanup() if $? != 0 || !Test::More->builder->is_passing }

# --- build ---------------------------------------------------------------
my $r = run_cmd(["$ROOT/build.sh", 'deb'], timeout => 1200);
is($r->{rc}, 0, './build.sh deb succeeds') or diag($r->{err});
my $ver = run_cmd(['dpkg-parsechangelog', '-l', "$ROOT/debian/changelog", '-S', 'Version'])->{out};
chomp $ver;
my $arch = run_cmd(['dpkg', '--print-architecture'])->{out};
chomp $arch;
my @debs = map { "$ROOT/build/${_}_${ver}_$arch.deb" } @PKGS;
ok(-f $_, "built $_") for @debs;
my @lint = grep { /^[EW]: / } split /\n/, $r->{err};
is_deeply(\@lint, [], 'lintian: no errors or warnings (overrides explained in debian/)');
BAIL_OUT('no packages to install') if grep { !-f } @debs;

# --- install -------------------------------------------------------------
$r = run_cmd(['dpkg', '-i', @debs], timeout => 300);
is($r->{rc}, 0, 'dpkg -i installs both packages') or diag("$r->{out}$r->{err}");
ok(installed($_), "$_ is installed") for @PKGS;

ok(-f '/usr/lib/nginx/modules/ngx_hkp_module.so', 'the module is in /usr/lib/nginx/modules');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-hkp.conf'),
   '/usr/share/nginx/modules-available/mod-http-hkp.conf',
   'its load file is enabled the Debian way');
like(slurp('/usr/share/nginx/modules-available/mod-http-hkp.conf') // '',
     qr{^load_module modules/ngx_hkp_module\.so;$}m, 'the load file loads it');
like(slurp('/etc/nginx/conf.d/hkp.conf') // '', qr{^hkp_db /var/lib/hkp/db;$}m,
     'the conf.d snippet names the database');
is(readlink('/etc/nginx/sites-enabled/hkp'), '../sites-available/hkp',
   'the 11371 site is enabled on a fresh install');
my @pw = getpwnam('hkp');
ok(@pw, 'the system user hkp exists');
ok(@pw && $pw[7] eq '/var/lib/hkp', 'with home /var/lib/hkp');
like(run_cmd(['id', '-nG', 'www-data'])->{out}, qr/\bhkp\b/,
     "nginx's worker user is in group hkp");
ok(-f '/var/lib/hkp/db/data.mdb', 'an empty database was made');
is((stat('/var/lib/hkp/db/data.mdb'))[4], $pw[2], 'owned by hkp');
ok(-f '/lib/systemd/system/hkp-reconsvc.service', 'the systemd unit is installed');
ok(-f '/etc/logrotate.d/hkp-reconsvc', 'the logrotate file is installed');
ok(-f '/usr/share/man/man8/reconsvc.8.gz', 'the man page is installed');
like(slurp('/etc/hkp/membership') // '', qr/membership/i, '/etc/hkp/membership is there');
is(run_cmd(['/usr/sbin/reconsvc', '--version'])->{rc}, 0, 'reconsvc --version runs');

# --- nginx with the packaged configuration -------------------------------
$r = run_cmd(['runuser', '-u', 'hkp', '--', '/usr/sbin/reconsvc', 'import',
              '--db', '/var/lib/hkp/db', $KEY], timeout => 120);
is($r->{rc}, 0, 'reconsvc import as user hkp into the packaged database')
    or diag($r->{err});
$r = run_cmd(['/usr/sbin/nginx', '-t']);
is($r->{rc}, 0, 'nginx -t accepts the packaged configuration') or diag($r->{err});
if ($nginx_was_running) {
    sh('/usr/sbin/nginx -s reload; sleep 2');
} else {
    $r = run_cmd(['/usr/sbin/nginx'], timeout => 30);
    is($r->{rc}, 0, 'nginx starts with it') or diag($r->{err});
    $started_nginx = 1;
}
ok(wait_for(10, sub { SksPeer::port_listening(11371) }), 'nginx listens on 11371');
$r = run_cmd(['curl', '-s', '-o', '-', '-w', '\n%{http_code}',
              "http://127.0.0.1:11371/pks/lookup?op=get&options=mr&search=0x$FPR"]);
like($r->{out}, qr/\n200\z/, 'op=get by fingerprint answers 200');
like($r->{out}, qr/-----BEGIN PGP PUBLIC KEY BLOCK-----/, 'with the key');
$r = run_cmd(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
              '--data-urlencode', 'keytext@' . $UPLOAD, 'http://127.0.0.1:11371/pks/add']);
is($r->{out}, '200', '/pks/add stores a key (the workers can write the database)');
$r = run_cmd(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
              'http://127.0.0.1:11371/pks/lookup?op=stats']);
is($r->{out}, '200', 'op=stats answers');

# --- reconsvc as the packaged service ------------------------------------
my $rport = SksPeer::free_port('127.0.0.1');
if ($systemd) {
    spew('/etc/default/hkp-reconsvc',
         "RECON_LISTEN=127.0.0.1:$rport\nHTTP_PORT=11371\n"
         . "RECON_OPTS=\"--log /var/log/hkp/reconsvc.log\"\n");
    is(sh('systemctl start hkp-reconsvc.service')->{rc}, 0, 'systemctl start hkp-reconsvc');
} else {
    # No systemd here: the unit's ExecStart, with its Environment defaults
    # and /etc/default/hkp-reconsvc, as its User.
    my $unit = slurp('/lib/systemd/system/hkp-reconsvc.service') // '';
    my ($exec) = $unit =~ /^ExecStart=(.*)$/m;
    my ($user) = $unit =~ /^User=(\S+)$/m;
    my %env = map { split /=/, $_, 2 } ($unit =~ /^Environment=(.*)$/m)[0] =~ /(\S+=\S*)/g;
    for (split /\n/, slurp('/etc/default/hkp-reconsvc') // '') {
        next unless /^([A-Z_]+)=(.*)$/;
        my ($k, $v) = ($1, $2);
        $env{$k} = $v =~ s/^"(.*)"$/$1/r;
    }
    $env{RECON_LISTEN} = "127.0.0.1:$rport";
    $exec =~ s/\$\{(\w+)\}/$env{$1} \/\/ ''/ge;
    $exec =~ s/\$(\w+)/$env{$1} \/\/ ''/ge;
    is($user, 'hkp', 'the unit runs as user hkp');
    note("running: $exec");
    $recon_pid = fork() // die "fork: $!";
    if (!$recon_pid) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/tmp/hkp-deb-test-recon.err';
        umask 007;
        { no warnings 'exec'; exec 'runuser', '-u', $user, '--', split(' ', $exec); }
        _exit(127);
    }
}
ok(wait_for(15, sub { SksPeer::port_listening($rport) }), 'reconsvc listens on its recon port')
    or diag(slurp('/tmp/hkp-deb-test-recon.err') // '');
is(sh('pgrep -u hkp -x reconsvc >/dev/null')->{rc}, 0, 'reconsvc runs as user hkp');
like(slurp('/var/log/hkp/reconsvc.log') // '', qr/listening on 127\.0\.0\.1:$rport/,
     'it logs to /var/log/hkp/reconsvc.log');
SKIP: {
    skip 'logrotate is not installed', 3 unless have_cmd('logrotate');
    $r = sh('logrotate -f /etc/logrotate.d/hkp-reconsvc');
    is($r->{rc}, 0, 'logrotate -f rotates the log') or diag($r->{err});
    ok(wait_for(10, sub { (slurp('/var/log/hkp/reconsvc.log') // '') =~ /log reopened/ }),
       "logrotate's postrotate makes reconsvc reopen its log");
    ok(SksPeer::port_listening($rport), 'and reconsvc keeps running');
}
if ($systemd) {
    sh('systemctl stop hkp-reconsvc.service');
} elsif ($recon_pid) {
    kill 'TERM', $recon_pid;
    waitpid($recon_pid, 0);
    is($? >> 8, 0, 'reconsvc stops cleanly on SIGTERM');
    undef $recon_pid;
}

# --- remove keeps nginx working; purge takes everything ------------------
$r = run_cmd(['dpkg', '-r', 'libnginx-mod-http-hkp'], timeout => 300);
is($r->{rc}, 0, 'dpkg -r libnginx-mod-http-hkp') or diag($r->{err});
ok(!-e '/etc/nginx/sites-enabled/hkp', 'the site is disabled on remove');
ok(!-e '/etc/nginx/conf.d/hkp.conf', 'the conf.d snippet is out of conf.d/*.conf');
$r = run_cmd(['/usr/sbin/nginx', '-t']);
is($r->{rc}, 0, 'nginx -t still passes with the module removed') or diag($r->{err});
$r = run_cmd(['dpkg', '-i', $debs[0]], timeout => 300);
is($r->{rc}, 0, 'reinstall after remove');
ok(-e '/etc/nginx/conf.d/hkp.conf' && -l '/etc/nginx/sites-enabled/hkp',
   'the snippet and the site come back');
is(run_cmd(['/usr/sbin/nginx', '-t'])->{rc}, 0, 'nginx -t passes again');

if ($started_nginx) { sh('/usr/sbin/nginx -s quit; sleep 1'); undef $started_nginx }
$r = run_cmd(['dpkg', '--purge', @PKGS], timeout => 300);
is($r->{rc}, 0, 'dpkg --purge both') or diag($r->{err});
ok(!installed($_), "$_ is gone") for @PKGS;
for my $f ('/usr/lib/nginx/modules/ngx_hkp_module.so', '/etc/nginx/conf.d/hkp.conf',
           '/etc/nginx/conf.d/hkp.conf.removed', '/etc/nginx/sites-enabled/hkp',
           '/etc/nginx/sites-available/hkp', '/etc/nginx/modules-enabled/50-mod-http-hkp.conf',
           '/var/lib/hkp', '/etc/hkp', '/lib/systemd/system/hkp-reconsvc.service') {
    ok(!-e $f && !-l $f, "purge removed $f");
}
is(run_cmd(['/usr/sbin/nginx', '-t'])->{rc}, 0, 'nginx -t passes after the purge');
if ($nginx_was_running) { sh('/usr/sbin/nginx -s reload') }

done_testing();
