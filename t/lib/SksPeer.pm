package SksPeer;

=pod

=head1 NAME

SksPeer - run Debian's real SKS 1.1.6 (C<sks db> + C<sks recon>) as a recon
peer for the tests (core Perl only)

=head1 SYNOPSIS

    use SksPeer;
    my $sks = SksPeer->start(dir => "$tmp/sks", addr => '127.0.0.2',
        keys => [$ring1, $ring2], peers => ["127.0.0.1:$our_recon"],
        gossip => 0.05);                     # minutes
    $sks->recon_port; $sks->hkp_port; $sks->hkp_url;
    my $n = $sks->count;                     # keys, via SIGUSR2 + stats page
    $sks->set_peers("127.0.0.1:1234");       # rewrites membership
    $sks->stop;                              # also done at exit (END)

    my @keys = SksPeer::split_keyring($binary);   # list of key byte strings

=head1 NOTES

Facts about Debian's sks 1.1.6 this follows:

=over

=item * Every path is compiled in as absolute (/etc/sks/sksconf, /var/lib/sks/DB,
...) and C<-basedir> is I<prepended>; so every call passes C<-basedir DIR> and
DIR mirrors that layout.

=item * SKS tells peers apart by IP only. It accepts recon only from IPs in its
membership, skips entries with its own IP, and binds its outgoing sockets to
C<recon_address>. So SKS runs on its own loopback IP (default 127.0.0.2) and
our node is listed by the IP it connects from.

=item * The first C<sks cleandb> after C<sks build> segfaults; the second works.
Without cleandb the DB lacks the C<yminsky.merge> filter and recon fails.

=item * A connection to an SKS recon port ties up its single-threaded server for
up to 45 s: readiness is read from /proc/net/tcp, never probed by connecting.

=item * The stats page is cached; C<count> sends SIGUSR2 to C<sks db> and waits
for a new "Taken at" time.

=item * The daemons run in their own session with stdin from /dev/null and
output to files, so prove never waits on their pipes.

=back

=cut

use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h setsid _exit);
use Time::HiRes qw(sleep time);
use HkpTest qw(slurp spew);

my $SKS = '/usr/sbin/sks';
my $OWNER = $$;
my @LIVE;

sub available { return -x $SKS }

# A free TCP port on $addr (bind to port 0, read it back, close).
sub free_port {
    my ($addr) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $addr // '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or croak "free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# Is something listening on $port (any address)? From /proc/net/tcp{,6}.
sub port_listening {
    my ($port) = @_;
    my $hex = sprintf ':%04X', $port;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (my $l = <$fh>) {
            my @c = split ' ', $l;
            return 1 if $c[3] eq '0A' && substr($c[1], -5) eq $hex;
        }
    }
    return 0;
}

# Splits a binary keyring into keys (byte strings), at every public-key packet.
sub split_keyring {
    my ($d) = @_;
    my ($pos, $len, @k) = (0, length $d);
    while ($pos < $len) {
        my $h = ord substr($d, $pos, 1);
        croak "split_keyring: not a binary keyring at byte $pos" unless $h & 0x80;
        my ($tag, $hl, $bl);
        if ($h & 0x40) {
            $tag = $h & 0x3f;
            my $o = ord substr($d, $pos + 1, 1);
            if    ($o < 192)  { ($hl, $bl) = (2, $o) }
            elsif ($o < 224)  { ($hl, $bl) = (3, (($o - 192) << 8) + ord(substr($d, $pos + 2, 1)) + 192) }
            elsif ($o == 255) { ($hl, $bl) = (6, unpack 'N', substr($d, $pos + 2, 4)) }
            else { croak "split_keyring: partial length at byte $pos" }
        } else {
            $tag = ($h >> 2) & 0xf;
            my $lt = $h & 3;
            croak "split_keyring: indeterminate length at byte $pos" if $lt == 3;
            my $w = (1, 2, 4)[$lt];
            ($hl, $bl) = (1 + $w, unpack(('C', 'n', 'N')[$lt], substr($d, $pos + 1, $w)));
        }
        push @k, [$pos, 0] if $tag == 6;
        croak "split_keyring: packet before the first key" unless @k;
        $pos += $hl + $bl;
        $k[-1][1] = $pos;
    }
    croak 'split_keyring: truncated' if $pos != $len;
    return map { substr($d, $_->[0], $_->[1] - $_->[0]) } @k;
}

sub _alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    my $st = slurp("/proc/$pid/stat") // return 0;
    return (split ' ', $st)[2] ne 'Z';
}

sub _run {            # run a command to completion, output to $log
    my ($log, @cmd) = @_;
    my $pid = fork() // croak "fork: $!";
    if (!$pid) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        { no warnings 'exec'; exec @cmd; }
        _exit(127);
    }
    waitpid($pid, 0);
    return $? >> 8 | ($? & 127 ? 128 : 0);
}

sub _daemon {         # start a daemon; returns its pid (we stay its parent)
    my ($dir, $log, @cmd) = @_;
    my $pid = fork() // croak "fork: $!";
    if (!$pid) {
        setsid();
        chdir $dir;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        { no warnings 'exec'; exec @cmd; }
        _exit(127);
    }
    return $pid;
}

=head2 SksPeer->start(%opt)

C<dir> (new directory), C<keys> (binary keyring file or arrayref of them;
concatenated), or C<prebuilt> (true: C<dir> holds a DB that bench/sks.sh
build made, var/lib/sks/DB and PTree; nothing is built), C<addr> (default
127.0.0.2), C<recon_port>/C<hkp_port>
(default: free ports), C<peers> (arrayref of HOST:PORT), C<gossip>
(minutes, default 0.1), C<dontgossip>. Builds the DB, starts both daemons
and returns once HKP answers and the recon port listens. Dies on failure
with the end of the logs.

=cut

sub start {
    my ($class, %o) = @_;
    croak "sks is not installed ($SKS)" unless available();
    my $dir = $o{dir} or croak 'start: dir';
    my $addr = $o{addr} // '127.0.0.2';
    my $rport = $o{recon_port} // free_port($addr);
    my $hport = $o{hkp_port} // free_port($addr);
    my $self = bless { dir => $dir, addr => $addr, recon_port => $rport,
                       hkp_port => $hport, pids => {} }, $class;
    make_path(map { "$dir/$_" } qw(etc/sks var/lib/sks var/log/sks var/run/sks var/spool/sks));
    my $gossip = $o{gossip} // 0.1;
    spew("$dir/etc/sks/sksconf", join '', map { "$_\n" }
        "hostname: $addr", "nodename: test-sks-$rport",
        "recon_address: $addr", "recon_port: $rport",
        "hkp_address: $addr", "hkp_port: $hport",
        "gossip_interval: $gossip", ($o{dontgossip} ? ('dontgossip:') : ()),
        'initial_stat:', 'disable_mailsync:', 'membership_reload_interval: 0.01',
        'debuglevel: ' . ($o{debuglevel} // 3), 'pagesize: 16', 'ptree_pagesize: 16');
    spew("$dir/etc/sks/mailsync", '');
    spew("$dir/DB_CONFIG", "set_cachesize 0 33554432 1\nset_flags DB_LOG_AUTOREMOVE\n"
        . "set_lg_max 10485760\nset_lk_detect DB_LOCK_DEFAULT\n");
    $self->set_peers(@{ $o{peers} // [] });
    if ($o{prebuilt}) {
        croak "start: no SKS DB and PTree in $dir/var/lib/sks"
            unless -d "$dir/var/lib/sks/DB" && -d "$dir/var/lib/sks/PTree";
    } else {
        my @rings = ref $o{keys} ? @{ $o{keys} } : ($o{keys});
        croak 'start: keys' unless @rings && defined $rings[0];
        spew("$dir/keys.pgp", join '', map { slurp($_) // croak "read $_: $!" } @rings);
        my $log = "$dir/build.out";
        my $ok = _run($log, $SKS, 'build', "$dir/keys.pgp", '-n', '10', '-cache', '100', '-basedir', $dir) == 0
            && (_run($log, $SKS, 'cleandb', '-basedir', $dir) == 0       # first one segfaults
                || _run($log, $SKS, 'cleandb', '-basedir', $dir) == 0)
            && _run($log, $SKS, 'pbuild', '-cache', '20', '-ptree_cache', '70', '-basedir', $dir) == 0;
        croak "sks DB build failed:\n" . (slurp($log) // '') unless $ok;
    }
    push @LIVE, $self;
    $self->{pids}{db} = _daemon($dir, "$dir/db.out", $SKS, '-basedir', $dir, 'db');
    $self->_wait(sub { -S "$dir/var/run/sks/db_com_sock" && $self->_stats }, 'sks db', 'db');
    $self->{pids}{recon} = _daemon($dir, "$dir/recon.out", $SKS, '-basedir', $dir, 'recon');
    $self->_wait(sub { -S "$dir/var/run/sks/recon_com_sock" && port_listening($rport) },
                 'sks recon', 'recon');
    return $self;
}

sub _wait {
    my ($self, $cond, $what, $which) = @_;
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if $cond->();
        if (!_alive($self->{pids}{$which})) { last }
        sleep 0.1;
    }
    my $logs = join '', map { slurp("$self->{dir}/$_") // '' }
        ('db.out', 'recon.out', 'var/log/sks/db.log', 'var/log/sks/recon.log');
    $self->stop;
    croak "$what did not come up:\n" . substr($logs, -3000);
}

sub recon_port { $_[0]{recon_port} }
sub hkp_port   { $_[0]{hkp_port} }
sub addr       { $_[0]{addr} }
sub dir        { $_[0]{dir} }
sub hkp_url    { "http://$_[0]{addr}:$_[0]{hkp_port}" }
sub recon_log  { slurp("$_[0]{dir}/var/log/sks/recon.log") // '' }
sub db_log     { slurp("$_[0]{dir}/var/log/sks/db.log") // '' }

# Membership: SKS re-reads it when its mtime changes.
sub set_peers {
    my ($self, @peers) = @_;
    my $f = "$self->{dir}/etc/sks/membership";
    spew("$f.tmp", join '', "# written by t/lib/SksPeer.pm\n",
          map { my ($h, $p) = /^\[?(.*?)\]?:(\d+)$/ or croak "bad peer $_"; "$h $p\n" } @peers);
    rename "$f.tmp", $f or croak "rename: $!";
}

sub _http_get {
    my ($self, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $self->{addr}, PeerPort => $self->{hkp_port},
                                  Proto => 'tcp', Timeout => 5) or return undef;
    print $s "GET $path HTTP/1.0\r\n\r\n";
    local $/;
    my $r = <$s>;
    close $s;
    return $r;
}

sub _stats { my $r = $_[0]->_http_get('/pks/lookup?op=stats'); return $r && $r =~ m{^HTTP/1\.\d 200} ? $r : undef }

# Number of keys in SKS's DB: SIGUSR2 makes `sks db` recompute its stats page.
sub count {
    my ($self) = @_;
    my ($before) = ($self->_stats // '') =~ /Taken at ([^<]*)/;
    sleep 1.1;                            # "Taken at" has 1 s resolution
    kill 'USR2', $self->{pids}{db};
    my $deadline = time + 30;
    while (time < $deadline) {
        my $page = $self->_stats // '';
        my ($after) = $page =~ /Taken at ([^<]*)/;
        if (defined $after && (!defined $before || $after ne $before)) {
            my ($n) = $page =~ /Total number of keys: (\d+)/;
            return $n;
        }
        sleep 0.2;
    }
    return undef;
}

# Raw HKP op=hget answer for a hash (HTTP status, body).
sub hget {
    my ($self, $hash) = @_;
    my $r = $self->_http_get("/pks/lookup?op=hget&search=$hash") // '';
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    return $st // 0;
}

sub stop {
    my ($self) = @_;
    for my $n ('recon', 'db') {
        my $pid = delete $self->{pids}{$n} or next;
        kill 'TERM', $pid;
        my $deadline = time + 20;
        while (time < $deadline) {
            last if waitpid($pid, WNOHANG) == $pid || !_alive($pid);
            sleep 0.05;
        }
        if (_alive($pid)) { kill 'KILL', $pid; waitpid($pid, 0) }
    }
    @LIVE = grep { $_ != $self } @LIVE;
}

END {
    if ($$ == $OWNER) {
        local $?;
        $_->stop for @{[ @LIVE ]};
    }
}

1;
