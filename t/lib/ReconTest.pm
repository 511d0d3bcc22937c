package ReconTest;

=pod

=head1 NAME

ReconTest - helpers for the recon tests: start/stop C<reconsvc run>, read a
database's set of key hashes, synthetic key fixtures (core Perl only)

=head1 FUNCTIONS

=over

=item start_recon(%opt)

C<db>, C<http_port>, C<listen> (ADDR:PORT; default 127.0.0.1 and a free
port), C<peers> (arrayref of "HOST PORT" membership lines), C<gossip>
(seconds, default 2), C<args> (extra arguments). Starts
C<build/reconsvc run> (or C<$ENV{HKP_RECONSVC}>) as our child, logging to a
file, and waits until it listens. Returns an object with C<pid>,
C<port>, C<addr>, C<log> (text so far), C<membership> (path),
C<set_peers(@lines)>, C<stop> (TERM, waits, returns the exit status),
C<kill9>. Every node still running is stopped at exit.

=item db_hashes($dbdir)

Sorted list of the upper-case hex key hashes in the C<keys> database
(C<mdb_dump -s keys>).

=item fixture_keys()

Paths of two cached binary keyrings made by bench/synth-keys.py: 300 keys
and 5000 further keys (build/recon-cache/).

=item write_keys($file, @keys)

=item wait_for($seconds, $code)

Polls C<$code> every 0.5 s until it returns true; returns its last value.

=back

=cut

use strict;
use warnings;
use Carp qw(croak);
use Exporter 'import';
use File::Path qw(make_path);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h setsid _exit);
use Time::HiRes qw(sleep time);
use HkpTest qw(root tmpdir slurp spew);
use SksPeer;

our @EXPORT_OK = qw(start_recon db_hashes fixture_keys write_keys wait_for
                    recon_str recon_frame recon_config_frame
                    recon_handshake recon_read_until_type have_synth);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $OWNER = $$;
my @NODES;

sub wait_for {
    my ($secs, $code) = @_;
    my $deadline = time + $secs;
    my $v;
    while (1) {
        $v = $code->();
        return $v if $v || time > $deadline;
        sleep 0.5;
    }
}

sub write_keys {
    my ($file, @keys) = @_;
    spew($file, join '', @keys);
    return $file;
}

# True when bench/synth-keys.py can run (it needs python3-cryptography).
sub have_synth {
    return system('/usr/bin/python3 -c "import cryptography" 2>/dev/null') == 0;
}

sub fixture_keys {
    my $dir = root() . '/build/recon-cache';
    make_path($dir);
    my @out;
    for my $f (['base300.pgp', 300, 0], ['extra5000.pgp', 5000, 300]) {
        my $path = "$dir/$f->[0]";
        if (!-s $path) {
            my $cmd = "/usr/bin/python3 " . root() . "/bench/synth-keys.py $f->[1] "
                . "--seed recon-test --start $f->[2] > $path.tmp";
            system($cmd) == 0 or croak "synth-keys.py failed: $cmd";
            rename "$path.tmp", $path or croak "rename: $!";
        }
        push @out, $path;
    }
    return @out;
}

sub db_hashes {
    my ($db) = @_;
    my $pid = open(my $fh, '-|') // croak "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        { no warnings 'exec'; exec 'mdb_dump', '-s', 'keys', $db; }
        _exit(127);
    }
    my (@h, $in, $iskey);
    while (my $l = <$fh>) {
        if (!$in) { $in = 1 if $l =~ /^HEADER=END/; $iskey = 1; next }
        last if $l =~ /^DATA=END/;
        if ($iskey && $l =~ /^ ([0-9a-f]{32})$/) { push @h, uc $1 }
        $iskey = !$iskey;
    }
    close $fh;
    return sort @h;
}

# Recon wire helpers for scripted peers (doc/recon.md 3): a str (u32
# length + bytes), a frame (u32 length + type byte + payload), and our
# Config frame announcing $http_port with SKS's filters.
sub recon_str { pack('N', length $_[0]) . $_[0] }
sub recon_frame { my ($type, $payload) = @_; pack('NC', 1 + length $payload, $type) . $payload }
sub recon_config_frame {
    my ($http) = @_;
    my @kv = (bitquantum => pack('N', 2), filters => 'yminsky.dedup,yminsky.merge',
              'http port' => pack('N', $http), mbar => pack('N', 5), version => '1.1.6');
    my $p = pack('N', @kv / 2);
    while (my ($k, $v) = splice @kv, 0, 2) { $p .= recon_str($k) . recon_str($v) }
    return recon_frame(10, $p);
}

# A scripted peer's handshake on socket $s: sends our Config (HTTP port
# $http) and "passed", reads the peer's Config frame and verdict. Returns
# (verdict or undef after 10 s, what followed).
sub recon_handshake {
    my ($s, $http) = @_;
    print $s recon_config_frame($http) . recon_str('passed');
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + 10;
    while (time < $deadline) {
        # the Config frame, then the verdict (an unframed str)
        if (length($buf) >= 4) {
            my $len = unpack('N', $buf);
            if (length($buf) >= 4 + $len + 4) {
                my $vlen = unpack('N', substr($buf, 4 + $len, 4));
                if (length($buf) >= 4 + $len + 4 + $vlen) {
                    my $verdict = substr($buf, 4 + $len + 4, $vlen);
                    substr($buf, 0, 4 + $len + 4 + $vlen, '');
                    return ($verdict, $buf);
                }
            }
        }
        next unless $sel->can_read(0.2);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    return (undef, $buf);
}

# After the handshake: reads whole frames into $$buf until one of type
# $want arrives (returns it) or $secs pass / EOF (undef).
sub recon_read_until_type {
    my ($s, $buf, $want, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $deadline = time + $secs;
    while (time < $deadline) {
        while (length($$buf) >= 5) {
            my ($len, $type) = unpack('NC', $$buf);
            last if length($$buf) < 4 + $len;
            substr($$buf, 0, 4 + $len, '');
            return $type if $type == $want;
        }
        next unless $sel->can_read(0.2);
        my $n = sysread($s, my $chunk, 65536);
        return undef unless $n;
        $$buf .= $chunk;
    }
    return undef;
}

sub _bin { $ENV{HKP_RECONSVC} || root() . '/build/reconsvc' }

sub start_recon {
    my (%o) = @_;
    my $dir = tmpdir();
    my $addr = $o{addr} // '127.0.0.1';
    my $port = $o{port} // SksPeer::free_port($addr);
    my $self = bless { dir => $dir, addr => $addr, port => $port,
                       membership => "$dir/membership", logf => "$dir/recon.log" }, __PACKAGE__;
    $self->set_peers(@{ $o{peers} // [] });
    my @cmd = (_bin(), 'run', '--db', $o{db}, '--listen', "$addr:$port",
               '--http-port', $o{http_port}, '--membership', $self->{membership},
               '--gossip', $o{gossip} // 2, '--log', $self->{logf}, @{ $o{args} // [] });
    my $pid = fork() // croak "fork: $!";
    if (!$pid) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/stdout.log";
        open STDERR, '>>', "$dir/stdout.log";
        { no warnings 'exec'; exec @cmd; }
        _exit(127);
    }
    $self->{pid} = $pid;
    push @NODES, $self;
    my $up = wait_for(10, sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        return SksPeer::port_listening($port) ? 1 : 0;
    });
    if (!$up || $up == -1) {
        delete $self->{pid};
        croak "reconsvc run did not come up: " . (slurp("$dir/stdout.log") // '')
            . (slurp($self->{logf}) // '');
    }
    return $self;
}

sub pid        { $_[0]{pid} }
sub port       { $_[0]{port} }
sub addr       { $_[0]{addr} }
sub membership { $_[0]{membership} }
sub log        { slurp($_[0]{logf}) // '' }

sub set_peers {
    my ($self, @lines) = @_;
    spew("$self->{membership}.tmp", join '', "# test membership\n", map { "$_\n" } @lines);
    rename "$self->{membership}.tmp", $self->{membership} or croak "rename: $!";
}

sub _reap {
    my ($self, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $w = waitpid($self->{pid}, WNOHANG);
        return $? if $w == $self->{pid};
        return -1 if $w == -1;
        sleep 0.05;
    }
    return undef;
}

sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return undef;
    kill 'TERM', $pid;
    my $st = $self->_reap(10);
    if (!defined $st) { kill 'KILL', $pid; waitpid($pid, 0); $st = $? }
    delete $self->{pid};
    @NODES = grep { $_ != $self } @NODES;
    return $st;
}

sub kill9 {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $self->{pid};
    @NODES = grep { $_ != $self } @NODES;
}

END {
    if ($$ == $OWNER) {
        local $?;
        # a copy: kill9 takes each node out of @NODES
        my @nodes = @NODES;
        $_->kill9 for @nodes;
    }
}

1;
