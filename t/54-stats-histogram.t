#!/usr/bin/perl
# op=stats histograms: hkp_db_put() counts, per UTC hour, the keys it stored
# new and the keys it updated by a merge (meta "hist:", store.h); op=stats
# shows SKS's Daily (7 days) and Hourly (24 hours) Histogram tables and
# Hockeypuck's JSON "daily"/"hourly" arrays, newest first, every day/hour
# of the range present (zeros included).
#   reconsvc import of 3 keys (k1, k2, k3-dupsig): 3 new
#   POST /pks/add k4 (curl): 1 new; k3-ed25519 onto k3-dupsig: 1 updated;
#   k4 again: unchanged, not counted
# The counts are checked as the sum of the rows since the test started
# (exact even if an hour or a day ends meanwhile), and the HTML rows must
# equal the JSON rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use POSIX qw(strftime);
use Time::Local qw(timegm);
use HkpTest qw(:all);

plan skip_all => 'curl not installed' unless have_cmd('curl');

my $DATA = root() . '/t/data';
my $T0 = time;
my $db = tmpdir() . '/db';

my $out = import_keys($db, map { "$DATA/$_" } qw(k1-ed25519.asc k2-rsa2048.asc k3-dupsig.asc));
like($out, qr/\bnew 3, merged 0\b/, 'reconsvc import: 3 new keys') or diag($out);

my $base = start_nginx(db => $db);

sub stats_json {
    my $r = http_get("$base/pks/lookup?op=stats&options=mr");
    is($r->{status}, 200, 'op=stats&options=mr: 200');
    my $j = eval { JSON::PP->new->utf8->decode($r->{content}) };
    ok($j, 'the JSON parses') or diag("$@\n$r->{content}");
    return $j // {};
}

sub stats_html {
    my $r = http_get("$base/pks/lookup?op=stats");
    is($r->{status}, 200, 'op=stats: 200');
    return $r->{content};
}

sub iso_time { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# The rows of one histogram table: [[time, new, updated], ...] after the
# header row (which is checked).
sub html_rows {
    my ($html, $title) = @_;
    my ($t) = $html =~ m{<h3>\Q$title\E Histogram</h3>\s*<table border="1">(.*?)</table>}s;
    ok(defined $t, "HTML has the $title Histogram table") or return [];
    my @tr = $t =~ m{<tr>(.*?)</tr>}gs;
    my $head = shift @tr // '';
    is($head, '<td>Time</td><td>New Keys</td><td>Updated Keys</td>', "$title: header row");
    return [ map { [ m{^<td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td>$} ] } @tr ];
}

# Checks the shape of a JSON array: $n rows, newest first, consecutive
# periods of $step seconds, the first one holding $now; returns
# (inserted, updated) summed over the rows whose period ends after $since.
sub check_json {
    my ($rows, $what, $n, $step, $now, $since) = @_;
    is(ref $rows, 'ARRAY', "JSON $what is an array") or return (0, 0);
    is(scalar @$rows, $n, "JSON $what has $n rows");
    my $start = $now - $now % $step;
    my @want = map { iso_time($start - $_ * $step) } 0 .. $n - 1;
    is_deeply([ map { $_->{Time} } @$rows ], \@want, "JSON $what: newest first, every $step s");
    my $fields = grep {
        (join ',', sort keys %$_) eq 'Inserted,Removed,Time,Updated'
            && $_->{Inserted} =~ /^\d+$/ && $_->{Updated} =~ /^\d+$/ && $_->{Removed} eq '0'
    } @$rows;
    is($fields, $n, "JSON $what: every row has Time, Inserted, Updated, Removed 0");
    my ($ins, $upd, @before) = (0, 0);
    for my $i (0 .. $#$rows) {
        my $end = $start - $i * $step + $step;
        if ($end > $since) {
            $ins += $rows->[$i]{Inserted};
            $upd += $rows->[$i]{Updated};
        } elsif ($rows->[$i]{Inserted} || $rows->[$i]{Updated}) {
            push @before, $rows->[$i]{Time};
        }
    }
    is("@before", '', "JSON $what: rows before the test are 0");
    return ($ins, $upd);
}

# JSON and HTML against the expected counts since $T0.
sub check_stats {
    my ($label, $want_new, $want_upd) = @_;
    my ($j, $html, $t1, $t2);
    for my $try (1 .. 3) {        # JSON and HTML from the same hour
        $t1 = time;
        $j = stats_json();
        $html = stats_html();
        $t2 = time;
        last if int($t1 / 3600) == int($t2 / 3600);
    }
    my $nowt = _parse_iso($j->{now} // '');
    ok($nowt >= $t1 && $nowt <= $t2, "$label: JSON now ($j->{now}) is the request time");

    my ($hi, $hu) = check_json($j->{hourly}, 'hourly', 24, 3600, $nowt, $T0);
    is("$hi/$hu", "$want_new/$want_upd", "$label: hourly rows since the start: $want_new new, $want_upd updated");
    my ($di, $du) = check_json($j->{daily}, 'daily', 7, 86400, $nowt, $T0);
    is("$di/$du", "$want_new/$want_upd", "$label: daily rows since the start: $want_new new, $want_upd updated");

    my $hh = html_rows($html, 'Hourly');
    is_deeply($hh, [ map { [ strftime('%Y-%m-%d %H', gmtime _parse_iso($_->{Time})),
                             $_->{Inserted}, $_->{Updated} ] } @{ $j->{hourly} // [] } ],
              "$label: HTML Hourly rows = JSON hourly") or diag($html);
    my $dd = html_rows($html, 'Daily');
    is_deeply($dd, [ map { [ strftime('%Y-%m-%d', gmtime _parse_iso($_->{Time})),
                             $_->{Inserted}, $_->{Updated} ] } @{ $j->{daily} // [] } ],
              "$label: HTML Daily rows = JSON daily") or diag($html);
    my $hour = strftime('%Y-%m-%d %H', gmtime $nowt);
    like($html, qr{<tr><td>\Q$hour\E</td><td>\d+</td><td>\d+</td></tr>},
         "$label: HTML Hourly has the current hour ($hour)");
}

sub _parse_iso {
    my ($s) = @_;
    my ($Y, $m, $d, $H, $M, $S) = $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/ or return 0;
    return timegm($S, $M, $H, $d, $m - 1, $Y);
}

sub curl_add {
    my ($file) = @_;
    my $r = run_cmd(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
                     '--data-urlencode', "keytext\@$file", "$base/pks/add"], timeout => 60);
    return $r->{out};
}

check_stats('after the import', 3, 0);

is(curl_add("$DATA/k4-ed25519.asc"), '200', 'curl POST /pks/add k4 (new): 200');
check_stats('after a new key', 4, 0);

is(curl_add("$DATA/k3-ed25519.asc"), '200', 'curl POST /pks/add k3-ed25519 (merge): 200');
is(curl_add("$DATA/k4-ed25519.asc"), '200', 'curl POST /pks/add k4 again (unchanged): 200');
check_stats('after a merge and an unchanged key', 4, 1);

is(stats_json()->{total}, 4, 'total: 4 keys');

done_testing;
